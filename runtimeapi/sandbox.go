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

// Sandbox starts the runtime process of an execution environment. The
// process sandbox runs it on the host; a container sandbox fits the same
// seam.
type Sandbox interface {
	// ListenHost is the address the environment's Runtime API listens on,
	// reachable from inside the sandbox: 127.0.0.1 for host processes.
	ListenHost() string
	// Start starts the runtime. A *StartError is an init failure the
	// invoker sees (say, a missing bootstrap); any other error is furl's
	// own failure.
	Start(ctx context.Context, spec Spec) (Process, error)
}

// Spec is what a sandbox needs to start one runtime.
type Spec struct {
	Function Function
	// CodeDir is the extracted deployment package.
	CodeDir string
	// RuntimeAPI is the host:port the runtime reaches the Runtime API at.
	RuntimeAPI string
	// Env is Lambda's environment for the runtime, as KEY=value.
	Env []string
	// Output receives everything the process writes to stdout and stderr.
	Output io.Writer
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
	// Output, or until ctx ends.
	Quiet(ctx context.Context)
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
// variables, then the function's own.
func lambdaEnv(fn Function, runtimeAPI, taskRoot, runtimeDir string, now time.Time) []string {
	var suffix [16]byte
	rand.Read(suffix[:])
	vars := map[string]string{
		"_HANDLER":                        fn.Handler,
		"AWS_REGION":                      fn.Region,
		"AWS_DEFAULT_REGION":              fn.Region,
		"AWS_LAMBDA_FUNCTION_NAME":        fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     fn.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(fn.MemoryMB),
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME":       fn.LogGroup,
		"AWS_LAMBDA_LOG_STREAM_NAME":      now.UTC().Format("2006/01/02") + "/[" + fn.Version + "]" + hex.EncodeToString(suffix[:]),
		"AWS_LAMBDA_RUNTIME_API":          runtimeAPI,
		"AWS_ACCESS_KEY_ID":               "test",
		"AWS_SECRET_ACCESS_KEY":           "test",
		"LAMBDA_TASK_ROOT":                taskRoot,
		"LAMBDA_RUNTIME_DIR":              runtimeDir,
		"TZ":                              ":UTC",
		"LANG":                            "en_US.UTF-8",
		"PATH":                            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	}
	if e := ExecutionEnv(fn.Runtime); e != "" {
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
