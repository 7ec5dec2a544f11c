// Package process is furl's default sandbox: it runs each execution
// environment's runtime as a process on the host. It is not isolated: a
// function can read and write whatever furl's user can.
package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/runtimeapi/bootstrap/node"
	"github.com/furl-dev/furl/runtimeapi/bootstrap/python"
)

// Sandbox runs runtimes as host processes.
type Sandbox struct {
	clientsDir string

	once       sync.Once
	nodePath   string
	pythonPath string
	clientsErr error
}

var _ runtimeapi.Sandbox = (*Sandbox)(nil)

// New makes a process sandbox that keeps the runtime clients furl ships
// (for Node.js and Python) under dir.
func New(dir string) *Sandbox {
	return &Sandbox{clientsDir: dir}
}

// ListenHost is loopback: the runtime is a host process.
func (s *Sandbox) ListenHost() string { return "127.0.0.1" }

// setup writes the runtime clients and finds the host's interpreters, once.
func (s *Sandbox) setup() error {
	s.once.Do(func() {
		if err := os.MkdirAll(s.clientsDir, 0o755); err != nil {
			s.clientsErr = fmt.Errorf("runtime clients: %w", err)
			return
		}
		for name, content := range map[string][]byte{node.FileName: node.Client, python.FileName: python.Client} {
			if err := os.WriteFile(filepath.Join(s.clientsDir, name), content, 0o644); err != nil {
				s.clientsErr = fmt.Errorf("runtime clients: %w", err)
				return
			}
		}
		s.nodePath, _ = exec.LookPath("node")
		s.pythonPath = findPython()
	})
	return s.clientsErr
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
	switch {
	case strings.HasPrefix(rt, "provided"):
		boot := filepath.Join(spec.CodeDir, "bootstrap")
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
	env := spec.Env
	switch {
	case strings.HasPrefix(spec.Function.Runtime, "nodejs"):
		env = append(env, "NODE_PATH="+spec.CodeDir+"/node_modules:"+spec.CodeDir)
	case strings.HasPrefix(spec.Function.Runtime, "python3"):
		env = append(env, "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = spec.CodeDir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = w, w
	// Its own process group, so that Kill reaches whatever it starts.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, &runtimeapi.StartError{Type: "Runtime.InvalidEntrypoint", Message: err.Error()}
		}
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	w.Close() // the child holds its own copy
	raw, err := r.SyscallConn()
	if err != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		r.Close()
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	p := &proc{cmd: cmd, out: r, raw: raw, done: make(chan struct{}), pumped: make(chan struct{}), wake: make(chan struct{})}
	// Kept open: rereading it is one pread per invocation.
	p.statm, _ = os.Open("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/statm")
	go p.pump(spec.Output)
	go func() {
		p.err = cmd.Wait()
		// The environment ends with its runtime: whatever the runtime
		// started goes too (and so lets go of the output pipe).
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		p.memMu.Lock()
		if p.statm != nil {
			p.statm.Close()
			p.statm = nil
		}
		p.memMu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// proc is a runtime process and the pipe its output comes through.
type proc struct {
	cmd  *exec.Cmd
	out  *os.File
	raw  syscall.RawConn
	done chan struct{}
	err  error

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

// Kill ends the process group, unless it has already ended (its id could
// then name another group).
func (p *proc) Kill() {
	select {
	case <-p.done:
	default:
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
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
