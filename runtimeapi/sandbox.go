package runtimeapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"sort"
	"strconv"
	"time"
)

// Sandbox starts the runtime of an execution environment. It is given
// what the environment is (its function, code and Runtime API) and decides
// itself where code appears to the runtime: the process sandbox runs it in
// the extracted directory on the host, a container sandbox mounts that
// directory at /var/task.
type Sandbox interface {
	// ListenHost is the host address the environment's Runtime API listens
	// on; the sandbox makes it reachable from inside: 127.0.0.1 for host
	// processes and host-network containers.
	ListenHost() string
	// Start starts the runtime. A *StartError is an init failure the
	// invoker sees (say, a missing bootstrap); any other error is furl's
	// own failure.
	Start(ctx context.Context, spec Spec) (Process, error)
}

// Spec is what a sandbox needs to start one runtime.
type Spec struct {
	Function Function
	// Code is the host directory that holds the extracted deployment
	// package: read-only, and shared by every environment that runs the
	// same code. Empty for PackageType Image functions, whose code is
	// their image.
	Code string
	// Opt is the host directory that holds the function's layers merged
	// in order, which the runtime sees as /opt: read-only and shared like
	// Code. Empty when the function has no layers.
	Opt string
	// RuntimeAPI is the host:port the environment's Runtime API listens
	// on, as furl sees it. The sandbox tells the runtime how to reach it
	// (AWS_LAMBDA_RUNTIME_API).
	RuntimeAPI string
	// Endpoint is furl's Lambda API as seen from the host
	// (http://127.0.0.1:4580), given to functions as
	// AWS_ENDPOINT_URL_LAMBDA so that the SDK calls they make reach furl;
	// empty for none.
	Endpoint string
	// LogStream is the environment's log stream name.
	LogStream string
	// Output receives everything the runtime writes to stdout and stderr.
	Output io.Writer
	// InitNote, called by a sandbox before it starts the runtime, puts a
	// note in the environment's INIT_START line: what the runtime really
	// runs on, when that is not what its identifier names. Without a
	// call, the line has none.
	InitNote func(note string)
}

// Paths are where a sandbox puts what the runtime needs, as the runtime
// sees them.
type Paths struct {
	// TaskRoot holds the function's code (LAMBDA_TASK_ROOT).
	TaskRoot string
	// RuntimeDir holds the runtime (LAMBDA_RUNTIME_DIR), or "".
	RuntimeDir string
	// RuntimeAPI is host:port of the Runtime API.
	RuntimeAPI string
	// Endpoint is furl's Lambda API URL, or "".
	Endpoint string
	// Path is PATH, or "" for a default that suits host processes.
	Path string
	// LibraryPath is LD_LIBRARY_PATH, or "" for none.
	LibraryPath string
}

// Environ is the environment Lambda gives the runtime, laid out by the
// sandbox as p says: Lambda's reserved variables, then the function's own.
func (s Spec) Environ(p Paths) []string {
	return lambdaEnv(s.Function, p, s.LogStream)
}

// NewLogStream names an environment's log stream as Lambda does: the
// date, the version and a random suffix.
func NewLogStream(fn Function, now time.Time) string {
	var suffix [16]byte
	rand.Read(suffix[:])
	return now.UTC().Format("2006/01/02") + "/[" + fn.Version + "]" + hex.EncodeToString(suffix[:])
}

// StartError is a runtime that cannot start, reported to the invoker as
// Lambda reports it: Type is the error type (Runtime.InvalidEntrypoint),
// Message follows "RequestId: <id> Error: ".
type StartError struct {
	Type    string
	Message string
}

func (e *StartError) Error() string { return e.Type + ": " + e.Message }

// Process is a started runtime.
type Process interface {
	// Done is closed when the process has exited; Err then says how.
	Done() <-chan struct{}
	Err() error
	// Kill ends the process and everything it started.
	Kill()
	// MaxMemoryMB is the most memory the process has used, or 0 if unknown.
	MaxMemoryMB() int
	// Quiet waits until everything the process wrote so far has reached
	// Output, but no longer than within. It asks for no timer when
	// nothing is left to read, as at the end of most invocations.
	Quiet(within time.Duration)
	// Peer says whether a connection to the environment's Runtime API
	// comes from the environment: its runtime or a process the runtime
	// started. The error says why not. The Runtime API answers nothing else.
	Peer(conn net.Conn) error
}

// ExecutionEnv is AWS_EXECUTION_ENV for a runtime: empty for OS-only
// runtimes, which AWS does not set it for.
func ExecutionEnv(runtime string) string {
	switch runtime {
	case "provided", "provided.al2", "provided.al2023":
		return ""
	}
	return "AWS_Lambda_" + runtime
}

// lambdaEnv builds the environment Lambda gives a runtime: its reserved
// variables, then the function's own. Functions get the account's
// credentials and furl's endpoint, so that an SDK inside calls furl, not
// AWS.
func lambdaEnv(fn Function, p Paths, logStream string) []string {
	vars := map[string]string{
		"_HANDLER":                        fn.Handler,
		"AWS_REGION":                      fn.Region,
		"AWS_DEFAULT_REGION":              fn.Region,
		"AWS_LAMBDA_FUNCTION_NAME":        fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     fn.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(fn.MemoryMB),
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME":       fn.LogGroup,
		"AWS_LAMBDA_LOG_STREAM_NAME":      logStream,
		"AWS_LAMBDA_RUNTIME_API":          p.RuntimeAPI,
		"AWS_ACCESS_KEY_ID":               "test",
		"AWS_SECRET_ACCESS_KEY":           "test",
		"LAMBDA_TASK_ROOT":                p.TaskRoot,
		"LAMBDA_RUNTIME_DIR":              p.RuntimeDir,
		"TZ":                              ":UTC",
		"LANG":                            "en_US.UTF-8",
		"PATH":                            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	}
	if p.Endpoint != "" {
		vars["AWS_ENDPOINT_URL_LAMBDA"] = p.Endpoint
	}
	if p.Path != "" {
		vars["PATH"] = p.Path
	}
	if p.LibraryPath != "" {
		vars["LD_LIBRARY_PATH"] = p.LibraryPath
	}
	if fn.PackageType == "Image" {
		// An image's runtime is whatever the image holds.
		delete(vars, "_HANDLER")
	} else if e := ExecutionEnv(fn.Runtime); e != "" {
		vars["AWS_EXECUTION_ENV"] = e
	}
	for k, v := range fn.Environment {
		vars[k] = v
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}
