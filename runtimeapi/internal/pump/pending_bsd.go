//go:build darwin || freebsd || netbsd || openbsd

package pump

import "golang.org/x/sys/unix"

// pending is how many bytes a pipe holds unread.
func pending(fd uintptr) int {
	n, _ := unix.IoctlGetInt(int(fd), 0x4004667f) // FIONREAD
	return n
}
