// Package process is furl's default sandbox: it runs each execution
// environment's runtime as a process on the host, under a supervisor that
// ends everything the runtime starts when the environment ends. It is not
// isolated: a function can read and write whatever furl's user can, except
// its own code, which it sees read-only. Its layers, merged, are at /opt
// where furl can make mount namespaces (as root); elsewhere only the
// search paths of Lambda's runtimes reach them. Its Runtime API answers
// only the runtime and the processes the runtime started.
package process

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/runtimeapi/bootstrap/node"
	"github.com/furl-dev/furl/runtimeapi/bootstrap/python"
	"github.com/furl-dev/furl/runtimeapi/internal/procmem"
	"github.com/furl-dev/furl/runtimeapi/internal/pump"
)

// Sandbox runs runtimes as host processes.
type Sandbox struct {
	clientsDir string
	supervisor string
	log        *slog.Logger

	once       sync.Once
	nodePath   string
	pythonPath string
	// nodeVersion and pythonVersion ask the host interpreters, once and
	// only when a function first needs them, for their versions as runtime
	// identifiers name them ("20", "3.11"); "" if unknown.
	nodeVersion   func() string
	pythonVersion func() string
	// warned holds the runtimes whose version mismatch has been logged.
	warned     sync.Map
	clientsErr error

	// runtimePaths are the interpreters named per runtime (--runtime-path).
	runtimePaths map[string]string
	// interpreters finds each runtime's interpreter once: runtime
	// identifier to a func returning an interpreter.
	interpMu     sync.Mutex
	interpreters map[string]func() interpreter

	// noReadOnly is set once a read-only task root turned out to be
	// impossible here (no right to make a mount namespace).
	noReadOnly atomic.Bool
	// optWarned is set once the layers of a function could not be
	// mounted at /opt, and that was logged.
	optWarned atomic.Bool
	// optOK says whether /opt can take the mount of a function's layers
	// (Linux, as root), as optOnce found once.
	optOnce sync.Once
	optOK   bool
}

var _ runtimeapi.Sandbox = (*Sandbox)(nil)

// Options configure a Sandbox.
type Options struct {
	// ClientsDir is where the runtime clients furl ships (for Node.js and
	// Python) are written. Required.
	ClientsDir string
	// Supervisor is the executable that supervises each environment: one
	// whose main calls RunSupervisorIfAsked. Empty means this process' own
	// executable.
	Supervisor string
	// Logger receives the sandbox's warnings. Nil means slog.Default().
	Logger *slog.Logger
	// RuntimePaths names the interpreter a runtime's functions run on, by
	// runtime identifier ("nodejs24.x": "/usr/local/bin/node24"). Other
	// runtimes run on a node24- or python3.12-style interpreter on the
	// PATH, else on the host's node or python3 (whatever its version).
	RuntimePaths map[string]string
}

// New makes a process sandbox.
func New(opts Options) *Sandbox {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Sandbox{clientsDir: opts.ClientsDir, supervisor: opts.Supervisor, log: opts.Logger,
		runtimePaths: opts.RuntimePaths, interpreters: map[string]func() interpreter{}}
}

// ListenHost is loopback: the runtime is a host process.
func (s *Sandbox) ListenHost() string { return "127.0.0.1" }

// setup writes the runtime clients and finds the host's interpreters, once.
func (s *Sandbox) setup() error {
	s.once.Do(func() {
		if err := writeClients(s.clientsDir); err != nil {
			s.clientsErr = fmt.Errorf("runtime clients: %w", err)
			return
		}
		s.nodePath, _ = exec.LookPath("node")
		s.pythonPath = findPython()
		s.nodeVersion = sync.OnceValue(func() string { return interpreterVersion(s.nodePath, nodeVersionArgs...) })
		s.pythonVersion = sync.OnceValue(func() string { return interpreterVersion(s.pythonPath, pythonVersionArgs...) })
		if s.supervisor == "" {
			exe, err := os.Executable()
			if err != nil {
				s.clientsErr = fmt.Errorf("the process sandbox cannot find its own executable to supervise environments with: %w", err)
				return
			}
			s.supervisor = exe
		}
	})
	return s.clientsErr
}

// writeClients writes the runtime clients afresh, read-only: functions
// share them, and none may change what the others run.
func writeClients(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		os.Chmod(dir, 0o700)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, content := range map[string][]byte{node.FileName: node.Client, python.FileName: python.Client} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o444); err != nil {
			return err
		}
	}
	return os.Chmod(dir, 0o555)
}

// findPython finds the host's python3 and resolves shims (pyenv's, for
// one) to the interpreter itself, which starts faster.
func findPython() string {
	p, err := exec.LookPath("python3")
	if err != nil {
		return ""
	}
	out, err := exec.Command(p, "-c", "import sys; print(sys.executable)").Output()
	if exe := strings.TrimSpace(string(out)); err == nil && exe != "" {
		return exe
	}
	return p
}

