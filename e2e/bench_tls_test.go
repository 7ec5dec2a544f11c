package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The TLS benchmarks measure furl started with --listen-tls against
// furl's own plain listener, in the same run, on one furl process: every
// variant is measured round by round in turn (the first variant rotates),
// and medians are reported with their ratio to HTTP/1.1 without TLS, since
// this machine is shared and noisy. scripts/bench-tls.sh runs them all and
// prints a table.

// tlsBench is a furl serving both plain HTTP (HTTP/1.1 and h2c) and HTTPS
// (h2 and HTTP/1.1), and the pool holding its local CA's root, which the
// HTTPS clients trust and nothing else.
type tlsBench struct {
	f     *furl
	roots *x509.CertPool
}

func newTLSBench(b *testing.B, extra ...string) *tlsBench {
	b.Helper()
	f := startFurl(b, b.TempDir(), "127.0.0.1:0", append([]string{"--listen-tls", "127.0.0.1:0", "--log-level", "info"}, extra...)...)
	if f.tlsAddr == "" {
		b.Fatal("furl started without its HTTPS listener")
	}
	root, err := os.ReadFile(filepath.Join(f.dataDir, "tls", "ca", "root.pem"))
	if err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(root) {
		b.Fatal("the CA's root.pem holds no certificate")
	}
	return &tlsBench{f: f, roots: roots}
}

// benchVariant is one way of reaching a function URL: a client that
// speaks one protocol, the URL's base for it, and the protocol the
// response must come back in (so a silent fallback cannot pass for it).
type benchVariant struct {
	name, base, proto string
	client            *benchClient
}

// benchClient is an HTTP client that resolves *.localhost to loopback and
// counts the connections it dials, which proves that a measurement on a
// kept-alive connection (or on ONE h2 connection) really was.
type benchClient struct {
	*http.Client
	dials atomic.Int64
}

// newBenchClient speaks only the given protocol: "h1" or "h2c" to the
// plain port, "h1-tls" or "h2-tls" to the HTTPS port, trusting only roots.
func newBenchClient(proto string, roots *x509.CertPool) *benchClient {
	c := &benchClient{}
	var p http.Protocols
	switch proto {
	case "h1", "h1-tls":
		p.SetHTTP1(true)
	case "h2c":
		p.SetUnencryptedHTTP2(true)
	case "h2-tls":
		p.SetHTTP2(true)
	default:
		panic("unknown protocol " + proto)
	}
	c.Client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c.dials.Add(1)
			return localhostClient.Transport.(*http.Transport).DialContext(ctx, network, addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: roots},
		Protocols:           &p,
		MaxIdleConnsPerHost: 1,
	}}
	return c
}

// variants are the four ways to reach the function URL u (as the API
// gave it: https, on the TLS port), with h1 plain first: the ratios are
// to it.
func (tb *tlsBench) variants(b *testing.B, u string) []benchVariant {
	b.Helper()
	parsed, err := url.Parse(u)
	if err != nil || parsed.Scheme != "https" {
		b.Fatalf("FunctionUrl %q is not https", u)
	}
	_, plainPort, _ := net.SplitHostPort(tb.f.addr)
	plain := "http://" + net.JoinHostPort(parsed.Hostname(), plainPort) + "/"
	return []benchVariant{
		{"h1-plain", plain, "HTTP/1.1", newBenchClient("h1", nil)},
		{"h1-tls", u, "HTTP/1.1", newBenchClient("h1-tls", tb.roots)},
		{"h2-tls", u, "HTTP/2.0", newBenchClient("h2-tls", tb.roots)},
		{"h2c", plain, "HTTP/2.0", newBenchClient("h2c", nil)},
	}
}

// get sends a GET with v's client and checks the status and protocol.
func (v benchVariant) get(b *testing.B, path string, status int) *http.Response {
	b.Helper()
	resp, err := v.client.Get(v.base + path)
	if err != nil {
		b.Fatalf("%s: %v", v.name, err)
	}
	if resp.StatusCode != status || resp.Proto != v.proto {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		resp.Body.Close()
		b.Fatalf("%s: %s %d %q, want %s %d", v.name, resp.Proto, resp.StatusCode, body, v.proto, status)
	}
	return resp
}

