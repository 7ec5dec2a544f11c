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

// endGroup ends what the build left running in its group once the build
// itself is over: a daemon it started in the background would otherwise
// outlive furl deploy, or hold the output pipe open forever.
func endGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
