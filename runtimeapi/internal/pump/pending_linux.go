package pump

import "golang.org/x/sys/unix"

// pending is how many bytes a pipe holds unread (FIONREAD, which Linux
// calls TIOCINQ).
func pending(fd uintptr) int {
	n, _ := unix.IoctlGetInt(int(fd), unix.TIOCINQ)
	return n
}