// rotated is vs starting at round's place, so that no variant always runs
// first (after a pause) or last.
func rotated[T any](vs []T, round int) []T {
	i := round % len(vs)
	return append(append([]T(nil), vs[i:]...), vs[:i]...)
}

func medianFloat(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// BenchmarkTLSStreamThroughput streams 64 MiB per round from streamfn
// (MODE=reader, ?bytes=) through a RESPONSE_STREAM URL over HTTP/1.1 plain,
// HTTP/1.1 over TLS, h2 over TLS and h2c, and reports each one's median
// MiB/s and its ratio to HTTP/1.1 plain. Beside them, in the same rounds,
// a net/http server in this process writes and flushes the same bytes in
// 64 KiB pieces over HTTP/1.1 and over h2 with TLS ("go-h1", "go-h2-tls"):
// what Go's own stacks do, so that furl's ratios can be read against
// theirs.
//
//	go test ./e2e -run XXX -bench TLSStreamThroughput -benchtime 10x
func BenchmarkTLSStreamThroughput(b *testing.B) {
	const size = 64 << 20
	tb := newTLSBench(b)
	c := tb.f.client()
	createStreamFunction(b, c, "tlsbytes", "reader", 60)
	vs := tb.variants(b, streamingURL(b, c, "tlsbytes"))
	bytesHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("bytes"))
		writePieces(w, n)
	})
	goH1 := httptest.NewServer(bytesHandler)
	b.Cleanup(goH1.Close)
	goH2 := httptest.NewUnstartedServer(bytesHandler)
	goH2.EnableHTTP2 = true
	goH2.StartTLS()
	b.Cleanup(goH2.Close)
	goRoots := x509.NewCertPool()
	goRoots.AddCert(goH2.Certificate())
	vs = append(vs,
		benchVariant{"go-h1", goH1.URL + "/", "HTTP/1.1", newBenchClient("h1", nil)},
		benchVariant{"go-h2-tls", goH2.URL + "/", "HTTP/2.0", newBenchClient("h2-tls", goRoots)})
	path := "?bytes=" + strconv.Itoa(size)
	b.Run("64MiB", func(b *testing.B) {
		rates := map[string][]float64{}
		for round := range b.N {
			for _, v := range rotated(vs, round) {
				start := time.Now()
				resp := v.get(b, path, 200)
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(start)
				if err != nil || n != size {
					b.Fatalf("%s: %d bytes of %d, %v", v.name, n, size, err)
				}
				rates[v.name] = append(rates[v.name], float64(size)/(1<<20)/d.Seconds())
			}
		}
		base := medianFloat(rates[vs[0].name])
		for _, v := range vs {
			m := medianFloat(rates[v.name])
			b.ReportMetric(m, v.name+"-MiB/s")
			if v.name != vs[0].name && !strings.HasPrefix(v.name, "go-") {
				b.ReportMetric(m/base, v.name+"/h1-plain")
			}
		}
		b.ReportMetric(medianFloat(rates["go-h2-tls"])/medianFloat(rates["go-h1"]), "go-h2-tls/go-h1")
		b.ReportMetric(0, "ns/op")
	})
}

