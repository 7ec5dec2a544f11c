// Package connlimit caps the connections an HTTP server holds open, so that
// a flood of idle ones cannot use up the process' file descriptors. At the
// cap the server keeps answering: a new connection is let in by closing the
// one that has waited longest without a request in flight (an idle
// keep-alive connection, or one that connected and has sent no complete
// request yet), never by pausing accept.
package connlimit

import (
	"container/list"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits of DefaultMax.
const (
	minDefault = 64
	maxDefault = 10000
)

// DefaultMax is the cap for a process allowed nofile open files (its
// RLIMIT_NOFILE, OpenFileLimit; 0 when unknown): half of them, leaving the rest to
// execution environments, the store and code files; at least 64 and at
// most 10,000, since each open connection also costs about 20 KB of memory
// and a local gateway has no use for more.
func DefaultMax(nofile uint64) int {
	if nofile == 0 || nofile/2 > maxDefault {
		return maxDefault
	}
	return max(int(nofile/2), minDefault)
}

// Listener is a net.Listener that holds at most a set number of the
// connections it accepted open. Give its ConnState to the http.Server that
// serves it, so that it knows which connections are idle.
type Listener struct {
	net.Listener
	*pool
}

// pool is the count and the quiet connections of the listeners that share
// one cap.
type pool struct {
	max int
	log *slog.Logger

	mu    sync.Mutex
	open  int
	quiet list.List // *conn without a request in flight, longest waiting first
	warn  warnings
}

// New caps the connections accepted from ln at max. Log receives a warning
// when the cap is reached (at most one a minute); nil means slog.Default().
func New(ln net.Listener, max int, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.Default()
	}
	return &Listener{Listener: ln, pool: &pool{max: max, log: log}}
}

// Share caps the connections accepted from another listener too: those of
// l and ln count against one cap, and a new connection on either may close
// the longest quiet one on both. Give the new listener's ConnState to the
// server that serves it.
func (l *Listener) Share(ln net.Listener) *Listener {
	return &Listener{Listener: ln, pool: l.pool}
}

// conn is an accepted connection that the listener counts until it is
// closed.
type conn struct {
	net.Conn
	l *pool
	// quiet is the connection's place in l.quiet while it has no request
	// in flight, and closed says it no longer counts; both guarded by
	// l.mu.
	quiet  *list.Element
	closed bool
}

// Close closes the connection and stops counting it.
func (c *conn) Close() error {
	c.l.forget(c)
	return c.Conn.Close()
}

// Accept waits for a connection and returns it. At the cap it first closes
// the connection that has been quiet longest; when every connection has a
// request in flight, it closes the new one instead and waits for the next.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c, victim := l.pool.admit(nc)
		if victim != nil {
			victim.Conn.Close()
		}
		if c != nil {
			return c, nil
		}
		nc.Close()
	}
}

// admit counts a new connection, choosing the quiet connection to close to
// make room for it. A nil conn means there was no room.
func (l *pool) admit(nc net.Conn) (c, victim *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.max {
		front := l.quiet.Front()
		if front == nil {
			l.warn.note(l.log, time.Now(), l.max, false)
			return nil, nil
		}
		victim = front.Value.(*conn)
		l.forgetLocked(victim)
		l.warn.note(l.log, time.Now(), l.max, true)
	}
	c = &conn{Conn: nc, l: l}
	l.open++
	// A new connection is quiet until its first request is read.
	c.quiet = l.quiet.PushBack(c)
	return c, victim
}

func (l *pool) forget(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetLocked(c)
}

func (l *pool) forgetLocked(c *conn) {
	if c.closed {
		return
	}
	c.closed = true
	l.open--
	if c.quiet != nil {
		l.quiet.Remove(c.quiet)
		c.quiet = nil
	}
}

// ConnState follows what the server does with each connection, HTTP/1 or
// HTTP/2 (which reports a connection idle when it has no open streams).
// Use it as http.Server.ConnState.
func (l *Listener) ConnState(nc net.Conn, state http.ConnState) {
	c := unwrap(nc)
	if c == nil || c.l != l.pool {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.closed {
		return
	}
	if c.quiet != nil {
		l.quiet.Remove(c.quiet)
		c.quiet = nil
	}
	if state == http.StateNew || state == http.StateIdle {
		c.quiet = l.quiet.PushBack(c)
	}
}

// Open is the number of connections the listener (with those it shares
// its cap with) counts now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// unwrap finds the listener's conn under the one the server reports, which
// a TLS server wraps.
func unwrap(nc net.Conn) *conn {
	for nc != nil {
		if c, ok := nc.(*conn); ok {
			return c
		}
		inner, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		nc = inner.NetConn()
	}
	return nil
}

// warnings says, at most once a minute, that the cap was reached and what
// was done about it since the last warning.
type warnings struct {
	last            time.Time // zero until the first warning
	closed, refused int
}

func (w *warnings) note(log *slog.Logger, now time.Time, max int, closedOne bool) {
	if closedOne {
		w.closed++
	} else {
		w.refused++
	}
	if !w.last.IsZero() && now.Sub(w.last) < time.Minute {
		return
	}
	log.Warn("connection cap reached: closing idle connections to let new ones in",
		"max_connections", max, "idle_closed", w.closed, "refused_all_busy", w.refused,
		"to_raise", "start furl with a higher --max-connections (and open-file limit, ulimit -n)")
	w.last, w.closed, w.refused = now, 0, 0
}
