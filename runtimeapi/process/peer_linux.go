package process

import (
	"errors"
	"net"

	"github.com/furl-dev/furl/runtimeapi/internal/peer"
)

// Peer reports whether a connection to the environment's Runtime API comes
// from the environment itself: from a socket that the runtime, or a
// process it started, holds. Any other process, whatever its user, is
// refused.
func (p *proc) Peer(conn net.Conn) error {
	if p.cmd == nil || p.cmd.Process == nil {
		return errors.New("the environment has no supervisor")
	}
	// The runtime first: it is almost always the one connecting. Then the
	// supervisor's other descendants, which the runtime started.
	return peer.Check(conn, p.runtimePid, p.cmd.Process.Pid)
}
