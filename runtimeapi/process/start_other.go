//go:build !linux

package process

import (
	"net"
	"os/exec"
	"syscall"

	"github.com/furl-dev/furl/runtimeapi"
)

// RunSupervisorIfAsked does nothing here: environments have no supervisor
// outside Linux, so processes a function starts in a session of their own
// can outlive it.
func RunSupervisorIfAsked() {}

// start runs the runtime directly, in a process group of its own, in the
// code directory; its layers are reached through its search paths alone.
func (s *Sandbox) start(spec runtimeapi.Spec, argv, env []string) (*proc, error) {
	p := &proc{done: make(chan struct{})}
	outW, err := startPump(p, spec.Output)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = spec.Code
	cmd.Env = s.layersEnv(spec, env, false)
	cmd.Stdout, cmd.Stderr = outW, outW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	outW.Close()
	if err != nil {
		<-p.out.Done()
		return nil, &runtimeapi.StartError{Type: "Runtime.InvalidEntrypoint", Message: err.Error() + runtimeapi.ExecHint(err.Error())}
	}
	p.cmd, p.runtimePid = cmd, cmd.Process.Pid
	p.mem.Open(cmd.Process.Pid)
	go func() {
		p.err = cmd.Wait()
		// The environment ends with its runtime: whatever the runtime
		// started in its group goes too.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		p.mem.Close()
		close(p.done)
	}()
	return p, nil
}

// Kill ends the process group, unless it has already ended (its id could
// then name another group).
func (p *proc) Kill() {
	select {
	case <-p.done:
	default:
		syscall.Kill(-p.runtimePid, syscall.SIGKILL)
	}
}

// Peer accepts every connection: outside Linux furl cannot tell which
// process holds the other end of a loopback connection.
func (p *proc) Peer(conn net.Conn) error { return nil }
