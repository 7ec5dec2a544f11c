package urlconfig

// The types below are both the stored records and the Lambda API's JSON
// shapes: their field names are AWS's, so a record is written once and
// served as is. Optional members AWS omits when unset are pointers or carry
// omitempty.

// FunctionConfiguration is one version of a function ($LATEST or a
// published number), as GetFunctionConfiguration reports it.
type FunctionConfiguration struct {
	FunctionName               string                `json:"FunctionName"`
	FunctionArn                string                `json:"FunctionArn"`
	Runtime                    string                `json:"Runtime,omitempty"`
	Role                       string                `json:"Role"`
	Handler                    string                `json:"Handler,omitempty"`
	CodeSize                   int64                 `json:"CodeSize"`
	Description                string                `json:"Description"`
	Timeout                    int                   `json:"Timeout"`
	MemorySize                 int                   `json:"MemorySize"`
	LastModified               string                `json:"LastModified"`
	CodeSha256                 string                `json:"CodeSha256"`
	Version                    string                `json:"Version"`
	VpcConfig                  *VpcConfigResponse    `json:"VpcConfig,omitempty"`
	DeadLetterConfig           *DeadLetterConfig     `json:"DeadLetterConfig,omitempty"`
	Environment                *EnvironmentResponse  `json:"Environment,omitempty"`
	KMSKeyArn                  string                `json:"KMSKeyArn,omitempty"`
	TracingConfig              *TracingConfig        `json:"TracingConfig,omitempty"`
	MasterArn                  string                `json:"MasterArn,omitempty"`
	RevisionId                 string                `json:"RevisionId"`
	Layers                     []LayerReference      `json:"Layers,omitempty"`
	State                      string                `json:"State,omitempty"`
	StateReason                string                `json:"StateReason,omitempty"`
	StateReasonCode            string                `json:"StateReasonCode,omitempty"`
	LastUpdateStatus           string                `json:"LastUpdateStatus,omitempty"`
	LastUpdateStatusReason     string                `json:"LastUpdateStatusReason,omitempty"`
	LastUpdateStatusReasonCode string                `json:"LastUpdateStatusReasonCode,omitempty"`
	FileSystemConfigs          []FileSystemConfig    `json:"FileSystemConfigs,omitempty"`
	PackageType                string                `json:"PackageType"`
	ImageConfigResponse        *ImageConfigResponse  `json:"ImageConfigResponse,omitempty"`
	Architectures              []string              `json:"Architectures"`
	EphemeralStorage           *EphemeralStorage     `json:"EphemeralStorage,omitempty"`
	SnapStart                  *SnapStartResponse    `json:"SnapStart,omitempty"`
	RuntimeVersionConfig       *RuntimeVersionConfig `json:"RuntimeVersionConfig,omitempty"`
	LoggingConfig              *LoggingConfig        `json:"LoggingConfig,omitempty"`
}

// storedConfig is how a FunctionConfiguration is kept: the API shape plus
// the fields furl needs that the API does not show.
type storedConfig struct {
	FunctionConfiguration
	// CodeHash is the hex SHA-256 of a Zip function's code, "" for an
	// Image function.
	CodeHash     string `json:"furl:CodeHash"`
	UnzippedSize int64  `json:"furl:UnzippedSize"`
	// ImageUri and ResolvedImageUri are an Image function's code, as
	// GetFunction reports it: the image as given, and pinned to the digest
	// it had when it was set.
	ImageUri         string `json:"furl:ImageUri,omitempty"`
	ResolvedImageUri string `json:"furl:ResolvedImageUri,omitempty"`
	// HotReloadDir is the absolute host folder a hot-reload function runs
	// its code from (see HotReloadBucket), "" for a zip or an image.
	HotReloadDir string `json:"furl:HotReloadDir,omitempty"`
	// LayerHashes are the hex SHA-256s of the zips of Layers, in order;
	// the configuration holds a code reference on each. LayersUnzippedSize
	// is their total unzipped size.
	LayerHashes        []string `json:"furl:LayerHashes,omitempty"`
	LayersUnzippedSize int64    `json:"furl:LayersUnzippedSize,omitempty"`
}

type VpcConfig struct {
	SubnetIds               []string `json:"SubnetIds"`
	SecurityGroupIds        []string `json:"SecurityGroupIds"`
	Ipv6AllowedForDualStack *bool    `json:"Ipv6AllowedForDualStack,omitempty"`
}

type VpcConfigResponse struct {
	SubnetIds               []string `json:"SubnetIds"`
	SecurityGroupIds        []string `json:"SecurityGroupIds"`
	VpcId                   string   `json:"VpcId"`
	Ipv6AllowedForDualStack bool     `json:"Ipv6AllowedForDualStack"`
}

