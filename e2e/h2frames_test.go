package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// These tests talk HTTP/2 to furl frame by frame, with x/net/http2's
// Framer, over TLS (ALPN h2) to the HTTPS listener and over h2c (prior
// knowledge) to the plain one: what Go's client and curl hide (resets,
// flow control, settings) is in plain view.

// h2Modes are the two ways furl speaks HTTP/2.
var h2Modes = []struct {
	name string
	tls  bool
}{{"h2", true}, {"h2c", false}}

// furlRoots is a pool holding furl's local CA root, read from the file
// furl ca names: what a user hands curl --cacert or AWS_CA_BUNDLE.
func furlRoots(t testing.TB, f *furl) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(rootFile(f))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", rootFile(f))
	}
	return pool
}

// rootFile is where furl keeps its local CA's root certificate.
func rootFile(f *furl) string { return filepath.Join(f.dataDir, "tls", "ca", "root.pem") }

// startTLSFurl starts furl with its HTTPS listener on a free port too.
func startTLSFurl(t testing.TB, extra ...string) *furl {
	t.Helper()
	f := startFurl(t, t.TempDir(), "127.0.0.1:0", append([]string{"--listen-tls", "127.0.0.1:0"}, extra...)...)
	if f.tlsAddr == "" {
		t.Fatal("furl serves no HTTPS listener")
	}
	return f
}

// h2Event is one frame of a stream, copied out of the Framer.
type h2Event struct {
	typ    http2.FrameType
	header []hpack.HeaderField
	data   []byte
	end    bool          // END_STREAM
	code   http2.ErrCode // of a RST_STREAM
}

// h2Client is one HTTP/2 connection to furl. A reader goroutine answers
// the server's SETTINGS and PINGs and hands each stream's frames to it.
type h2Client struct {
	t         testing.TB
	conn      net.Conn
	authority string
	scheme    string
	// autoWindow gives back the flow-control credit of every DATA frame at
	// once; without it the test grants credit itself.
	autoWindow bool

	wmu    sync.Mutex // guards writes: fr's and enc's
	fr     *http2.Framer
	enc    *hpack.Encoder
	encBuf bytes.Buffer
	nextID uint32

	settings chan map[http2.SettingID]uint32 // the server's first SETTINGS
	pongs    chan [8]byte

	mu      sync.Mutex
	streams map[uint32]chan h2Event
	readErr error
	done    chan struct{}
	// closing is set once the test closes the connection.
	closing atomic.Bool
}

// dialH2 opens an HTTP/2 connection to the host of a function URL u: over
// TLS to furl's HTTPS listener, with SNI and :authority that host, or in
// clear text to its plain one. settings are the client's SETTINGS.
func dialH2(t testing.TB, f *furl, u string, useTLS, autoWindow bool, settings ...http2.Setting) *h2Client {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	host := parsed.Hostname()
	c := &h2Client{t: t, autoWindow: autoWindow, nextID: 1, streams: map[uint32]chan h2Event{},
		settings: make(chan map[http2.SettingID]uint32, 1), pongs: make(chan [8]byte, 1), done: make(chan struct{})}
	addr := f.addr
	c.scheme = "http"
	if useTLS {
		addr, c.scheme = f.tlsAddr, "https"
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: furlRoots(t, f), ServerName: host, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatalf("TLS handshake for %s: %v", host, err)
		}
		if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
			conn.Close()
			t.Fatalf("ALPN chose %q, want h2", p)
		}
		c.conn = conn
	} else {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.conn = conn
	}
	_, port, _ := net.SplitHostPort(addr)
	c.authority = net.JoinHostPort(host, port)
	t.Cleanup(func() {
		c.closing.Store(true)
		c.conn.Close()
		<-c.done
	})
	if _, err := c.conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	c.fr = http2.NewFramer(c.conn, c.conn)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.encBuf)
	c.write(func() error { return c.fr.WriteSettings(settings...) })
	go c.read()
	return c
}

// write runs one write to the Framer, failing the test if it fails.
func (c *h2Client) write(w func() error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	// The reader goroutine may be answering the server (a SETTINGS ack, a
	// PING) when the test, done, closes the connection: not a failure.
	if err := w(); err != nil && !c.closing.Load() {
		c.t.Errorf("writing a frame: %v", err)
	}
}

