// Package process is furl's default sandbox: it runs each execution
// environment's runtime as a process on the host, under a supervisor that
// ends everything the runtime starts when the environment ends. It is not
// isolated: a function can read and write whatever furl's user can, except
// its own code, which it sees read-only. Its Runtime API answers only the
// runtime and the processes the runtime started.
package process

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/runtimeapi/bootstrap/node"
	"github.com/furl-dev/furl/runtimeapi/bootstrap/python"
)

// Sandbox runs runtimes as host processes.
type Sandbox struct {
	clientsDir string
	supervisor string
	log        *slog.Logger

	once       sync.Once
	nodePath   string
	pythonPath string
	clientsErr error

	// noReadOnly is set once a read-only task root turned out to be
	// impossible here (no right to make a mount namespace).
	noReadOnly atomic.Bool
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
}

// New makes a process sandbox.
func New(opts Options) *Sandbox {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Sandbox{clientsDir: opts.ClientsDir, supervisor: opts.Supervisor, log: opts.Logger}
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
		boot := filepath.Join(spec.Code, "bootstrap")
		fi, err := os.Stat(boot)
		if err != nil {
			return nil, &runtimeapi.StartError{Type: "Runtime.InvalidEntrypoint", Message: "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"}
		}
		if fi.Mode()&0o111 == 0 {
			return nil, &runtimeapi.StartError{Type: "Runtime.InvalidEntrypoint", Message: "fork/exec /var/task/bootstrap: permission denied"}
		}
		return []string{boot}, nil
	case strings.HasPrefix(rt, "nodejs"):
		if s.nodePath == "" {
			return nil, &runtimeapi.StartError{Type: "Runtime.InvalidEntrypoint", Message: "furl runs " + rt + " functions with the host's node, and there is no node on its PATH"}
		}
		return []string{s.nodePath, filepath.Join(s.clientsDir, node.FileName)}, nil
	case strings.HasPrefix(rt, "python3"):
		if s.pythonPath == "" {
			return nil, &runtimeapi.StartError{Type: "Runtime.InvalidEntrypoint", Message: "furl runs " + rt + " functions with the host's python3, and there is no python3 on its PATH"}
		}
		return []string{s.pythonPath, "-u", filepath.Join(s.clientsDir, python.FileName)}, nil
	}
	return nil, &runtimeapi.StartError{Type: "Runtime.InvalidRuntime",
		Message: "furl's process sandbox runs provided, nodejs and python functions; it cannot run " + rt}
}

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
	raw, err := r.SyscallConn()
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	p.out, p.raw = r, raw
	p.pumped, p.wake = make(chan struct{}), make(chan struct{})
	go p.pump(dst)
	return w, nil
}

// openStatm opens a process' /proc/<pid>/statm, kept open: rereading it is
// one pread per invocation. Where there is none, memory goes unreported.
func (p *proc) openStatm(pid int) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return
	}
	p.memMu.Lock()
	p.statm = f
	p.memMu.Unlock()
}

// closeStatm closes the memory file once the process is gone; the peak
// seen stays.
func (p *proc) closeStatm() {
	p.memMu.Lock()
	if p.statm != nil {
		p.statm.Close()
		p.statm = nil
	}
	p.memMu.Unlock()
}

// proc is a runtime process and the pipe its output comes through.
type proc struct {
	// cmd is what furl started: the environment's supervisor, or the
	// runtime itself where there is none.
	cmd *exec.Cmd
	// runtimePid is the runtime's process id.
	runtimePid int
	out        *os.File
	raw        syscall.RawConn
	done       chan struct{}
	err        error

	// emitMu is held while a chunk is read from the pipe and passed on, so
	// that what has left the pipe has always been passed on when it is free.
	emitMu sync.Mutex
	// wake is closed (and replaced) after each chunk.
	wakeMu sync.Mutex
	wake   chan struct{}
	pumped chan struct{}

	memMu  sync.Mutex
	statm  *os.File // /proc/<pid>/statm, nil where there is none
	memBuf []byte
	peakMB int
}

func (p *proc) pump(dst io.Writer) {
	defer close(p.pumped)
	defer p.out.Close()
	buf := make([]byte, 64<<10)
	for {
		var n int
		var rerr error
		// The callback runs when the pipe is readable; reading and passing
		// on happen under emitMu, together.
		err := p.raw.Read(func(fd uintptr) bool {
			p.emitMu.Lock()
			defer p.emitMu.Unlock()
			n, rerr = syscall.Read(int(fd), buf)
			if rerr == syscall.EAGAIN {
				return false
			}
			if n > 0 {
				dst.Write(buf[:n])
			}
			return true
		})
		p.wakeMu.Lock()
		close(p.wake)
		p.wake = make(chan struct{})
		p.wakeMu.Unlock()
		if err != nil || rerr != nil || n <= 0 {
			return
		}
	}
}

func (p *proc) Done() <-chan struct{} { return p.done }

func (p *proc) Err() error {
	<-p.done
	return p.err
}

// Quiet waits until everything written to the pipe so far has been passed
// on: with emitMu held no chunk is half done, so an empty pipe means all
// of it has gone through.
func (p *proc) Quiet(ctx context.Context) {
	for {
		p.wakeMu.Lock()
		wake := p.wake
		p.wakeMu.Unlock()
		p.emitMu.Lock()
		n := p.unread()
		p.emitMu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		case <-p.pumped:
			return
		}
	}
}

// unread is how many bytes wait in the pipe.
func (p *proc) unread() int {
	n := 0
	p.raw.Control(func(fd uintptr) { n = pending(fd) })
	return n
}

// MaxMemoryMB is the most resident memory the process has been seen to
// use: its resident size (from /proc/<pid>/statm, which is cheap to read)
// at the end of each invocation, and never less than before. A peak inside
// an invocation that is gone by its end is not seen.
func (p *proc) MaxMemoryMB() int {
	p.memMu.Lock()
	defer p.memMu.Unlock()
	if p.statm == nil {
		return p.peakMB
	}
	if p.memBuf == nil {
		p.memBuf = make([]byte, 128)
	}
	n, _ := p.statm.ReadAt(p.memBuf, 0)
	// statm: size resident shared text lib data dt, in pages.
	fields := bytes.Fields(p.memBuf[:n])
	if len(fields) > 1 {
		pages, _ := strconv.Atoi(string(fields[1]))
		if mb := (pages*pageSize + 1<<20 - 1) >> 20; mb > p.peakMB {
			p.peakMB = mb
		}
	}
	return p.peakMB
}

var pageSize = os.Getpagesize()
