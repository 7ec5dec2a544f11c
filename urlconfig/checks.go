package urlconfig

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Lambda's function settings: defaults and limits.
const (
	defaultTimeout          = 3
	defaultMemorySize       = 128
	defaultEphemeralStorage = 512
	maxTimeout              = 900
	maxMemorySize           = 10240
	maxEphemeralStorage     = 10240
	maxEnvironmentBytes     = 4096
	maxTags                 = 50
)

// runtimes is the model's Runtime enum.
var runtimes = []string{"nodejs", "nodejs4.3", "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x", "java8", "java8.al2", "java11", "python2.7", "python3.6", "python3.7", "python3.8", "python3.9", "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "dotnet6", "dotnet8", "nodejs4.3-edge", "go1.x", "ruby2.5", "ruby2.7", "provided", "provided.al2", "nodejs18.x", "python3.10", "java17", "ruby3.2", "ruby3.3", "ruby3.4", "python3.11", "nodejs20.x", "provided.al2023", "python3.12", "java21", "python3.13", "nodejs22.x", "nodejs24.x", "python3.14", "java25", "dotnet10", "ruby4.0"}

// creatableRuntimes are the runtimes AWS still accepts for new or updated
// functions, in the order AWS lists them in its error message (recorded
// January 2026).
var creatableRuntimes = []string{"nodejs20.x", "python3.14", "provided.al2023", "python3.12", "python3.13", "nodejs24.x", "nodejs22.x", "java25", "python3.10", "python3.11", "java21", "ruby3.3", "ruby3.4", "ruby3.2", "python3.8", "python3.9", "java17", "nodejs16.x", "dotnet10", "dotnet8", "java11", "dotnet6", "nodejs18.x", "provided.al2", "java8.al2"}

// alsoCreatable are accepted beyond that list: ruby4.0 arrived after the
// recording; provided is blocked by AWS, but furl keeps it so that old
// custom runtimes can still be run locally.
var alsoCreatable = []string{"ruby4.0", "provided"}

var (
	architectures  = []string{"x86_64", "arm64"}
	packageTypes   = []string{"Zip", "Image"}
	tracingModes   = []string{"Active", "PassThrough"}
	logFormats     = []string{"JSON", "Text"}
	appLogLevels   = []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
	sysLogLevels   = []string{"DEBUG", "INFO", "WARN"}
	snapStartApply = []string{"PublishedVersions", "None"}
	envKeyPattern  = lazyRegexp(`^[a-zA-Z]([a-zA-Z0-9_])+$`)
	tagKeyPattern  = lazyRegexp(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

// reservedEnvKeys are the variables Lambda sets itself and refuses to let a
// function configure.
var reservedEnvKeys = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_DEFAULT_REGION": true, "AWS_REGION": true,
	"AWS_EXECUTION_ENV": true, "AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true, "AWS_LAMBDA_LOG_GROUP_NAME": true,
	"AWS_LAMBDA_LOG_STREAM_NAME": true, "AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true,
	"AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true, "AWS_LAMBDA_RUNTIME_API": true,
	"LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true,
}

// checkRuntime refuses unknown and deprecated runtimes the way AWS does.
func checkRuntime(runtime string) error {
	if slices.Contains(creatableRuntimes, runtime) || slices.Contains(alsoCreatable, runtime) {
		return nil
	}
	if slices.Contains(runtimes, runtime) {
		return invalidParam("The runtime parameter of %s is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.", runtime)
	}
	return invalidParam("Value %s at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [%s] or be a valid ARN",
		runtime, strings.Join(creatableRuntimes, ", "))
}

// checkZipRuntime applies the rules for a Zip function's runtime and
// handler, both of which it needs.
func checkZipRuntime(runtime, handler string) error {
	if runtime == "" || handler == "" {
		return invalidParam("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
	}
	return checkRuntime(runtime)
}

// checkLimits applies the service's limits that the model leaves open.
func checkLimits(timeout, memory *int, storage *EphemeralStorage) error {
	var v violations
	v.intRange("timeout", timeout, 1, maxTimeout)
	v.intRange("memorySize", memory, 128, maxMemorySize)
	if storage != nil {
		v.intRange("ephemeralStorage.size", storage.Size, 512, maxEphemeralStorage)
	}
	return v.err()
}

func checkArchitectures(v *violations, archs []string) {
	if archs == nil {
		return
	}
	switch {
	case len(archs) > 1:
		v.add(quote("["+strings.Join(archs, ", ")+"]"), "architectures", "Member must have length less than or equal to 1")
		return
	case len(archs) == 0:
		v.add(quote("[]"), "architectures", "Member must have length greater than or equal to 1")
		return
	}
	if !slices.Contains(architectures, archs[0]) {
		v.add(quote("["+archs[0]+"]"), "architectures", "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]")
	}
}

// configChecks are the model constraints shared by CreateFunction and
// UpdateFunctionConfiguration.
type configChecks struct {
	Role             *string
	Handler          *string
	Description      *string
	Timeout          *int
	MemorySize       *int
	KMSKeyArn        *string
	TracingConfig    *TracingConfig
	EphemeralStorage *EphemeralStorage
	LoggingConfig    *LoggingConfig
	SnapStart        *SnapStart
	DeadLetterConfig *DeadLetterConfig
	Layers           []string
	FileSystems      []FileSystemConfig
	VpcConfig        *VpcConfig
	ImageConfig      *ImageConfig
}

func (c configChecks) check(v *violations) {
	v.optStr("role", c.Role, 0, -1, &patRole)
	v.optStr("handler", c.Handler, 0, 128, &patHandler)
	v.optStr("description", c.Description, 0, 256, nil)
	v.intRange("timeout", c.Timeout, 1, -1)
	v.intRange("memorySize", c.MemorySize, 128, 32768)
	v.optStr("kMSKeyArn", c.KMSKeyArn, 0, -1, &patKMSKeyArn)
	if c.TracingConfig != nil && c.TracingConfig.Mode != "" {
		v.enum("tracingConfig.mode", &c.TracingConfig.Mode, tracingModes)
	}
	if c.EphemeralStorage != nil {
		if c.EphemeralStorage.Size == nil {
			v.required("ephemeralStorage.size")
		} else {
			v.intRange("ephemeralStorage.size", c.EphemeralStorage.Size, 512, maxEphemeralStorage)
		}
	}
	if l := c.LoggingConfig; l != nil {
		if l.LogFormat != "" {
			v.enum("loggingConfig.logFormat", &l.LogFormat, logFormats)
		}
		if l.ApplicationLogLevel != "" {
			v.enum("loggingConfig.applicationLogLevel", &l.ApplicationLogLevel, appLogLevels)
		}
		if l.SystemLogLevel != "" {
			v.enum("loggingConfig.systemLogLevel", &l.SystemLogLevel, sysLogLevels)
		}
		if l.LogGroup != "" {
			v.str("loggingConfig.logGroup", l.LogGroup, 1, 512, &patLogGroup)
		}
	}
	if c.SnapStart != nil && c.SnapStart.ApplyOn != "" {
		v.enum("snapStart.applyOn", &c.SnapStart.ApplyOn, snapStartApply)
	}
	if c.DeadLetterConfig != nil {
		v.str("deadLetterConfig.targetArn", c.DeadLetterConfig.TargetArn, 0, -1, &patResourceArn)
	}
	for _, l := range c.Layers {
		v.str("layers.member", l, 1, 140, &patLayerVersionArn)
	}
	if len(c.FileSystems) > 1 {
		v.add(quote(fmt.Sprint(c.FileSystems)), "fileSystemConfigs", "Member must have length less than or equal to 1")
	}
	if c.VpcConfig != nil {
		v.list("vpcConfig.subnetIds", c.VpcConfig.SubnetIds, 16, 0, 1024)
		v.list("vpcConfig.securityGroupIds", c.VpcConfig.SecurityGroupIds, 5, 0, 1024)
	}
	checkImageConfig(v, c.ImageConfig)
}

// checkImageCode applies the rules of an Image function's create: its
// code is an image, named by ImageUri, and it has none of the settings of
// a managed runtime.
func checkImageCode(in *CreateFunctionInput) error {
	if in.Runtime != nil || in.Handler != nil || len(in.Layers) > 0 {
		return invalidParam("%s", imageOnlyMessage)
	}
	c := in.Code
	if c.ZipFile != nil || c.Upload != nil || c.S3Bucket != nil || c.S3Key != nil || c.S3ObjectVersion != nil {
		return invalidParam("Please don't provide ZipFile or S3Bucket or S3Key or S3ObjectVersion when the intended function PackageType is Image.")
	}
	if c.ImageUri == nil || *c.ImageUri == "" {
		return invalidParam("Please provide ImageUri when the intended function PackageType is Image.")
	}
	return nil
}

// checkEnvironment applies Lambda's rules on environment variables: key
// syntax, reserved keys, and the 4 KB limit on the whole set as compact
// JSON.
func checkEnvironment(env *Environment) error {
	if env == nil {
		return nil
	}
	keys := make([]string, 0, len(env.Variables))
	for k := range env.Variables {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var reserved []string
	for _, k := range keys {
		if !envKeyPattern().MatchString(k) {
			var v violations
			v.add("'[SENSITIVE]'", "environment.variables", "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]")
			return v.err()
		}
		if reservedEnvKeys[k] {
			reserved = append(reserved, k)
		}
	}
	if len(reserved) > 0 {
		return invalidParam("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", strings.Join(reserved, ", "))
	}
	raw, err := json.Marshal(env.Variables)
	if err != nil {
		return fmt.Errorf("measure environment: %w", err)
	}
	if len(raw) > maxEnvironmentBytes {
		return invalidParam("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %s", raw)
	}
	return nil
}

// checkRunnable refuses the settings that reach a runtime's environment
// and that no process can be started with: the operating system ends every
// environment string at a NUL byte, so a handler or a variable value
// holding one would make every start of the function fail. (Variable names
// have a pattern; the other settings a runtime sees have patterns or enums.)
func checkRunnable(handler *string, env *Environment) error {
	if handler != nil && strings.IndexByte(*handler, 0) >= 0 {
		return invalidParam("The handler must not contain a NUL character (\\u0000): no runtime can be started with it.")
	}
	if env == nil {
		return nil
	}
	keys := make([]string, 0, len(env.Variables))
	for k, v := range env.Variables {
		if strings.IndexByte(v, 0) >= 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		sort.Strings(keys)
		return invalidParam("Lambda was unable to configure your environment variables because the values of these variables contain a NUL character (\\u0000), which no process environment can hold: %s", strings.Join(keys, ", "))
	}
	return nil
}

// checkTags applies the tagging rules to tags being added to a function
// that already has existing ones.
func checkTags(existing, add map[string]string) error {
	var v violations
	keys := make([]string, 0, len(add))
	for k := range add {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if n := len([]rune(k)); n < 1 || n > 128 || !tagKeyPattern().MatchString(k) {
			v.add(quote(k), "tags.key", "Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: ^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*$]")
		}
		if n := len([]rune(add[k])); n > 256 {
			v.add(quote(add[k]), "tags.value", "Member must have length less than or equal to 256")
		}
	}
	if err := v.err(); err != nil {
		return err
	}
	for _, k := range keys {
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return invalidParam("Tag keys prefixed with 'aws:' are reserved for AWS use.")
		}
	}
	total := len(existing)
	for k := range add {
		if _, ok := existing[k]; !ok {
			total++
		}
	}
	if total > maxTags {
		return invalidParam("Number of tags exceeds resource tag limit.")
	}
	return nil
}