func (c *h2Client) read() {
	defer close(c.done)
	sawSettings := false
	for {
		frame, err := c.fr.ReadFrame()
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			for _, ch := range c.streams {
				close(ch)
			}
			c.streams = nil
			c.mu.Unlock()
			return
		}
		id := frame.Header().StreamID
		switch fr := frame.(type) {
		case *http2.SettingsFrame:
			if fr.IsAck() {
				continue
			}
			if !sawSettings {
				sawSettings = true
				got := map[http2.SettingID]uint32{}
				fr.ForeachSetting(func(s http2.Setting) error { got[s.ID] = s.Val; return nil })
				c.settings <- got
			}
			c.write(c.fr.WriteSettingsAck)
		case *http2.PingFrame:
			if fr.IsAck() {
				select {
				case c.pongs <- fr.Data:
				default:
				}
				continue
			}
			c.write(func() error { return c.fr.WritePing(true, fr.Data) })
		case *http2.MetaHeadersFrame:
			c.deliver(id, h2Event{typ: http2.FrameHeaders, header: append([]hpack.HeaderField(nil), fr.Fields...), end: fr.StreamEnded()})
		case *http2.DataFrame:
			if n := fr.Header().Length; c.autoWindow && n > 0 {
				c.write(func() error { return c.fr.WriteWindowUpdate(0, n) })
				if !fr.StreamEnded() {
					c.write(func() error { return c.fr.WriteWindowUpdate(id, n) })
				}
			}
			c.deliver(id, h2Event{typ: http2.FrameData, data: bytes.Clone(fr.Data()), end: fr.StreamEnded()})
		case *http2.RSTStreamFrame:
			c.deliver(id, h2Event{typ: http2.FrameRSTStream, code: fr.ErrCode})
		case *http2.GoAwayFrame:
			c.t.Logf("furl sent GOAWAY %v: %q", fr.ErrCode, fr.DebugData())
		}
	}
}

func (c *h2Client) deliver(id uint32, ev h2Event) {
	c.mu.Lock()
	ch := c.streams[id]
	c.mu.Unlock()
	if ch == nil {
		c.t.Errorf("a %v frame on stream %d, which the test never opened", ev.typ, id)
		return
	}
	ch <- ev
}

// serverSettings is the server's first SETTINGS frame.
func (c *h2Client) serverSettings() map[http2.SettingID]uint32 {
	c.t.Helper()
	select {
	case s := <-c.settings:
		return s
	case <-c.done:
		c.t.Fatalf("the connection ended before furl's SETTINGS: %v", c.readErr)
	case <-time.After(30 * time.Second):
		c.t.Fatal("furl sent no SETTINGS within 30s")
	}
	return nil
}

// ping makes a round trip: every frame furl sent before its answer has
// been handed to its stream when ping returns.
func (c *h2Client) ping() {
	c.t.Helper()
	data := [8]byte{'f', 'u', 'r', 'l', 'p', 'i', 'n', 'g'}
	c.write(func() error { return c.fr.WritePing(false, data) })
	select {
	case got := <-c.pongs:
		if got != data {
			c.t.Fatalf("PING answered with %q", got)
		}
	case <-c.done:
		c.t.Fatalf("the connection ended before the PING's answer: %v", c.readErr)
	case <-time.After(30 * time.Second):
		c.t.Fatal("no answer to a PING within 30s")
	}
}

// h2Stream is one request's stream.
type h2Stream struct {
	c      *h2Client
	id     uint32
	events chan h2Event
	ended  bool // END_STREAM seen
}

// get opens a stream with a GET of path.
func (c *h2Client) get(path string) *h2Stream {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	s := &h2Stream{c: c, id: c.nextID, events: make(chan h2Event, 4096)}
	c.nextID += 2
	c.mu.Lock()
	if c.streams == nil {
		c.mu.Unlock()
		c.t.Fatalf("the connection is gone: %v", c.readErr)
	}
	c.streams[s.id] = s.events
	c.mu.Unlock()
	c.encBuf.Reset()
	for _, hf := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: c.scheme},
		{Name: ":authority", Value: c.authority}, {Name: ":path", Value: path}, {Name: "user-agent", Value: "furl-e2e-framer"}} {
		if err := c.enc.WriteField(hf); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: s.id, BlockFragment: c.encBuf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		c.t.Fatalf("HEADERS: %v", err)
	}
	return s
}

