// Package runtimeapi runs functions the way Lambda does: each execution
// environment holds one runtime process that pulls events from its own
// Lambda Runtime API (2018-06-01) and posts results back. A pool per
// function version reuses warm environments, starts more when all are busy,
// reaps idle ones and retires stale ones. Invoke, InvokeWithResponseStream
// and function URLs all come through Manager.Invoke.
package runtimeapi

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Function is what an environment runs: one version of a function.
type Function struct {
	Name    string
	Version string // "$LATEST" or a number
	// Region and AccountID place the function.
	Region    string
	AccountID string
	// PackageType is "Zip" (or "") for code on a managed runtime, "Image"
	// for a container image: Runtime and Handler are then empty and
	// Image says what runs.
	PackageType string
	Runtime     string
	Handler     string
	Image       Image
	MemoryMB    int
	Timeout     time.Duration
	// EphemeralStorageMB sizes /tmp where a sandbox can; zero means 512.
	EphemeralStorageMB int
	// Environment is the function's own variables.
	Environment map[string]string
	// Architecture is "x86_64" or "arm64"; the process sandbox runs on the
	// host's, whatever it says.
	Architecture string
	// LogGroup is where the function's logs would go on AWS.
	LogGroup string
	// RuntimeVersionARN is reported in the INIT_START log line.
	RuntimeVersionARN string
	// CodeHash names the code (hex SHA-256 of the zip); CodePath is the zip.
	CodeHash string
	CodePath string
	// CodeDir, when set, is a host folder the function runs its code
	// from instead of a zip (hot reload): sandboxes use it as the task
	// root as it is, read-only, and Manager.Invoke starts fresh
	// environments whenever what is in it changed since the last
	// invocation. CodeHash and CodePath are then empty.
	CodeDir string
	// Layers are the function's layers in the order they are merged into
	// /opt: a later layer's file replaces an earlier one's. Empty for an
	// Image function (its image is its whole filesystem).
	Layers []Layer
	// Fingerprint changes whenever anything above changes; environments
	// made for another fingerprint are retired.
	Fingerprint string

	// hotBase is Fingerprint before the folder's generation hotGen was
	// added to it (hot reload only).
	hotBase string
	hotGen  uint64
}

// Layer is one layer version a function uses: its content is a zip,
// stored by the store like code and named by its hash.
type Layer struct {
	// ARN is the layer version's ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:N).
	ARN string
	// CodeHash is the hex SHA-256 of the zip; CodePath is the zip.
	CodeHash string
	CodePath string
}

// Image is the container image an Image function runs, with the
// overrides of its ImageConfig (nil or empty: the image's own).
type Image struct {
	URI              string
	EntryPoint       []string
	Command          []string
	WorkingDirectory string
}

// Invocation is one request to run a function.
type Invocation struct {
	Function Function
	// InvokedARN is the ARN as the caller named the function.
	InvokedARN string
	// RequestID is the Lambda request id (a UUID).
	RequestID string
	Payload   []byte
	// ClientContext is the decoded client context JSON, or "".
	ClientContext string
	// CognitoIdentity is the identity JSON, or "".
	CognitoIdentity string
	// TraceID is the X-Ray trace header value.
	TraceID string
	// Streaming says the caller relays the response as it comes: the
	// streaming size cap applies instead of the buffered 6 MB one.
	Streaming bool
	// Reserved is the function's reserved concurrency, nil for none: its
	// executions in flight, all versions together, may not exceed it.
	// Without one, the function shares Unreserved executions with every
	// other function without one (zero: the Manager's MaxEnvironments;
	// negative: none).
	Reserved   *int
	Unreserved int
	// Rated says the invocation draws on its reservation's request rate
	// (10 a second per reserved execution): synchronous invocations do;
	// queued Event invocations, which AWS paces itself, do not.
	Rated bool
}

// FunctionError is how an invocation failed: the error type AWS reports and
// the JSON payload an Invoke caller receives.
type FunctionError struct {
	Type    string
	Payload []byte
}

func (e *FunctionError) Error() string { return e.Type + ": " + string(e.Payload) }

// errorPayload is the JSON body of an error furl reports itself, in the
// shape runtimes post: errorMessage, then errorType.
func errorPayload(typ, msg string) []byte {
	raw, _ := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{msg, typ})
	return raw
}

func newFunctionError(typ, msg string) *FunctionError {
	return &FunctionError{Type: typ, Payload: errorPayload(typ, msg)}
}

// Result is an invocation under way: Body yields the bytes of the
// function's response as the runtime sends them. After Body ends, Wait
// says whether the invocation failed (a returned error, a mid-stream error,
// a timeout, a crash). Close the Body when done with it; closing early
// stops the copy but not the function.
type Result struct {
	// ContentType is the runtime's Content-Type for its response.
	ContentType string
	// ExecutedVersion is the version that ran.
	ExecutedVersion string
	Body            io.ReadCloser
	call            *call
}

// Wait blocks until the invocation's outcome is known and returns its
// error, if any. It does not wait for the invocation's closing log lines
// (END, REPORT): LogTail does.
func (r *Result) Wait() *FunctionError {
	<-r.call.settled
	return r.call.err
}

// LogTail waits until the invocation is over and returns its log (START
// to REPORT, with what the function printed), at most the last n bytes.
func (r *Result) LogTail(n int) []byte {
	<-r.call.done
	return r.call.log.tail(n)
}

// invocationLog keeps what one invocation logged, bounded.
type invocationLog struct {
	mu  sync.Mutex
	buf []byte
}

// maxInvocationLog bounds what furl keeps of one invocation's log.
const maxInvocationLog = 64 << 10

func (l *invocationLog) add(line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, line...)
	l.buf = append(l.buf, '\n')
	if over := len(l.buf) - maxInvocationLog; over > 0 {
		l.buf = append(l.buf[:0], l.buf[over:]...)
	}
}

// addRaw appends lines already ending in newlines.
func (l *invocationLog) addRaw(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
}

func (l *invocationLog) tail(n int) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return append([]byte(nil), b...)
}