type DeadLetterConfig struct {
	TargetArn string `json:"TargetArn,omitempty"`
}

type Environment struct {
	Variables map[string]string `json:"Variables"`
}

type EnvironmentResponse struct {
	Variables map[string]string `json:"Variables"`
}

type TracingConfig struct {
	Mode string `json:"Mode,omitempty"`
}

type LayerReference struct {
	Arn      string `json:"Arn"`
	CodeSize int64  `json:"CodeSize"`
}

type FileSystemConfig struct {
	Arn            string `json:"Arn"`
	LocalMountPath string `json:"LocalMountPath"`
}

type ImageConfig struct {
	EntryPoint       []string `json:"EntryPoint,omitempty"`
	Command          []string `json:"Command,omitempty"`
	WorkingDirectory string   `json:"WorkingDirectory,omitempty"`
}

type ImageConfigResponse struct {
	ImageConfig *ImageConfig `json:"ImageConfig,omitempty"`
}

type EphemeralStorage struct {
	Size *int `json:"Size"`
}

type SnapStart struct {
	ApplyOn string `json:"ApplyOn,omitempty"`
}

type SnapStartResponse struct {
	ApplyOn            string `json:"ApplyOn"`
	OptimizationStatus string `json:"OptimizationStatus"`
}

type RuntimeVersionConfig struct {
	RuntimeVersionArn string `json:"RuntimeVersionArn,omitempty"`
}

type LoggingConfig struct {
	LogFormat           string `json:"LogFormat,omitempty"`
	ApplicationLogLevel string `json:"ApplicationLogLevel,omitempty"`
	SystemLogLevel      string `json:"SystemLogLevel,omitempty"`
	LogGroup            string `json:"LogGroup,omitempty"`
}

// FunctionCode is the Code member of CreateFunction.
type FunctionCode struct {
	ZipFile         []byte  `json:"ZipFile,omitempty"`
	S3Bucket        *string `json:"S3Bucket,omitempty"`
	S3Key           *string `json:"S3Key,omitempty"`
	S3ObjectVersion *string `json:"S3ObjectVersion,omitempty"`
	ImageUri        *string `json:"ImageUri,omitempty"`
	SourceKMSKeyArn *string `json:"SourceKMSKeyArn,omitempty"`

	// Upload, when set, is the zip the gateway received for ZipFile and
	// takes its place. The caller closes it.
	Upload *CodeUpload `json:"-"`
}

// FunctionCodeLocation is GetFunction's Code member: a Location of the
// zip (RepositoryType S3), or the image (RepositoryType ECR).
type FunctionCodeLocation struct {
	RepositoryType   string `json:"RepositoryType"`
	Location         string `json:"Location,omitempty"`
	ImageUri         string `json:"ImageUri,omitempty"`
	ResolvedImageUri string `json:"ResolvedImageUri,omitempty"`
}

// Concurrency is a function's reserved concurrency.
type Concurrency struct {
	ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions,omitempty"`
}

// GetFunctionOutput is GetFunction's answer. Code.Location is left for the
// caller to fill: it is an address of the HTTP server, not of the state.
type GetFunctionOutput struct {
	Configuration *FunctionConfiguration `json:"Configuration"`
	Code          *FunctionCodeLocation  `json:"Code"`
	Tags          map[string]string      `json:"Tags,omitempty"`
	Concurrency   *Concurrency           `json:"Concurrency,omitempty"`
}

// AliasConfiguration is an alias as the alias operations report it.
type AliasConfiguration struct {
	AliasArn        string                     `json:"AliasArn"`
	Name            string                     `json:"Name"`
	FunctionVersion string                     `json:"FunctionVersion"`
	Description     string                     `json:"Description"`
	RoutingConfig   *AliasRoutingConfiguration `json:"RoutingConfig,omitempty"`
	RevisionId      string                     `json:"RevisionId"`
}

type AliasRoutingConfiguration struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights,omitempty"`
}

// Cors is a function URL's CORS configuration.
type Cors struct {
	AllowCredentials *bool    `json:"AllowCredentials,omitempty"`
	AllowHeaders     []string `json:"AllowHeaders,omitempty"`
	AllowMethods     []string `json:"AllowMethods,omitempty"`
	AllowOrigins     []string `json:"AllowOrigins,omitempty"`
	ExposeHeaders    []string `json:"ExposeHeaders,omitempty"`
	MaxAge           *int     `json:"MaxAge,omitempty"`
}

// Auth types and invoke modes of function URLs.
const (
	AuthTypeNone   = "NONE"
	AuthTypeAWSIAM = "AWS_IAM"

	InvokeModeBuffered       = "BUFFERED"
	InvokeModeResponseStream = "RESPONSE_STREAM"
)