// reset sends RST_STREAM with code.
func (s *h2Stream) reset(code http2.ErrCode) {
	s.c.write(func() error { return s.c.fr.WriteRSTStream(s.id, code) })
}

// next is the stream's next frame. The wait is a safety net, not a
// measurement.
func (s *h2Stream) next() h2Event {
	s.c.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.c.t.Fatalf("stream %d: the connection ended: %v", s.id, s.c.readErr)
		}
		if ev.end {
			s.ended = true
		}
		return ev
	case <-time.After(30 * time.Second):
		s.c.t.Fatalf("stream %d: no frame within 30s", s.id)
	}
	return h2Event{}
}

// head reads the response's HEADERS, which must not end the stream, and
// returns the status and the fields.
func (s *h2Stream) head() (int, []hpack.HeaderField) {
	s.c.t.Helper()
	ev := s.next()
	if ev.typ != http2.FrameHeaders {
		s.c.t.Fatalf("stream %d: the first frame is %v (code %v), want HEADERS", s.id, ev.typ, ev.code)
	}
	if ev.end {
		s.c.t.Fatalf("stream %d: the HEADERS end the stream: %v", s.id, ev.header)
	}
	status := 0
	for _, hf := range ev.header {
		if hf.Name == ":status" {
			status, _ = strconv.Atoi(hf.Value)
		}
	}
	return status, ev.header
}

// data reads DATA frames until it holds n bytes, failing at anything else
// first; it returns what the frames carried.
func (s *h2Stream) data(n int) []byte {
	s.c.t.Helper()
	var got []byte
	for len(got) < n {
		if s.ended {
			s.c.t.Fatalf("stream %d ended after %q, want %d bytes", s.id, got, n)
		}
		ev := s.next()
		if ev.typ != http2.FrameData {
			s.c.t.Fatalf("stream %d: a %v frame (code %v) after %q, want DATA", s.id, ev.typ, ev.code, got)
		}
		got = append(got, ev.data...)
	}
	return got
}

// token reads SSE token i, which must not end the stream.
func (s *h2Stream) token(i int) {
	s.c.t.Helper()
	want := fmt.Sprintf("data: token %d\n\n", i)
	if got := s.data(len(want)); string(got) != want || s.ended {
		s.c.t.Fatalf("stream %d: %q (END_STREAM %v), want %q and more to come", s.id, got, s.ended, want)
	}
}

// rest reads the stream's data to its clean end (END_STREAM).
func (s *h2Stream) rest() []byte {
	s.c.t.Helper()
	var got []byte
	for !s.ended {
		ev := s.next()
		if ev.typ != http2.FrameData {
			s.c.t.Fatalf("stream %d: a %v frame (code %v) after %q, want DATA to the end", s.id, ev.typ, ev.code, got)
		}
		got = append(got, ev.data...)
	}
	return got
}

// end reads the clean end: END_STREAM, with no more data.
func (s *h2Stream) end() {
	s.c.t.Helper()
	for !s.ended {
		ev := s.next()
		if ev.typ != http2.FrameData || len(ev.data) != 0 {
			s.c.t.Fatalf("stream %d: %v frame %q (code %v), want an empty END_STREAM", s.id, ev.typ, ev.data, ev.code)
		}
	}
}

// The server's SETTINGS are the ones cmd/furl/main.go newHTTPServer asks
// for: 250 concurrent streams, and a header list of furl's 1 MiB
// MaxHeaderBytes plus the 320 bytes Go's server adds for HTTP/2's per-field
// overhead. The rest is logged, for the report.
func TestH2ServerSettings(t *testing.T) {
	f := startTLSFurl(t)
	for _, m := range h2Modes {
		t.Run(m.name, func(t *testing.T) {
			c := dialH2(t, f, "https://localhost/", m.tls, true)
			got := c.serverSettings()
			var names []string
			for id, v := range got {
				names = append(names, fmt.Sprintf("%v=%d", id, v))
			}
			sort.Strings(names)
			t.Logf("furl's SETTINGS over %s: %s", m.name, strings.Join(names, " "))
			if v, ok := got[http2.SettingMaxConcurrentStreams]; !ok || v != 250 {
				t.Errorf("MAX_CONCURRENT_STREAMS %d (sent %v), want 250", v, ok)
			}
			if v, ok := got[http2.SettingMaxHeaderListSize]; !ok || v != 1<<20+10*32 {
				t.Errorf("MAX_HEADER_LIST_SIZE %d (sent %v), want %d", v, ok, 1<<20+10*32)
			}
		})
	}
}

