//go:build unix

package deploy

import (
	"os/exec"
	"syscall"
)

// killGroup makes the build its own process group and ends the whole
// group when its context ends: "go build" under "sh -c" runs compilers
// that killing the shell alone would leave behind.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
