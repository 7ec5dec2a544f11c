package docker

import (
	"bytes"
	"net"
	"os"
	"strconv"

	"github.com/furl-dev/furl/runtimeapi/internal/peer"
	"golang.org/x/sys/unix"
)

// checkPeer accepts a connection from a socket that the container's first
// process, or one of its descendants, holds.
func checkPeer(conn net.Conn, pid int) error { return peer.Check(conn, pid) }

// setPid records the container's first process, if it is one furl can
// see: a process of this host whose cgroup names the container. A remote
// engine's process ids name nothing here, or some unrelated process.
func (c *container) setPid(pid int) {
	if pid <= 0 {
		return
	}
	// The pidfd first: once it is open, the id cannot be reused by
	// another process while the cgroup is checked.
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil || !bytes.Contains(raw, []byte(c.id)) {
		unix.Close(fd)
		return
	}
	c.pid = pid
	c.pidMu.Lock()
	c.pidfd = fd
	c.pidMu.Unlock()
	c.mem.Open(pid)
}

// signalKill kills the container's first process directly, which ends the
// container; pidfd makes sure that it is that process, not one that reused
// its id.
func (c *container) signalKill() {
	c.pidMu.Lock()
	defer c.pidMu.Unlock()
	if c.pidfd >= 0 {
		unix.PidfdSendSignal(c.pidfd, unix.SIGKILL, nil, 0)
	}
}

func (c *container) closePidfd() {
	c.pidMu.Lock()
	defer c.pidMu.Unlock()
	if c.pidfd >= 0 {
		unix.Close(c.pidfd)
		c.pidfd = -1
	}
}