// A RESPONSE_STREAM URL's answer goes out as it is written: the HEADERS
// and the DATA of token 1 arrive while the function waits for the test to
// have token 1 before it writes token 2, so before it ends; END_STREAM
// comes only after the last token. Response header names are lower case,
// as HTTP/2 demands.
func TestH2FramesStreamAsWritten(t *testing.T) {
	f := startTLSFurl(t)
	c := f.client()
	createStreamFunction(t, c, "sse", "url", 60)
	u := streamingURL(t, c, "sse")
	for _, m := range h2Modes {
		t.Run(m.name, func(t *testing.T) {
			conn := dialH2(t, f, u, m.tls, true)
			g := newGate(t)
			s := conn.get("/sse?n=3&gate=" + g.query())
			status, fields := s.head()
			if status != 201 {
				t.Fatalf("status %d: %v", status, fields)
			}
			names := map[string]string{}
			for _, hf := range fields {
				if hf.Name != strings.ToLower(hf.Name) {
					t.Errorf("header name %q is not lower case", hf.Name)
				}
				names[hf.Name] = hf.Value
			}
			if names["content-type"] != "text/event-stream" || names["x-amzn-requestid"] == "" {
				t.Errorf("headers %v", fields)
			}
			for i := 1; i <= 3; i++ {
				s.token(i)
				g.open(t, i)
			}
			s.end()
			f.out.waitFor(t, "streamfn finished 3 tokens: <nil>", 10*time.Second)
		})
	}
}

// A function that fails after its first bytes ends its stream with
// RST_STREAM INTERNAL_ERROR, never a frame with END_STREAM; the connection
// serves the next stream.
func TestH2FramesMidStreamFailureResets(t *testing.T) {
	f := startTLSFurl(t)
	c := f.client()
	createStreamFunction(t, c, "reader", "reader", 10)
	u := streamingURL(t, c, "reader")
	for _, m := range h2Modes {
		t.Run(m.name, func(t *testing.T) {
			conn := dialH2(t, f, u, m.tls, true)
			g := newGate(t)
			s := conn.get("/?n=3&failAfter=2&gate=" + g.query())
			if status, fields := s.head(); status != 200 {
				t.Fatalf("status %d: %v", status, fields)
			}
			s.token(1)
			g.open(t, 1)
			s.token(2)
			g.open(t, 2) // the function fails now
			for {
				ev := s.next()
				if ev.end {
					t.Fatalf("a %v frame %q ends the failed stream cleanly", ev.typ, ev.data)
				}
				if ev.typ == http2.FrameRSTStream {
					if ev.code != http2.ErrCodeInternal {
						t.Fatalf("RST_STREAM %v, want INTERNAL_ERROR", ev.code)
					}
					break
				}
				if ev.typ != http2.FrameData || len(ev.data) != 0 {
					t.Fatalf("after the failure: %v frame %q", ev.typ, ev.data)
				}
			}
			f.logs.waitFor(t, "error_type=errorString", 10*time.Second)

			g2 := newGate(t)
			g2.open(t, 1)
			next := conn.get("/?n=2&gate=" + g2.query())
			if status, _ := next.head(); status != 200 {
				t.Fatalf("the next stream: status %d", status)
			}
			if body := next.rest(); string(body) != "data: token 1\n\ndata: token 2\n\n" {
				t.Fatalf("the next stream: %q", body)
			}
		})
	}
}