// BenchmarkTLSStreamFirstByte measures a warm streamed response's first
// byte on a kept-alive connection, over each variant: from the client
// sending the request to it holding the first line ("request"), and from
// the function writing that line (streamfn's clock mode writes the time
// it wrote it; one host, one clock) to the client holding it ("relay").
//
//	go test ./e2e -run XXX -bench TLSStreamFirstByte -benchtime 300x
func BenchmarkTLSStreamFirstByte(b *testing.B) {
	tb := newTLSBench(b)
	c := tb.f.client()
	createStreamFunction(b, c, "tlsclock", "reader", 60)
	vs := tb.variants(b, streamingURL(b, c, "tlsclock"))
	one := func(b *testing.B, v benchVariant) (request, relay time.Duration) {
		start := time.Now()
		resp := v.get(b, "?clock", 200)
		defer resp.Body.Close()
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		got := time.Now()
		written, perr := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
		if err != nil || perr != nil {
			b.Fatalf("%s: first line %q: %v %v", v.name, line, err, perr)
		}
		// Read to the end, so that the connection goes back to the pool.
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			b.Fatalf("%s: %v", v.name, err)
		}
		return got.Sub(start), got.Sub(time.Unix(0, written))
	}
	for _, v := range vs { // a warm environment and one open connection each
		one(b, v)
	}
	b.Run("warm", func(b *testing.B) {
		request, relay := map[string][]time.Duration{}, map[string][]time.Duration{}
		for round := range b.N {
			for _, v := range rotated(vs, round) {
				rq, rl := one(b, v)
				request[v.name] = append(request[v.name], rq)
				relay[v.name] = append(relay[v.name], rl)
			}
		}
		for _, v := range vs {
			if n := v.client.dials.Load(); n != 1 {
				b.Fatalf("%s dialed %d connections, not one kept alive", v.name, n)
			}
		}
		baseRq, baseRl := median(request[vs[0].name]), median(relay[vs[0].name])
		for _, v := range vs {
			rq, rl := median(request[v.name]), median(relay[v.name])
			b.ReportMetric(ms(rq), v.name+"-request-ms")
			b.ReportMetric(ms(rl), v.name+"-relay-ms")
			if v.name != vs[0].name {
				b.ReportMetric(float64(rq)/float64(baseRq), v.name+"/h1-plain-request")
				b.ReportMetric(float64(rl)/float64(baseRl), v.name+"/h1-plain-relay")
			}
		}
		b.ReportMetric(0, "ns/op")
	})
}

