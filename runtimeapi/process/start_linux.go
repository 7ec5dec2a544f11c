package process

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
)

// supervisorStartTimeout bounds the wait for a supervisor to say whether
// it started the runtime: it only has to exec it.
const supervisorStartTimeout = 30 * time.Second

// start runs the runtime under a supervisor (see RunSupervisorIfAsked),
// in a process group of its own, in the code directory, which it sees read-only
// where furl may make mount namespaces (as root); there it sees its layers
// at /opt, read-only, too.
func (s *Sandbox) start(spec runtimeapi.Spec, argv, env []string) (*proc, error) {
	readOnly := os.Geteuid() == 0 && !s.noReadOnly.Load()
	p, err := s.startSupervised(spec, argv, env, readOnly)
	if err == nil && readOnly && spec.Opt != "" && s.optMountPoint() {
		s.log.Debug("the function's layers are mounted read-only at /opt in its mount namespace", "function", spec.Function.Name)
	}
	if err != nil && readOnly && errors.Is(err, syscall.EPERM) {
		// Root without CAP_SYS_ADMIN (as in many containers): the file
		// modes alone keep the code read-only, for non-root functions.
		if !s.noReadOnly.Swap(true) {
			s.log.Warn("furl cannot make mount namespaces here, so task roots are not mounted read-only; functions running as root can write to their code", "err", err)
		}
		return s.startSupervised(spec, argv, env, false)
	}
	return p, err
}

func (s *Sandbox) startSupervised(spec runtimeapi.Spec, argv, env []string, readOnly bool) (*proc, error) {
	args := []string{superviseArg}
	if readOnly {
		args = append(args, "-readonly", spec.Code, "-readonly", s.clientsDir)
	}
	optMounted := spec.Opt != "" && readOnly && s.optMountPoint()
	if optMounted {
		args = append(args, "-opt", spec.Opt)
	}
	env = s.layersEnv(spec, env, optMounted)
	names := extensionNames(spec.Opt, s.log)
	for _, name := range names {
		root := spec.Opt
		if optMounted {
			root = optRoot
		}
		args = append(args, "-extension", filepath.Join(root, "extensions", name))
	}
	args = append(append(args, "--"), argv...)
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("status pipe: %w", err)
	}
	p := &proc{done: make(chan struct{}), extensions: names, extGone: make(chan struct{})}
	outW, err := startPump(p, spec.Output)
	if err != nil {
		statusR.Close()
		statusW.Close()
		return nil, err
	}
	cmd := exec.Command(s.supervisor, args...)
	cmd.Dir = spec.Code
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = outW, outW
	cmd.ExtraFiles = []*os.File{statusW}
	// A process group of its own, so that no terminal signal reaches the
	// environment; not a session of its own, which would put it in a
	// scheduling autogroup of its own, taking CPU time from furl under
	// load as if it were another login. SIGTERM when furl ends, however it
	// ends: the supervisor then ends the environment.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if readOnly {
		cmd.SysProcAttr.Unshareflags = syscall.CLONE_NEWNS
	}
	err = cmd.Start()
	statusW.Close()
	outW.Close() // the supervisor holds its own copy; without one, the pump ends
	if err != nil {
		statusR.Close()
		return nil, fmt.Errorf("start the environment supervisor: %w", err)
	}
	p.cmd = cmd

	started := make(chan supervisorReport, 1)
	go func() {
		// The environment is over when the supervisor says every process
		// in it is gone, which may be a while before the supervisor
		// itself has exited (a race-enabled build sleeps a second at
		// exit).
		var once sync.Once
		end := func(err error) {
			once.Do(func() {
				p.err = err
				p.mem.Close()
				close(p.done)
			})
		}
		report := func(r supervisorReport) {
			switch r.kind {
			case reportStarted, reportFailed, reportExtension:
				select {
				case started <- r:
				default:
				}
			case reportExited:
				if n, err := strconv.ParseUint(r.arg, 10, 32); err == nil {
					ws := syscall.WaitStatus(n)
					end(runtimeExit(&ws))
				}
			case reportExtensionsGone:
				p.extGoneOnce.Do(func() { close(p.extGone) })
			case reportWarning:
				s.log.Warn("execution environment: "+r.arg, "function", spec.Function.Name)
			}
		}
		reported := make(chan struct{})
		go func() {
			defer close(reported)
			readReports(statusR, report)
		}()
		werr := cmd.Wait()
		// Whatever the supervisor wrote before it exited is read first;
		// a pipe some other process still held would not end, so the
		// wait for it is bounded.
		select {
		case <-reported:
		case <-time.After(time.Second):
		}
		statusR.Close()
		<-reported
		end(supervisorEnd(werr))
	}()

	timer := time.NewTimer(supervisorStartTimeout)
	defer timer.Stop()
	select {
	case r := <-started:
		switch r.kind {
		case reportFailed:
			<-p.done
			return nil, &runtimeapi.StartError{Type: "Runtime.InvalidEntrypoint", Message: r.arg + runtimeapi.ExecHint(r.arg)}
		case reportExtension:
			<-p.done
			return nil, &runtimeapi.StartError{Type: "Extension.LaunchError", Message: r.arg}
		}
		pid, err := strconv.Atoi(r.arg)
		if err != nil {
			p.Kill()
			<-p.done
			return nil, fmt.Errorf("the environment supervisor reported runtime pid %q", r.arg)
		}
		p.runtimePid = pid
		p.mem.Open(pid)
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("the environment supervisor ended before starting the runtime: %v", p.err)
	case <-timer.C:
		p.Kill()
		<-p.done
		return nil, fmt.Errorf("the environment supervisor did not start the runtime within %s", supervisorStartTimeout)
	}
}

