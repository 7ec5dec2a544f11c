//go:build unix

package connlimit

import "syscall"

// OpenFileLimit is the process' soft RLIMIT_NOFILE, which Go raises to the
// hard limit at start; 0 when it cannot be read.
func OpenFileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return uint64(rl.Cur)
}