// A client that resets its stream mid-stream (RST_STREAM CANCEL) stops
// furl's copy, not the function, which writes its remaining tokens to the
// end; no DATA follows on the reset stream, and a stream opened before the
// reset carries on to its end.
func TestH2FramesClientResetFunctionRunsOn(t *testing.T) {
	f := startTLSFurl(t)
	c := f.client()
	createStreamFunction(t, c, "sse", "url", 60)
	u := streamingURL(t, c, "sse")
	for _, m := range h2Modes {
		t.Run(m.name, func(t *testing.T) {
			conn := dialH2(t, f, u, m.tls, true)
			gone := strings.Count(f.logs.String(), "the client of a streaming URL went away; the function runs on")
			finished := strings.Count(f.out.String(), "streamfn finished 5 tokens: <nil>")
			ga, gb := newGate(t), newGate(t)
			a := conn.get("/sse?n=5&gate=" + ga.query())
			b := conn.get("/sse?n=2&gate=" + gb.query())
			for _, s := range []*h2Stream{a, b} {
				if status, _ := s.head(); status != 201 {
					t.Fatalf("stream %d: status %d", s.id, status)
				}
				s.token(1)
			}
			a.reset(http2.ErrCodeCancel)
			f.logs.waitCount(t, "the client of a streaming URL went away; the function runs on", gone+1, 10*time.Second)
			// Only now may the function write tokens 2 to 5: any DATA of
			// them on stream a is furl copying past the reset.
			for i := 1; i <= 4; i++ {
				ga.open(t, i)
			}
			f.out.waitCount(t, "streamfn finished 5 tokens: <nil>", finished+1, 10*time.Second)

			gb.open(t, 1)
			b.token(2)
			b.end()
			conn.ping()
			for {
				select {
				case ev := <-a.events:
					if ev.typ == http2.FrameData || ev.typ == http2.FrameHeaders {
						t.Fatalf("after the reset, stream a got a %v frame %q", ev.typ, ev.data)
					}
					continue
				default:
				}
				break
			}
		})
	}
}

// Many gated streams on one connection, all opened and all holding their
// first token before any function may finish, all get their data.
func TestH2FramesManyConcurrentStreams(t *testing.T) {
	const n = 50
	f := startTLSFurl(t)
	c := f.client()
	createStreamFunction(t, c, "sse", "url", 60)
	u := streamingURL(t, c, "sse")
	// Warm n environments first, each stream's gate opened as soon as its
	// token is in: the gated round must not wait for n cold starts, which
	// on a loaded machine may outlast the function's gate wait.
	warm := dialH2(t, f, u, false, true)
	var warming []*h2Stream
	var warmGates []gate
	for range n {
		g := newGate(t)
		warmGates = append(warmGates, g)
		warming = append(warming, warm.get("/sse?n=2&gate="+g.query()))
	}
	for i, s := range warming {
		s.head()
		s.token(1)
		warmGates[i].open(t, 1)
	}
	for _, s := range warming {
		s.token(2)
		s.end()
	}
	for _, m := range h2Modes {
		t.Run(m.name, func(t *testing.T) {
			conn := dialH2(t, f, u, m.tls, true)
			gates := make([]gate, n)
			streams := make([]*h2Stream, n)
			for i := range streams {
				gates[i] = newGate(t)
				streams[i] = conn.get("/sse?n=2&gate=" + gates[i].query())
			}
			for _, s := range streams {
				if status, _ := s.head(); status != 201 {
					t.Fatalf("stream %d: status %d", s.id, status)
				}
				s.token(1)
			}
			for i, s := range streams {
				gates[i].open(t, 1)
				s.token(2)
				s.end()
			}
		})
	}
}

// runtimeRecvQueue is how many bytes the functions have sent furl's
// Runtime APIs that furl has not read: the receive queues of the
// established connections furl accepted on a Runtime API port.
func runtimeRecvQueue(t testing.TB, f *furl) int {
	t.Helper()
	ports := map[string]bool{}
	for _, p := range runtimeAPIPorts(t, f) {
		ports[fmt.Sprintf("%04X", p)] = true
	}
	raw, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// sl local rem st tx:rx ...
		if len(fields) < 5 || fields[3] != "01" {
			continue
		}
		_, port, _ := strings.Cut(fields[1], ":")
		if !ports[port] {
			continue
		}
		_, rx, _ := strings.Cut(fields[4], ":")
		b, err := hex.DecodeString(fmt.Sprintf("%08s", rx))
		if err != nil {
			t.Fatalf("rx_queue %q: %v", rx, err)
		}
		total += int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	}
	return total
}

