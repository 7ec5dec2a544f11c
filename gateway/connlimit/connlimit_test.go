package connlimit

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDefaultMax(t *testing.T) {
	for _, tc := range []struct {
		nofile uint64
		want   int
	}{
		{0, 10000},       // unknown
		{64, 64},         // never below 64
		{256, 128},       // macOS' usual soft limit
		{1024, 512},      // a common soft limit
		{20000, 10000},   // this half is the ceiling itself
		{20002, 10000},   // past it
		{1 << 20, 10000}, /* systemd's usual hard limit */
	} {
		if got := DefaultMax(tc.nofile); got != tc.want {
			t.Errorf("DefaultMax(%d) = %d, want %d", tc.nofile, got, tc.want)
		}
	}
}

// watchedConn tells when its peer closed it: its reader (the transport's
// read loop, or the test's) sees an error.
type watchedConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func watch(c net.Conn) *watchedConn { return &watchedConn{Conn: c, closed: make(chan struct{})} }

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.once.Do(func() { close(c.closed) })
	}
	return n, err
}

func (c *watchedConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *watchedConn) waitClosed(t *testing.T, what string) {
	t.Helper()
	select {
	case <-c.closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("furl did not close the %s connection", what)
	}
}

// server is a capped server in one protocol, with a handler that can hold
// requests in flight.
type server struct {
	t       *testing.T
	ts      *httptest.Server
	l       *Listener
	mode    string
	logs    *bytes.Buffer
	logMu   *sync.Mutex
	entered chan struct{}
	release chan struct{}
	states  chan http.ConnState
}

func startServer(t *testing.T, mode string, max int) *server {
	s := &server{t: t, mode: mode, logs: &bytes.Buffer{}, logMu: &sync.Mutex{}, entered: make(chan struct{}, 16), release: make(chan struct{}),
		states: make(chan http.ConnState, 64)}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			s.entered <- struct{}{}
			<-s.release
		}
		io.WriteString(w, "ok")
	}))
	s.l = New(s.ts.Listener, max, slog.New(slog.NewTextHandler(lockedWriter{s.logs, s.logMu}, nil)))
	s.ts.Listener = s.l
	s.ts.Config.ConnState = func(c net.Conn, st http.ConnState) {
		s.l.ConnState(c, st)
		select {
		case s.states <- st:
		default:
		}
	}
	switch mode {
	case "h1":
		s.ts.Start()
	case "h2":
		s.ts.EnableHTTP2 = true
		s.ts.StartTLS()
	case "h2c":
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		s.ts.Config.Protocols = &p
		s.ts.Start()
	}
	t.Cleanup(func() {
		select {
		case <-s.release:
		default:
			close(s.release)
		}
		s.ts.Close()
	})
	return s
}

type lockedWriter struct {
	buf *bytes.Buffer
	mu  *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// client is one connection's worth of client in the server's protocol,
// whose connection the test watches.
func (s *server) client() (*http.Client, func() *watchedConn) {
	var mu sync.Mutex
	var conn *watchedConn
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		conn = watch(c)
		return conn, nil
	}
	tr := &http.Transport{DialContext: dial, MaxConnsPerHost: 1}
	switch s.mode {
	case "h2":
		tr.TLSClientConfig = s.ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		tr.ForceAttemptHTTP2 = true
		tr.DialContext = nil
		tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cfg := tr.TLSClientConfig.Clone()
			cfg.NextProtos = []string{"h2"}
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
			tc := tls.Client(c, cfg)
			return tc, tc.HandshakeContext(ctx)
		}
	case "h2c":
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	s.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, func() *watchedConn {
		mu.Lock()
		defer mu.Unlock()
		return conn
	}
}