// command is how a runtime starts: the executable and its arguments.
func (s *Sandbox) command(spec runtimeapi.Spec) ([]string, error) {
	rt := spec.Function.Runtime
	if spec.Function.PackageType == "Image" {
		return nil, &runtimeapi.StartError{Type: "Runtime.InvalidEntrypoint",
			Message: "furl's process sandbox cannot run container images: run furl with --sandbox docker or auto and a Docker engine"}
	}
	switch {
	case strings.HasPrefix(rt, "provided"):
		if err := runtimeapi.CheckBootstrap(spec); err != nil {
			return nil, err
		}
		return []string{filepath.Join(spec.Code, "bootstrap")}, nil
	case strings.HasPrefix(rt, "nodejs"), strings.HasPrefix(rt, "python3"):
		in := s.interpreter(rt)
		if in.path == "" {
			return nil, &runtimeapi.StartError{Type: "Runtime.InvalidEntrypoint", Message: "furl runs " + rt + " functions with the host's " + in.name +
				", and there is no " + in.name + " on its PATH; --runtime-path " + rt + "=PATH names one"}
		}
		if in.note != "" {
			s.warnVersion(rt, in)
			if spec.InitNote != nil {
				spec.InitNote(in.note)
			}
		}
		if in.name == "node" {
			return execWrapped(spec.Function, in.path, filepath.Join(s.clientsDir, node.FileName)), nil
		}
		return execWrapped(spec.Function, in.path, "-u", filepath.Join(s.clientsDir, python.FileName)), nil
	}
	return nil, &runtimeapi.StartError{Type: "Runtime.InvalidRuntime",
		Message: "furl's process sandbox runs provided, nodejs and python functions; it cannot run " + rt}
}

// execWrapperScript is what AWS's managed runtimes' bootstrap does with
// AWS_LAMBDA_EXEC_WRAPPER: the wrapper runs with the runtime's command as
// its arguments; one that is missing or not executable ends the runtime
// with 127 or 126, which Lambda reports as Runtime.ExitError.
const execWrapperScript = `wrapper=$AWS_LAMBDA_EXEC_WRAPPER
if [ ! -f "$wrapper" ]; then echo "$wrapper: does not exist"; exit 127; fi
if [ ! -x "$wrapper" ]; then echo "$wrapper: is not an executable"; exit 126; fi
exec "$wrapper" "$@"`

// execWrapped is argv as the runtime starts it: under the function's
// AWS_LAMBDA_EXEC_WRAPPER when it sets one. OS-only runtimes ignore the
// variable on Lambda (their bootstrap is the function's own), and so
// callers pass only managed runtimes' commands.
func execWrapped(fn runtimeapi.Function, argv ...string) []string {
	if fn.Environment["AWS_LAMBDA_EXEC_WRAPPER"] == "" {
		return argv
	}
	return append([]string{"/bin/sh", "-c", execWrapperScript, "bootstrap"}, argv...)
}

