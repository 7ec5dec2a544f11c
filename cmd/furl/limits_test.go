package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/furl-dev/furl/gateway/connlimit"
	"github.com/furl-dev/furl/gateway/tlsca"
)

// The servers newHTTPServer builds, plain and TLS as serve builds them,
// close a connection whose request headers never end once the read
// header timeout passes (slowloris), and a keep-alive connection left
// unused once the idle timeout passes. The limits here are short; serve
// gives both listeners the constants (30 s and 2 minutes).
func TestConnectionTimeouts(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	limits := connLimits{readHeader: 200 * time.Millisecond, idle: 300 * time.Millisecond, maxHeaderBytes: maxHeaderBytes}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := connlimit.New(ln, 100, log)
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := newHTTPServer(ok, &protocols, conns, limits, log)
	go srv.Serve(conns)
	t.Cleanup(func() { srv.Close() })

	lnTLS, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	certs, err := tlsca.New(tlsca.Config{Dir: filepath.Join(t.TempDir(), "tls"), Allow: func(context.Context, string) error { return nil }, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(certs.Close)
	var tlsProtocols http.Protocols
	tlsProtocols.SetHTTP1(true)
	tlsProtocols.SetHTTP2(true)
	connsTLS := conns.Share(lnTLS)
	srvTLS := newHTTPServer(ok, &tlsProtocols, connsTLS, limits, log)
	srvTLS.TLSConfig = certs.TLSConfig()
	go srvTLS.ServeTLS(connsTLS, "", "")
	t.Cleanup(func() { srvTLS.Close() })

	dial := map[string]func(t *testing.T) net.Conn{
		"plain": func(t *testing.T) net.Conn {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		"TLS": func(t *testing.T) net.Conn {
			c, err := tls.Dial("tcp", lnTLS.Addr().String(), &tls.Config{ServerName: "localhost", NextProtos: []string{"http/1.1"},
				InsecureSkipVerify: true}) // the server, not its certificate, is under test
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
	}
	for name, dial := range dial {
		t.Run(name+": headers never finished", func(t *testing.T) {
			c := dial(t)
			defer c.Close()
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: "); err != nil {
				t.Fatal(err)
			}
			closedByServer(t, c)
		})
		t.Run(name+": idle keep-alive", func(t *testing.T) {
			c := dial(t)
			defer c.Close()
			r := bufio.NewReader(c)
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "ok" || resp.Close {
				t.Fatalf("%d %q, close %v", resp.StatusCode, body, resp.Close)
			}
			closedByServer(t, &bufConn{c, r})
		})
	}
}

// closedByServer waits, far longer than the limits under test, for the
// server to close c; a read that times out means it kept it open.
func closedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the server kept the connection open")
	}
}

// bufConn reads through r, which may hold what c already received.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }
