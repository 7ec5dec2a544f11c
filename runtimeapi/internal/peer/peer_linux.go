// Package peer tells which local process holds the other end of a
// loopback TCP connection: the kernel names the socket (sock_diag), /proc
// says who holds it. furl's Runtime APIs use it to answer only their own
// environment's processes.
package peer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Socket is the far end of a loopback TCP connection to one of furl's
// listeners: the socket some local process holds.
type Socket struct {
	// Inode names the socket in /proc/<pid>/fd ("socket:[<inode>]").
	Inode uint32
	// UID owns it.
	UID uint32
	// Remote is the address it connects from.
	Remote *net.TCPAddr
}

// Of asks the kernel (sock_diag) which socket is at the other end of conn.
func Of(conn net.Conn) (Socket, error) {
	local, lok := conn.LocalAddr().(*net.TCPAddr)
	remote, rok := conn.RemoteAddr().(*net.TCPAddr)
	if !lok || !rok {
		return Socket{}, fmt.Errorf("a connection from %s is not TCP", conn.RemoteAddr())
	}
	inode, uid, err := socketOf(remote, local)
	if err != nil {
		return Socket{}, fmt.Errorf("cannot tell which process connected from %s: %w", remote, err)
	}
	return Socket{Inode: inode, UID: uid, Remote: remote}, nil
}

// HeldBy reports whether one of the processes roots, or a descendant of
// one, holds the socket. Roots are searched first, in order, so that the
// likeliest holder costs one directory read.
func (s Socket) HeldBy(roots ...int) bool {
	target := "socket:[" + strconv.FormatUint(uint64(s.Inode), 10) + "]"
	seen := map[int]bool{}
	queue := append([]int(nil), roots...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if pid <= 0 || seen[pid] {
			continue
		}
		seen[pid] = true
		if holds(pid, target) {
			return true
		}
		queue = append(queue, Children(pid)...)
	}
	return false
}

// Check is a Runtime API's trust boundary: it accepts a connection only
// from a socket that one of roots, or a process they started, holds. Any
// other process, whatever its user, is refused, and the error says who.
func Check(conn net.Conn, roots ...int) error {
	s, err := Of(conn)
	if err != nil {
		return err
	}
	if s.HeldBy(roots...) {
		return nil
	}
	return fmt.Errorf("the process connecting from %s (user %d) is not this environment's runtime or one it started", s.Remote, s.UID)
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

// Children lists the children of a process, from every one of its
// threads' /proc children lists; where the kernel has none, from the
// parent ids of all processes.
func Children(pid int) []int {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil
	}
	var kids []int
	for _, task := range tasks {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		if errors.Is(err, os.ErrNotExist) {
			return childrenByScan(pid)
		}
		for _, f := range strings.Fields(string(raw)) {
			if n, err := strconv.Atoi(f); err == nil {
				kids = append(kids, n)
			}
		}
	}
	return kids
}

// childrenByScan finds a process' children by reading every process'
// parent id: slower, but it needs nothing more than /proc.
func childrenByScan(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var kids []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if parentOf(n) == pid {
			kids = append(kids, n)
		}
	}
	return kids
}

// parentOf reads a process' parent id from /proc/<pid>/stat, whose second
// field (the command) may hold spaces and parentheses: the fields after
// the last ')' are state, then the parent id.
func parentOf(pid int) int {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}