// BenchmarkTLSHandshake measures what TLS costs a connection:
//
//   - "request": one small request to a warm BUFFERED URL (urlfn's /echo)
//     on a new connection (dial, full TLS 1.3 handshake without
//     resumption, h2) and on a reused one, with plain HTTP/1.1 beside them;
//     "handshake" is the handshake alone, as httptrace saw it.
//
//   - "issuance": a TLS handshake for a function URL's name the first time
//     (furl's CA issues its certificate during the handshake) and the
//     second time (certmagic's cache), which must present the same
//     certificate.
//
//     go test ./e2e -run XXX -bench TLSHandshake -benchtime 50x
func BenchmarkTLSHandshake(b *testing.B) {
	tb := newTLSBench(b)
	c := tb.f.client()
	createURLFunction(b, c, "tlsecho", 10)
	vs := tb.variants(b, publicURL(b, c, "tlsecho", nil))
	plain, h2 := vs[0], vs[2]

	// echo sends one request with client; it reports how long it took, and
	// the handshake's part of it (0 without one), and whether the
	// connection was reused.
	echo := func(b *testing.B, v benchVariant, client *http.Client) (total, handshake time.Duration, reused bool) {
		var hsStart time.Time
		trace := &httptrace.ClientTrace{
			GotConn:           func(info httptrace.GotConnInfo) { reused = info.Reused },
			TLSHandshakeStart: func() { hsStart = time.Now() },
			TLSHandshakeDone: func(st tls.ConnectionState, err error) {
				if err == nil && !st.DidResume {
					handshake = time.Since(hsStart)
				}
			},
		}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", v.base+"echo", nil)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatalf("%s: %v", v.name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		total = time.Since(start)
		if err != nil || resp.StatusCode != 200 || resp.Proto != v.proto || !strings.Contains(string(body), `"rawPath":"/echo"`) {
			b.Fatalf("%s: %s %d %q %v", v.name, resp.Proto, resp.StatusCode, body, err)
		}
		return total, handshake, reused
	}
	fresh := func(v benchVariant) *http.Client {
		return newBenchClient(map[string]string{"h1-plain": "h1", "h2-tls": "h2-tls"}[v.name], tb.roots).Client
	}
	for _, v := range []benchVariant{plain, h2} { // warm the environment and the kept-alive connections
		echo(b, v, v.client.Client)
	}

	b.Run("request", func(b *testing.B) {
		type kind struct {
			name string
			v    benchVariant
			new  bool
		}
		kinds := []kind{{"h1-plain-new", plain, true}, {"h1-plain-reused", plain, false}, {"h2-tls-new", h2, true}, {"h2-tls-reused", h2, false}}
		total, hs := map[string][]time.Duration{}, map[string][]time.Duration{}
		for round := range b.N {
			for _, k := range rotated(kinds, round) {
				client := k.v.client.Client
				if k.new {
					client = fresh(k.v)
				}
				d, h, reused := echo(b, k.v, client)
				if reused == k.new {
					b.Fatalf("%s: connection reused %v", k.name, reused)
				}
				if k.new {
					client.CloseIdleConnections()
				}
				if k.name == "h2-tls-new" {
					if h == 0 {
						b.Fatalf("%s: no full TLS handshake", k.name)
					}
					hs[k.name] = append(hs[k.name], h)
				}
				total[k.name] = append(total[k.name], d)
			}
		}
		for _, k := range kinds {
			b.ReportMetric(ms(median(total[k.name])), k.name+"-ms")
		}
		b.ReportMetric(ms(median(hs["h2-tls-new"])), "h2-tls-handshake-ms")
		b.ReportMetric(float64(median(total["h2-tls-new"]))/float64(median(total["h2-tls-reused"])), "h2-tls-new/reused")
		b.ReportMetric(0, "ns/op")
	})

	tlsPort := tb.f.tlsAddr[strings.LastIndex(tb.f.tlsAddr, ":")+1:]
	// handshake dials the HTTPS port for name and returns how long the
	// handshake took and the serial of the certificate furl presented,
	// which must be valid for name under furl's root.
	handshake := func(b *testing.B, name string) (time.Duration, string) {
		conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", tlsPort))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		tc := tls.Client(conn, &tls.Config{ServerName: name, RootCAs: tb.roots, NextProtos: []string{"h2"}})
		start := time.Now()
		err = tc.HandshakeContext(ctx(b))
		d := time.Since(start)
		if err != nil {
			b.Fatalf("handshake for %s: %v", name, err)
		}
		return d, tc.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	made := 0 // b.Run runs its function more than once: names stay unique
	b.Run("issuance", func(b *testing.B) {
		var first, cached []time.Duration
		for range b.N {
			made++
			fn := fmt.Sprintf("tlsname%d", made)
			if _, err := c.CreateFunction(ctx(b), &lambda.CreateFunctionInput{
				FunctionName: aws.String(fn), Runtime: types.RuntimeProvidedal2023, Role: aws.String(testRole),
				Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: urlFunction(b)},
			}); err != nil {
				b.Fatal(err)
			}
			out, err := c.CreateFunctionUrlConfig(ctx(b), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String(fn), AuthType: types.FunctionUrlAuthTypeNone})
			if err != nil {
				b.Fatal(err)
			}
			u, err := url.Parse(aws.ToString(out.FunctionUrl))
			if err != nil {
				b.Fatal(err)
			}
			d1, serial1 := handshake(b, u.Hostname())
			d2, serial2 := handshake(b, u.Hostname())
			if serial1 != serial2 {
				b.Fatalf("%s: the second handshake presented certificate %s, not the first one's %s", u.Hostname(), serial2, serial1)
			}
			first, cached = append(first, d1), append(cached, d2)
		}
		b.ReportMetric(ms(median(first)), "first-handshake-ms")
		b.ReportMetric(ms(median(cached)), "cached-handshake-ms")
		b.ReportMetric(float64(median(first))/float64(median(cached)), "first/cached")
		b.ReportMetric(0, "ns/op")
	})
}