// A reader that grants little flow-control credit backs the function up:
// furl never sends past the window, stops reading the runtime's stream
// (its receive queue fills while the function has far more to write, and
// the function does not end), and its memory does not grow with the
// response; WINDOW_UPDATEs then let every byte through.
func TestH2FramesFlowControl(t *testing.T) {
	const (
		total      = 256 << 20
		window     = 1024
		grant      = 256 << 10
		connWindow = 65535 // HTTP/2's initial connection window
	)
	// Far above the few MB the copy takes (about 4 MB; under the race
	// detector, whose shadow memory follows every allocation, up to 45 MB)
	// and far below buffering the response.
	memoryBound := int64(24 << 20)
	if raceEnabled {
		memoryBound = 96 << 20
	}
	f := startTLSFurl(t, "--stream-max-bytes", strconv.Itoa(2*total))
	c := f.client()
	createStreamFunction(t, c, "reader", "reader", 120)
	u := streamingURL(t, c, "reader")
	for _, m := range h2Modes {
		t.Run(m.name, func(t *testing.T) {
			conn := dialH2(t, f, u, m.tls, false, http2.Setting{ID: http2.SettingInitialWindowSize, Val: window})
			conn.serverSettings()
			conn.ping() // furl has our SETTINGS
			reports := strings.Count(f.out.String(), "REPORT RequestId")
			before, ok := procStatus(f.cmd.Process.Pid, "VmRSS")
			if !ok {
				t.Fatal("no VmRSS for furl")
			}
			s := conn.get("/?bytes=" + strconv.Itoa(total))
			if status, _ := s.head(); status != 200 {
				t.Fatalf("status %d", status)
			}
			streamGranted, connGranted := window, connWindow
			received, nonZero := 0, 0
			// take reads DATA up to what was granted, checking that furl never
			// sends past the window.
			take := func() {
				t.Helper()
				for received < streamGranted && !s.ended {
					ev := s.next()
					if ev.typ != http2.FrameData {
						t.Fatalf("a %v frame (code %v) after %d bytes", ev.typ, ev.code, received)
					}
					received += len(ev.data)
					nonZero += len(ev.data) - bytes.Count(ev.data, []byte{0})
					if received > streamGranted || received > connGranted {
						t.Fatalf("furl sent %d bytes with %d of stream and %d of connection credit", received, streamGranted, connGranted)
					}
				}
			}
			take()
			if received != window {
				t.Fatalf("%d bytes in the first window of %d", received, window)
			}
			// The backpressure reaches the function: furl stops reading its
			// stream, whose bytes then wait in the kernel, not one of them
			// read for a quarter of a second while the function has far more
			// to send. (How many wait is the kernel's choice: loopback's
			// receive window, under a full test run's load, held 29 KiB.)
			deadline := time.Now().Add(30 * time.Second)
			for q, last, still := runtimeRecvQueue(t, f), -1, 0; ; q = runtimeRecvQueue(t, f) {
				if q >= 8<<10 && q == last {
					still++
				} else {
					still = 0
				}
				if still >= 25 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("furl keeps reading the function's stream (%d bytes unread) while the client holds %d bytes", q, received)
				}
				last = q
				time.Sleep(10 * time.Millisecond)
			}
			if strings.Count(f.out.String(), "REPORT RequestId") != reports {
				t.Fatalf("the function ended with the client holding %d of %d bytes", received, total)
			}
			blocked, _ := procStatus(f.cmd.Process.Pid, "VmRSS")
			for !s.ended {
				streamGranted += grant
				connGranted += grant
				conn.write(func() error { return conn.fr.WriteWindowUpdate(0, grant) })
				conn.write(func() error { return conn.fr.WriteWindowUpdate(s.id, grant) })
				take()
			}
			if received != total || nonZero != 0 {
				t.Fatalf("%d bytes (%d not zero), want %d zeros", received, nonZero, total)
			}
			peak, _ := procStatus(f.cmd.Process.Pid, "VmHWM")
			t.Logf("furl's RSS: %d kB before, %d kB with the function backed up, peak %d kB; %d MB streamed", before, blocked, peak, total>>20)
			if growth := (peak - before) << 10; growth > memoryBound {
				t.Errorf("furl's peak RSS grew by %d MB streaming %d MB to a slow reader, want under %d MB", growth>>20, total>>20, memoryBound>>20)
			}
			f.out.waitCount(t, "REPORT RequestId", reports+1, 30*time.Second)
		})
	}
}
