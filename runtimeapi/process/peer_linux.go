package process

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Peer reports whether a connection to the environment's Runtime API comes
// from the environment itself: from a socket that the runtime, or a
// process it started, holds. The kernel names the socket at the other end
// of the loopback connection (sock_diag); /proc says who holds it. Any
// other process, whatever its user, is refused.
func (p *proc) Peer(conn net.Conn) error {
	local, lok := conn.LocalAddr().(*net.TCPAddr)
	remote, rok := conn.RemoteAddr().(*net.TCPAddr)
	if !lok || !rok {
		return fmt.Errorf("a connection from %s is not TCP", conn.RemoteAddr())
	}
	inode, uid, err := socketOf(remote, local)
	if err != nil {
		return fmt.Errorf("cannot tell which process connected from %s: %w", remote, err)
	}
	if p.cmd == nil || p.cmd.Process == nil {
		return errors.New("the environment has no supervisor")
	}
	target := "socket:[" + strconv.FormatUint(uint64(inode), 10) + "]"
	// The runtime first: it is almost always the one connecting.
	seen := map[int]bool{p.cmd.Process.Pid: true}
	queue := []int{p.runtimePid}
	queue = append(queue, childrenOf(p.cmd.Process.Pid)...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if pid <= 0 || seen[pid] {
			continue
		}
		seen[pid] = true
		if holds(pid, target) {
			return nil
		}
		queue = append(queue, childrenOf(pid)...)
	}
	return fmt.Errorf("the process connecting from %s (user %d) is not this environment's runtime or one it started", remote, uid)
}

// holds reports whether a process has a file descriptor for target
// ("socket:[<inode>]").
func holds(pid int, target string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if link, err := os.Readlink(dir + e.Name()); err == nil && link == target {
			return true
		}
	}
	return false
}

// sock_diag's request and answer (linux/inet_diag.h): struct
// inet_diag_req_v2 and struct inet_diag_msg, after a netlink header.
const (
	nlmsgHeaderLen   = 16
	inetDiagReqLen   = 56
	inetDiagMsgLen   = 72
	inetDiagNoCookie = 0xffffffff
)

// socketOf asks the kernel for the inode and owner of the TCP socket whose
// local address is src and whose peer is dst: the other end of one of
// furl's loopback connections.
func socketOf(src, dst *net.TCPAddr) (inode, uid uint32, err error) {
	family := uint8(unix.AF_INET)
	srcIP, dstIP := src.IP.To4(), dst.IP.To4()
	if srcIP == nil || dstIP == nil {
		family = unix.AF_INET6
		srcIP, dstIP = src.IP.To16(), dst.IP.To16()
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, 0, fmt.Errorf("sock_diag: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 2}
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)

	req := make([]byte, nlmsgHeaderLen+inetDiagReqLen)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(req[8:], 1) // sequence
	r := req[nlmsgHeaderLen:]
	r[0] = family
	r[1] = unix.IPPROTO_TCP
	ne.PutUint32(r[4:], 0xffffffff) // every state
	id := r[8:]
	binary.BigEndian.PutUint16(id[0:], uint16(src.Port))
	binary.BigEndian.PutUint16(id[2:], uint16(dst.Port))
	copy(id[4:20], srcIP)
	copy(id[20:36], dstIP)
	ne.PutUint32(id[40:], inetDiagNoCookie)
	ne.PutUint32(id[44:], inetDiagNoCookie)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, 0, fmt.Errorf("sock_diag: %w", err)
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("sock_diag: %w", err)
	}
	buf = buf[:n]
	if len(buf) < nlmsgHeaderLen {
		return 0, 0, errors.New("sock_diag: short answer")
	}
	switch typ := ne.Uint16(buf[4:]); typ {
	case unix.NLMSG_ERROR:
		if len(buf) >= nlmsgHeaderLen+4 {
			if errno := int32(ne.Uint32(buf[nlmsgHeaderLen:])); errno < 0 {
				return 0, 0, fmt.Errorf("sock_diag: %w", unix.Errno(-errno))
			}
		}
		return 0, 0, errors.New("sock_diag: error answer")
	case unix.SOCK_DIAG_BY_FAMILY:
	default:
		return 0, 0, fmt.Errorf("sock_diag: answer of type %d", typ)
	}
	msg := buf[nlmsgHeaderLen:]
	if len(msg) < inetDiagMsgLen {
		return 0, 0, errors.New("sock_diag: short answer")
	}
	return ne.Uint32(msg[68:]), ne.Uint32(msg[64:]), nil
}