// BenchmarkTLSConcurrentStreams opens 200 gated SSE streams (streamfn's
// /sse?n=2) on ONE h2 connection over TLS and measures furl's resident
// memory (VmRSS) while all are open, each having delivered its first
// token; then it opens the gate and checks that every stream delivers its
// second token and ends cleanly.
//
// Each concurrent invocation has an execution environment of its own, a
// process under furl. Starting 200 of them while 200 gated functions poll
// their gate starves this 2-core machine past the functions' gate wait, so
// each iteration starts a fresh furl and first warms 200 environments with
// 200 concurrent ungated streams; then come two measured rounds. Reported:
//
//   - furl-KiB/stream: furl's growth from idle (the environments warm, the
//     connection open) to 200 streams open, per stream. Go keeps the heap
//     the warm-up grew, so this is what a stream adds on top of it.
//
//   - furl+env-KiB/stream: furl's growth from one environment to 200
//     streams open: a stream and the bookkeeping of its environment.
//
//   - with-envs-KiB/stream: the same for furl and every process under it,
//     the environments' own memory included, each process counted by its
//     PSS (see treeRSS).
//
//   - environments: furl's children (one supervisor per environment) just
//     before the streams open; open-200-s, how long the 200 took to open.
//
//     go test ./e2e -run XXX -bench TLSConcurrentStreams -benchtime 3x
func BenchmarkTLSConcurrentStreams(b *testing.B) {
	const streams = 200
	b.Run("h2-200", func(b *testing.B) {
		var perStream, withEnv, tree, furlOpen, treeOpen, envs []float64
		var openTime []time.Duration
		for range b.N {
			// Each environment counts at its MemorySize (128 MB) against
			// --max-env-memory, whose default (half this machine's memory)
			// may hold fewer than 200; the account's default 1000 do.
			tb := newTLSBench(b, "--max-env-memory", strconv.Itoa(2*streams*128))
			c := tb.f.client()
			createStreamFunction(b, c, "fan", "url", 60)
			u := streamingURL(b, c, "fan")
			client := newBenchClient("h2-tls", tb.roots)
			// One stream first: the connection is up, and has the server's
			// SETTINGS (its stream limit), before the 200 go out at once.
			oneToken(b, client, u)
			pid := tb.f.cmd.Process.Pid
			furl0, tree0, _ := treeRSS(b, pid)

			var wg sync.WaitGroup
			for range streams {
				wg.Add(1)
				go func() {
					defer wg.Done()
					oneToken(b, client, u)
				}()
			}
			wg.Wait()
			if b.Failed() {
				b.FailNow()
			}
			finished := 1 + streams
			tb.f.out.waitCount(b, "streamfn finished 1 tokens: <nil>", finished, 30*time.Second)

			for range 2 {
				furlIdle, _, procs := treeRSS(b, pid)
				start := time.Now()
				envs = append(envs, float64(procs))
				m := fanOut(b, client, pid, u, streams)
				openTime = append(openTime, time.Since(start))
				if n := client.dials.Load(); n != 1 {
					b.Fatalf("%d connections, not one", n)
				}
				finished += streams
				tb.f.out.waitCount(b, "streamfn finished ", finished, 30*time.Second)
				tb.f.out.waitCount(b, "streamfn finished 2 tokens: <nil>", finished-1-streams, 30*time.Second)
				perStream = append(perStream, float64(m.furl-furlIdle)/streams)
				withEnv = append(withEnv, float64(m.furl-furl0)/streams)
				tree = append(tree, float64(m.tree-tree0)/streams)
				furlOpen = append(furlOpen, float64(m.furl)/1024)
				treeOpen = append(treeOpen, float64(m.tree)/1024)
			}
			tb.f.stop()
		}
		b.ReportMetric(medianFloat(perStream), "furl-KiB/stream")
		b.ReportMetric(medianFloat(withEnv), "furl+env-KiB/stream")
		b.ReportMetric(medianFloat(tree), "with-envs-KiB/stream")
		b.ReportMetric(medianFloat(furlOpen), "furl-MiB-open")
		b.ReportMetric(medianFloat(treeOpen), "with-envs-MiB-open")
		b.ReportMetric(medianFloat(envs), "environments")
		b.ReportMetric(ms(median(openTime))/1000, "open-200-s")
		b.ReportMetric(0, "ns/op")
	})
}