func (s *server) get(c *http.Client, path string) error {
	resp, err := c.Get(s.ts.URL + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && (resp.StatusCode != 200 || string(body) != "ok") {
		s.t.Fatalf("GET %s: %d %q", path, resp.StatusCode, body)
	}
	return err
}

// waitState waits until the server reports a connection in state st.
func (s *server) waitState(st http.ConnState) {
	s.t.Helper()
	for {
		select {
		case got := <-s.states:
			if got == st {
				return
			}
		case <-time.After(10 * time.Second):
			s.t.Fatalf("no connection reached %s", st)
		}
	}
}

// waitEntered waits until a request is held in the handler, or fails if
// it ended instead.
func (s *server) waitEntered(done <-chan error) {
	s.t.Helper()
	select {
	case <-s.entered:
	case err := <-done:
		s.t.Fatalf("the request to hold ended: %v", err)
	case <-time.After(10 * time.Second):
		s.t.Fatal("the request to hold never reached the handler")
	}
}

func modes(t *testing.T, f func(t *testing.T, mode string)) {
	for _, mode := range []string{"h1", "h2", "h2c"} {
		t.Run(mode, func(t *testing.T) { f(t, mode) })
	}
}

// At the cap, a new connection is served, and the one that has been quiet
// longest is closed to make room: first one that connected and never
// spoke, then an idle keep-alive connection. A request in flight is never
// cut.
func TestQuietConnectionsMakeRoom(t *testing.T) {
	modes(t, func(t *testing.T, mode string) {
		s := startServer(t, mode, 3)

		raw, err := net.Dial("tcp", s.ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		silent := watch(raw)
		go io.Copy(io.Discard, silent)
		s.waitState(http.StateNew)

		idleClient, idleConn := s.client()
		if err := s.get(idleClient, "/"); err != nil {
			t.Fatal(err)
		}
		s.waitState(http.StateIdle)

		busyClient, busyConn := s.client()
		busyDone := make(chan error, 1)
		go func() { busyDone <- s.get(busyClient, "/block") }()
		s.waitEntered(busyDone)
		if n := s.l.Open(); n != 3 {
			t.Fatalf("%d connections counted, want 3", n)
		}

		freshClient, _ := s.client()
		if err := s.get(freshClient, "/"); err != nil {
			t.Fatalf("a new connection at the cap was not served: %v", err)
		}
		silent.waitClosed(t, "silent")
		if idleConn().isClosed() || busyConn().isClosed() {
			t.Fatal("a connection other than the silent one was closed first")
		}

		secondClient, _ := s.client()
		if err := s.get(secondClient, "/"); err != nil {
			t.Fatalf("a second new connection at the cap was not served: %v", err)
		}
		idleConn().waitClosed(t, "idle keep-alive")
		if busyConn().isClosed() {
			t.Fatal("the connection with a request in flight was closed")
		}
		close(s.release)
		if err := <-busyDone; err != nil {
			t.Fatalf("the request in flight failed: %v", err)
		}
		if n := s.l.Open(); n > 3 {
			t.Fatalf("%d connections counted, above the cap of 3", n)
		}
		s.logMu.Lock()
		logs := s.logs.String()
		s.logMu.Unlock()
		if strings.Count(logs, "connection cap reached") != 1 || !strings.Contains(logs, "max_connections=3") {
			t.Fatalf("want one warning naming the cap, got:\n%s", logs)
		}
	})
}

// When every connection has a request in flight there is nothing to close:
// the new connection is closed instead, accept goes on, and once a request
// ends new connections are served again.
func TestAllBusyRefusesNewConnections(t *testing.T) {
	modes(t, func(t *testing.T, mode string) {
		s := startServer(t, mode, 2)
		done := make(chan error, 2)
		for range 2 {
			c, _ := s.client()
			go func() { done <- s.get(c, "/block") }()
			s.waitEntered(done)
		}
		extra, extraConn := s.client()
		if err := s.get(extra, "/"); err == nil {
			t.Fatal("a connection beyond the cap was served while all were busy")
		}
		// Over h2c the request can fail a moment before the transport's
		// reader sees the close.
		extraConn().waitClosed(t, "refused")
		close(s.release)
		for range 2 {
			if err := <-done; err != nil {
				t.Fatalf("a request in flight failed: %v", err)
			}
		}
		again, _ := s.client()
		if err := s.get(again, "/"); err != nil {
			t.Fatalf("no connection served after the busy ones finished: %v", err)
		}
	})
}

// A closed connection stops counting, whoever closed it, exactly once.
func TestCountFollowsClose(t *testing.T) {
	modes(t, func(t *testing.T, mode string) {
		s := startServer(t, mode, 100)
		clients := make([]*http.Client, 5)
		for i := range clients {
			clients[i], _ = s.client()
			if err := s.get(clients[i], "/"); err != nil {
				t.Fatal(err)
			}
		}
		if n := s.l.Open(); n != 5 {
			t.Fatalf("%d connections counted, want 5", n)
		}
		for _, c := range clients {
			c.Transport.(*http.Transport).CloseIdleConnections()
		}
		deadline := time.Now().Add(10 * time.Second)
		for s.l.Open() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d connections still counted after the clients closed them all", s.l.Open())
			}
			time.Sleep(5 * time.Millisecond)
		}
		s.ts.CloseClientConnections()
		if n := s.l.Open(); n != 0 {
			t.Fatalf("%d connections counted after closing twice", n)
		}
	})
}

// TestSharedCapCountsBothListeners: the plain and the TLS listener share
// one cap, so a connection on one may close an idle one on the other, and
// the count is theirs together.
func TestSharedCapCountsBothListeners(t *testing.T) {
	plainLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	otherLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	plain := New(plainLn, 1, slog.New(slog.DiscardHandler))
	other := plain.Share(otherLn)
	t.Cleanup(func() { plain.Close(); other.Close() })
	accepted := make(chan net.Conn, 4)
	for _, l := range []*Listener{plain, other} {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				accepted <- c
			}
		}()
	}
	first, err := net.Dial("tcp", plainLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	<-accepted
	if n := other.Open(); n != 1 {
		t.Fatalf("the sharing listener counts %d open, want the first listener's 1", n)
	}
	// The cap is 1: a connection on the other listener closes the first,
	// which is quiet (it sent no request).
	second, err := net.Dial("tcp", otherLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	<-accepted
	w := watch(first)
	go io.Copy(io.Discard, w)
	w.waitClosed(t, "the quiet connection on the other listener")
	if n := plain.Open(); n != 1 {
		t.Errorf("after the swap %d are open, want 1", n)
	}
}