// interpreterVersion runs an interpreter to print its version; "" if
// there is none or it fails.
func interpreterVersion(path string, args ...string) string {
	if path == "" {
		return ""
	}
	out, err := exec.Command(path, args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// warnVersion logs, once per runtime, that a function runs on a host
// interpreter of another version than its runtime names: nodejs24.x on
// the host's node 20 behaves as node 20 does.
func (s *Sandbox) warnVersion(runtime string, in interpreter) {
	if _, seen := s.warned.LoadOrStore(runtime, true); !seen {
		s.log.Warn("a function runs on the host's interpreter, of another version than its runtime names; name one with --runtime-path "+runtime+"=PATH, or run furl with --sandbox docker or auto to run it on its runtime's image",
			"runtime", runtime, "interpreter", in.name, "version", in.version)
	}
}

// interpreter is what a runtime's functions run on.
type interpreter struct {
	name    string // "node" or "python3"
	path    string // "" when there is none
	version string // as runtime identifiers name it ("20", "3.11"); "" if unknown
	// note says, when the interpreter is not of the runtime's version,
	// what the runtime really runs on, for its INIT_START line.
	note string
}

// interpreter finds a runtime's interpreter, once: the one --runtime-path
// names; else a node24- or python3.12-style one on the PATH whose version
// is the runtime's; else the host's node or python3, noting when its
// version is another.
func (s *Sandbox) interpreter(runtime string) interpreter {
	s.interpMu.Lock()
	find, ok := s.interpreters[runtime]
	if !ok {
		find = sync.OnceValue(func() interpreter { return s.findInterpreter(runtime) })
		s.interpreters[runtime] = find
	}
	s.interpMu.Unlock()
	return find()
}

func (s *Sandbox) findInterpreter(runtime string) interpreter {
	in := interpreter{name: "node"}
	want := strings.TrimSuffix(strings.TrimPrefix(runtime, "nodejs"), ".x")
	host, hostVersion, versionArgs := s.nodePath, s.nodeVersion, nodeVersionArgs
	if strings.HasPrefix(runtime, "python") {
		in.name = "python3"
		want = strings.TrimPrefix(runtime, "python")
		host, hostVersion, versionArgs = s.pythonPath, s.pythonVersion, pythonVersionArgs
	}
	if p, ok := s.runtimePaths[runtime]; ok {
		// Named by the user: trusted, whatever it says its version is.
		in.path, in.version = p, want
		return in
	}
	if host != "" && hostVersion() == want {
		// The host's own, resolved past shims, starts fastest.
		in.path, in.version = host, want
		return in
	}
	versioned := "node" + want
	if in.name == "python3" {
		versioned = "python" + want
	}
	if p, err := exec.LookPath(versioned); err == nil && interpreterVersion(p, versionArgs...) == want {
		in.path, in.version = p, want
		return in
	}
	in.path = host
	if host == "" {
		return in
	}
	in.version = hostVersion()
	if in.version != want {
		shown := in.version
		if in.name == "node" {
			shown = "v" + in.version + ".x"
		}
		in.note = "host " + in.name + " " + shown + ": no " + runtime + " interpreter found; --runtime-path " + runtime + "=PATH names one"
	}
	return in
}

// The arguments that make node and python print their versions as
// runtime identifiers name them.
var (
	nodeVersionArgs   = []string{"-p", "process.versions.node.split('.')[0]"}
	pythonVersionArgs = []string{"-c", "import sys; print('%d.%d' % sys.version_info[:2])"}
)

// Start starts the runtime in the code directory with Lambda's environment.
func (s *Sandbox) Start(ctx context.Context, spec runtimeapi.Spec) (runtimeapi.Process, error) {
	if err := s.setup(); err != nil {
		return nil, err
	}
	argv, err := s.command(spec)
	if err != nil {
		return nil, err
	}
	env := spec.Environ(runtimeapi.Paths{TaskRoot: spec.Code, RuntimeAPI: spec.RuntimeAPI, Endpoint: spec.Endpoint})
	switch {
	case strings.HasPrefix(spec.Function.Runtime, "nodejs"):
		env = append(env, "NODE_PATH="+spec.Code+"/node_modules:"+spec.Code)
	case strings.HasPrefix(spec.Function.Runtime, "python3"):
		env = append(env, "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
	}
	return s.start(spec, argv, env)
}

// startPump makes the pipe a runtime writes its output to and starts
// passing what comes through it on to dst. The caller gives the write end
// to the process and closes its own copy.
func startPump(p *proc, dst io.Writer) (w *os.File, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	out, err := pump.Start(r, dst)
	if err != nil {
		w.Close()
		return nil, err
	}
	p.out = out
	return w, nil
}

// proc is a runtime process and the pipe its output comes through.
type proc struct {
	// cmd is what furl started: the environment's supervisor, or the
	// runtime itself where there is none.
	cmd *exec.Cmd
	// runtimePid is the runtime's process id.
	runtimePid int
	out        *pump.Pump
	done       chan struct{}
	err        error
	mem        procmem.Meter
	// extensions are the names of the external extensions started with
	// the runtime.
	extensions []string
	// extGone is closed once every external extension has exited.
	extGone     chan struct{}
	extGoneOnce sync.Once
}

// Extensions names the external extensions started beside the runtime:
// the environment's init waits for each to register.
func (p *proc) Extensions() []string { return p.extensions }

// ExtensionsGone is closed once every external extension has exited: a
// SHUTDOWN need not wait for them any longer. Nil (never) where furl
// cannot tell.
func (p *proc) ExtensionsGone() <-chan struct{} { return p.extGone }

func (p *proc) Done() <-chan struct{} { return p.done }

func (p *proc) Err() error {
	<-p.done
	return p.err
}

// Quiet waits until everything the runtime wrote so far has been passed on.
func (p *proc) Quiet(within time.Duration) { p.out.Quiet(within) }

// MaxMemoryMB is the most resident memory the runtime has been seen to
// use, at the end of each invocation, and never less than before.
func (p *proc) MaxMemoryMB() int { return p.mem.MaxMB() }

// CheckRuntime says why this sandbox cannot run a runtime as its
// identifier names it, or nil when it can: a runtime it has no way to
// start, an interpreter missing from the PATH, or one of another version
// (nodejs24.x on the host's node 20 runs as node 20). It looks at the
// host's interpreters once.
func (s *Sandbox) CheckRuntime(runtime string) error {
	if err := s.setup(); err != nil {
		return err
	}
	switch {
	case strings.HasPrefix(runtime, "provided"):
		return nil
	case strings.HasPrefix(runtime, "nodejs"), strings.HasPrefix(runtime, "python3"):
		in := s.interpreter(runtime)
		switch {
		case in.path == "":
			return fmt.Errorf("there is no %s on furl's PATH (--runtime-path %s=PATH names one)", in.name, runtime)
		case in.note != "":
			want := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(runtime, "nodejs"), "python"), ".x")
			return fmt.Errorf("the host's %s is version %s, not %s, and furl found no other (--runtime-path %s=PATH names one)", in.name, in.version, want, runtime)
		}
		return nil
	}
	return fmt.Errorf("the process sandbox runs provided, nodejs and python functions, not %s", runtime)
}
