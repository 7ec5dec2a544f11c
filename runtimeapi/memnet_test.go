package runtimeapi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// memNet is an in-memory network for the fake sandboxes' Runtime APIs.
// Its connections are net.Pipe pairs, whose reads and writes block on
// channels: a goroutine waiting on one counts as durably blocked in a
// testing/synctest bubble, as one waiting on a real socket does not. A
// memNet and everything that uses it must live in the same bubble, or
// outside every bubble.
type memNet struct {
	mu        sync.Mutex
	next      int
	listeners map[string]*memListener
}

func newMemNet() *memNet { return &memNet{listeners: map[string]*memListener{}} }

// listen makes a listener at a fresh address of the form host:port.
func (n *memNet) listen() (net.Listener, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.next++
	l := &memListener{n: n, addr: memAddr(fmt.Sprintf("127.0.0.1:%d", 10000+n.next)),
		conns: make(chan net.Conn), closed: make(chan struct{})}
	n.listeners[string(l.addr)] = l
	return l, nil
}

// dial connects to the listener at addr, waiting until it accepts; with
// no listener there, it is refused.
func (n *memNet) dial(ctx context.Context, _, addr string) (net.Conn, error) {
	n.mu.Lock()
	l := n.listeners[addr]
	n.mu.Unlock()
	if l == nil {
		return nil, &net.OpError{Op: "dial", Net: "mem", Err: syscall.ECONNREFUSED}
	}
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		err := &net.OpError{Op: "dial", Net: "mem", Err: syscall.ECONNREFUSED}
		client.Close()
		server.Close()
		return nil, err
	case <-ctx.Done():
		client.Close()
		server.Close()
		return nil, ctx.Err()
	}
}

// client is an HTTP client of n with its own transport (and so its own
// connections), whose requests time out after timeout (zero: never).
func (n *memNet) client(timeout time.Duration) *http.Client {
	// Large writes make few hops over the unbuffered pipe.
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: n.dial, WriteBufferSize: 64 << 10}}
}

type memListener struct {
	n      *memNet
	addr   memAddr
	conns  chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() {
		l.n.mu.Lock()
		delete(l.n.listeners, string(l.addr))
		l.n.mu.Unlock()
		close(l.closed)
	})
	return nil
}

func (l *memListener) Addr() net.Addr { return l.addr }

type memAddr string

func (memAddr) Network() string  { return "mem" }
func (a memAddr) String() string { return string(a) }