// runtimeExit is how a runtime ended, worded as os/exec words it ("exit
// status 2", "signal: killed").
func runtimeExit(ws *syscall.WaitStatus) error {
	switch {
	case ws.Exited() && ws.ExitStatus() == 0:
		return nil
	case ws.Exited():
		return fmt.Errorf("exit status %d", ws.ExitStatus())
	case ws.Signaled() && ws.CoreDump():
		return fmt.Errorf("signal: %v (core dumped)", ws.Signal())
	case ws.Signaled():
		return fmt.Errorf("signal: %v", ws.Signal())
	}
	return fmt.Errorf("wait status %#x", uint32(*ws))
}

// supervisorEnd is how an environment ended whose supervisor could not
// report its runtime's end.
func supervisorEnd(err error) error {
	if err == nil {
		return errors.New("the environment supervisor exited without reporting how the runtime ended")
	}
	return fmt.Errorf("the environment supervisor ended: %w", err)
}

// Kill asks the supervisor to end the environment: it kills the runtime
// and everything the runtime started, then exits. os.Process.Signal never
// reaches another process that reused the supervisor's id.
func (p *proc) Kill() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
}

// optMountPoint says whether the host has a directory at /opt for the
// environments' mount namespaces to mount layers over, making an empty
// one if there is nothing there; it looks once. A link or a file there is
// left alone: a mount would follow the link, and a file cannot take one.
func (s *Sandbox) optMountPoint() bool {
	s.optOnce.Do(func() { s.optOK = findOptMountPoint(s.log) })
	return s.optOK
}

func findOptMountPoint(log *slog.Logger) bool {
	fi, err := os.Lstat(optRoot)
	if errors.Is(err, fs.ErrNotExist) {
		// Mkdir, not MkdirAll: it fails rather than follow whatever
		// appeared there meanwhile.
		if err := os.Mkdir(optRoot, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			log.Warn("furl cannot make /opt to mount functions' layers over", "err", err)
			return false
		}
		fi, err = os.Lstat(optRoot)
	}
	if err != nil || !fi.IsDir() {
		log.Warn("/opt on this host is not a directory: functions' layers are not mounted there", "err", err)
		return false
	}
	return true
}