// oneToken reads u's /sse?n=1 with client, over h2: one token, then a
// clean end.
func oneToken(b *testing.B, client *benchClient, u string) {
	resp, err := client.Get(u + "sse?n=1")
	if err != nil {
		b.Error(err)
		return
	}
	defer resp.Body.Close()
	if body, err := io.ReadAll(resp.Body); err != nil || resp.StatusCode != 201 || resp.Proto != "HTTP/2.0" || string(body) != "data: token 1\n\n" {
		b.Errorf("%s %d %q %v", resp.Proto, resp.StatusCode, body, err)
	}
}

// openMemory is resident memory in KiB, of furl and of furl with every
// process under it.
type openMemory struct{ furl, tree int64 }

// fanOut opens n gated SSE streams of u's /sse?n=2 at once with client,
// waits until each has its first token, samples the memory of furl (pid)
// and its process tree, opens the gate and waits for every stream's clean
// end.
func fanOut(b *testing.B, client *benchClient, pid int, u string, n int) openMemory {
	b.Helper()
	g := newHeldGate(b)
	first := make(chan error, n)
	done := make(chan error, n)
	release := make(chan struct{})
	for range n {
		go func() {
			resp, err := client.Get(u + "sse?n=2&gate=" + g.query())
			if err != nil {
				first <- err
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != 201 || resp.Proto != "HTTP/2.0" {
				first <- fmt.Errorf("%s %d", resp.Proto, resp.StatusCode)
				return
			}
			br := bufio.NewReader(resp.Body)
			if line, err := br.ReadString('\n'); line != "data: token 1\n" {
				first <- fmt.Errorf("first line %q, %v", line, err)
				return
			}
			if blank, err := br.ReadString('\n'); blank != "\n" {
				first <- fmt.Errorf("after token 1: %q, %v", blank, err)
				return
			}
			first <- nil
			<-release
			rest, err := io.ReadAll(br)
			if err != nil || string(rest) != "data: token 2\n\n" {
				done <- fmt.Errorf("after the gate: %q, %v", rest, err)
				return
			}
			done <- nil
		}()
	}
	var failed error
	timeout := time.After(60 * time.Second)
	for opened := 0; opened < n && failed == nil; opened++ {
		select {
		case failed = <-first:
		case <-timeout:
			failed = fmt.Errorf("only %d of %d streams had their first token within 60s", opened, n)
		}
	}
	var m openMemory
	if failed == nil {
		m.furl, m.tree, _ = treeRSS(b, pid)
	}
	g.open(b, 1)
	close(release)
	if failed != nil {
		b.Fatal(failed)
	}
	for range n {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	return m
}

// treeRSS reads the VmRSS (KiB) of furl (pid); the memory of furl and
// every process under it, each counted by its PSS (its private pages and
// its share of the pages it shares: the environments' supervisors are
// copies of the furl binary and share its text, which VmRSS would count
// once per process); and furl's children: the process sandbox starts each
// environment under a supervisor of its own, a child of furl.
func treeRSS(b *testing.B, pid int) (self, total int64, children int) {
	b.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	kids := map[int][]int{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone since the listing
		}
		// The fields after the command, which is in parentheses and may
		// hold anything: the state, then the parent's pid.
		fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
		if len(fields) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err == nil {
			kids[ppid] = append(kids[ppid], child)
		}
	}
	self, ok := procStatus(pid, "VmRSS")
	if !ok {
		b.Fatalf("no VmRSS for furl's pid %d", pid)
	}
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = append(queue[1:], kids[p]...)
		if pss, ok := procPSS(p); ok {
			total += pss
		}
	}
	return self, total, len(kids[pid])
}

// procPSS reads a process's proportional set size, in KiB.
func procPSS(pid int) (int64, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "Pss:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
