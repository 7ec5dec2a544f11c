package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/furl-dev/furl/e2e/internal/relay"
)

// The floor benchmarks put furl beside the least a gateway can do on the
// same architecture (e2e/internal/relay: a payload-2.0 event handed to the
// same aws-lambda-go bootstrap over a minimal Runtime API, the structured
// result mapped back) and a plain net/http server in this process, with
// the same function and the same load generator, in one run. Each round
// runs every target for b.N requests (their order rotates round by round),
// and the metrics are medians over the rounds:
//
//	go test ./e2e -run XXX -bench Floor -benchtime 2000x
//
// scripts/bench.sh runs them all and prints the table.

// floorRounds is how many rounds each floor benchmark runs.
const floorRounds = 7

// floorTarget is one thing measured: one request, checked.
type floorTarget struct {
	name string
	one  func(*http.Client) error
}

// roundStats is one target's figures in one round.
type roundStats struct {
	rps, p50ms float64
	errors     int
}

// runRound sends n requests from conc workers with client and returns the
// requests per second, the p50 latency and the number of failed requests.
func runRound(client *http.Client, conc, n int, one func(*http.Client) error) (roundStats, error) {
	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Int64
	var firstErr atomic.Value
	work := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, n/conc+1)
			for range work {
				t0 := time.Now()
				if err := one(client); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	for range n {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	s := roundStats{rps: float64(len(lat)) / elapsed.Seconds(), errors: int(failed.Load())}
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		s.p50ms = float64(lat[len(lat)/2].Microseconds()) / 1000
	}
	err, _ := firstErr.Load().(error)
	return s, err
}

// floorCompare runs floorRounds rounds of every target at concurrency
// conc, b.N requests each, and reports each target's median req/s and p50
// and the ratio of the first target's req/s to the second's. When
// tolerateErrors is false, a failed request fails the benchmark; else
// failures are counted and reported as <name>-errors. It returns each
// target's req/s by round, for further paired ratios.
func floorCompare(b *testing.B, conc int, targets []floorTarget, tolerateErrors bool) map[string][]float64 {
	clients := map[string]*http.Client{}
	for _, t := range targets {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
		b.Cleanup(c.CloseIdleConnections)
		clients[t.name] = c
		// Warm every environment the rounds will use, and the connections.
		if _, err := runRound(c, conc, 4*conc, t.one); err != nil && !tolerateErrors {
			b.Fatalf("%s warm-up: %v", t.name, err)
		}
	}
	rps := map[string][]float64{}
	p50 := map[string][]float64{}
	cpu := map[string][]float64{}
	procCPU := map[string][]float64{}
	errs := map[string]int{}
	b.ResetTimer()
	for round := range floorRounds {
		for _, t := range rotated(targets, round) {
			busy0 := machineBusy()
			procs0 := processCPU()
			s, err := runRound(clients[t.name], conc, b.N, t.one)
			if busy := machineBusy() - busy0; busy > 0 {
				cpu[t.name] = append(cpu[t.name], float64(busy.Microseconds())/float64(b.N))
			}
			procs1 := processCPU()
			for _, who := range []string{"self", "furl", "relayd", "functions"} {
				d := procs1[who] - procs0[who]
				procCPU[t.name+"/"+who] = append(procCPU[t.name+"/"+who], float64(d.Microseconds())/float64(b.N))
			}
			if err != nil && !tolerateErrors {
				b.Fatalf("%s round %d: %v", t.name, round, err)
			}
			if err != nil && errs[t.name] == 0 {
				b.Logf("%s: first error: %v", t.name, err)
			}
			errs[t.name] += s.errors
			rps[t.name] = append(rps[t.name], s.rps)
			p50[t.name] = append(p50[t.name], s.p50ms)
		}
	}
	b.StopTimer()
	for _, t := range targets {
		b.ReportMetric(medianFloat(rps[t.name]), t.name+"-req/s")
		b.ReportMetric(medianFloat(p50[t.name]), t.name+"-p50-ms")
		if len(cpu[t.name]) > 0 {
			b.ReportMetric(medianFloat(cpu[t.name]), t.name+"-machine-cpu-us/req")
		}
		for _, who := range []string{"self", "furl", "relayd", "functions"} {
			if v := medianFloat(procCPU[t.name+"/"+who]); v > 0 {
				b.ReportMetric(v, t.name+"-"+who+"-cpu-us/req")
			}
		}
		if tolerateErrors {
			b.ReportMetric(float64(errs[t.name]), t.name+"-errors")
		}
		b.Logf("%s req/s by round: %s", t.name, roundList(rps[t.name]))
	}
	first := targets[0].name
	for _, t := range targets[1:] {
		if t.name != "plain" {
			b.ReportMetric(pairedRatio(rps[first], rps[t.name]), first+"/"+t.name)
		}
	}
	b.ReportMetric(0, "ns/op")
	return rps
}

// pairedRatio is the median of the round-by-round ratios a[i]/b[i]: pairs
// measured close together share the machine's noise.
func pairedRatio(a, b []float64) float64 {
	var r []float64
	for i := range a {
		if b[i] > 0 {
			r = append(r, a[i]/b[i])
		}
	}
	if len(r) == 0 {
		return 0
	}
	return medianFloat(r)
}

func roundList(xs []float64) string {
	var s []string
	for _, x := range xs {
		s = append(s, strconv.FormatFloat(x, 'f', 0, 64))
	}
	return strings.Join(s, " ")
}

// relayURL is where a relay started for a benchmark answers.
type relayURL struct{ URL string }

// startRelay starts a relay of bootstrap with n environments as a process
// of its own (relayd), as furl is one: the benchmark's load generator then
// drives both across the same process boundary, and neither shares the
// generator's Go runtime, whose spinning threads would pick up an
// in-process server's work without a wake-up.
func startRelay(b *testing.B, bootstrap string, n int, mode relay.Mode, env ...string) relayURL {
	b.Helper()
	relaydOnce.Do(func() {
		// Beside the furl binary, whose folder TestMain removes.
		relaydBin = filepath.Join(filepath.Dir(furlBin), "relayd")
		out, err := exec.Command("go", "build", "-o", relaydBin, "github.com/furl-dev/furl/e2e/internal/relay/relayd").CombinedOutput()
		if err != nil {
			relaydErr = fmt.Errorf("building relayd: %v\n%s", err, out)
		}
	})
	if relaydErr != nil {
		b.Fatal(relaydErr)
	}
	names := map[relay.Mode]string{relay.URL: "url", relay.Stream: "stream", relay.Invoke: "invoke", relay.InvokeStream: "invokestream"}
	args := []string{"-bootstrap", bootstrap, "-n", strconv.Itoa(n), "-mode", names[mode]}
	for _, e := range env {
		args = append(args, "-env", e)
	}
	cmd := exec.Command(relaydBin, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("relayd did not say where it listens: %v", err)
	}
	return relayURL{"http://" + strings.TrimSpace(addr)}
}

// startRelayInProcess starts a relay in the benchmark's own process.
func startRelayInProcess(b *testing.B, bootstrap string, n int, mode relay.Mode, env ...string) relayURL {
	r, err := relay.Start(bootstrap, n, mode, env...)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(r)
	b.Cleanup(func() {
		srv.Close()
		r.Close()
	})
	return relayURL{srv.URL}
}

var (
	relaydOnce sync.Once
	relaydBin  string
	relaydErr  error
)

// postCheck is a target's request: POST body to u, want 200 and want in
// the body, and no function error.
func postCheck(u string, body []byte, want string) func(*http.Client) error {
	return func(c *http.Client) error {
		resp, err := c.Post(u, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "" || !bytes.Contains(got, []byte(want)) {
			return fmt.Errorf("%d %s %q %v", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"), got, err)
		}
		return nil
	}
}

// BenchmarkFloorURL: a warm BUFFERED function URL (urlfn's /echo, which
// answers its event as JSON) through furl, through the relay with one
// environment per concurrency slot, and from a plain server that answers
// the same request fields as JSON.
//
//	go test ./e2e -run XXX -bench FloorURL -benchtime 2000x
func BenchmarkFloorURL(b *testing.B) {
	f := startFurlForBench(b, "--log-level", "info")
	c := f.client()
	createURLFunction(b, c, "floorurl", 30)
	u := publicURL(b, c, "floorurl", nil)
	id := u[len("http://"):strings.Index(u, ".")]
	// FURL_BENCH_FURL_B names a second build of furl, measured in the same
	// rounds as furl-b: two builds compared request for request.
	var fb *furl
	var idB string
	if other := os.Getenv("FURL_BENCH_FURL_B"); other != "" {
		fb = startFurlBinForBench(b, other, "--log-level", "info")
		createURLFunction(b, fb.client(), "floorurl", 30)
		ub := publicURL(b, fb.client(), "floorurl", nil)
		idB = ub[len("http://"):strings.Index(ub, ".")]
	}
	bin := functionBinary(b, urlFunction(b))
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		headers := map[string]string{}
		for k, v := range r.Header {
			headers[strings.ToLower(k)] = strings.Join(v, ",")
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"rawPath": r.URL.Path, "rawQueryString": r.URL.RawQuery, "headers": headers, "body": string(body)})
	}))
	b.Cleanup(plain.Close)
	payload := []byte(`{"order":42}`)
	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			rl := startRelay(b, bin, conc, relay.URL)
			inproc := startRelayInProcess(b, bin, conc, relay.URL)
			targets := []floorTarget{
				{"furl", postCheck(f.url("/lambda-url/"+id+"/echo?x=1"), payload, `"rawPath":"/echo"`)},
				{"relay", postCheck(rl.URL+"/echo?x=1", payload, `"rawPath":"/echo"`)},
				{"relay-inproc", postCheck(inproc.URL+"/echo?x=1", payload, `"rawPath":"/echo"`)},
				{"plain", postCheck(plain.URL+"/echo?x=1", payload, `"rawPath":"/echo"`)},
			}
			if fb != nil {
				targets = append(targets, floorTarget{"furl-b", postCheck(fb.url("/lambda-url/"+idB+"/echo?x=1"), payload, `"rawPath":"/echo"`)})
			}
			floorCompare(b, conc, targets, false)
		})
	}
}

// BenchmarkFloorInvoke: warm Invoke of gofn's echo through furl's Invoke
// API, through the relay's equivalent (POST the event, get the result's
// bytes) with one environment per concurrency slot, and a plain server
// doing the same JSON work in process.
//
//	go test ./e2e -run XXX -bench FloorInvoke -benchtime 2000x
func BenchmarkFloorInvoke(b *testing.B) {
	f := startFurlForBench(b, "--log-level", "info")
	createGo(b, f.client(), "floorinvoke", 30, nil)
	// FURL_BENCH_FURL_B names a second build of furl, measured in the same
	// rounds as furl-b.
	var fb *furl
	if other := os.Getenv("FURL_BENCH_FURL_B"); other != "" {
		fb = startFurlBinForBench(b, other, "--log-level", "info")
		createGo(b, fb.client(), "floorinvoke", 30, nil)
	}
	bin := functionBinary(b, goFunction(b))
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e struct{ Action, Value string }
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"env": "plain", "requestId": "r", "arn": "a", "value": e.Value, "hasDeadline": true})
	}))
	b.Cleanup(plain.Close)
	payload := []byte(`{"action":"echo","value":"hello"}`)
	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			rl := startRelay(b, bin, conc, relay.Invoke)
			inproc := startRelayInProcess(b, bin, conc, relay.Invoke)
			targets := []floorTarget{
				{"furl", postCheck(f.url("/2015-03-31/functions/floorinvoke/invocations"), payload, `"value":"hello"`)},
				{"relay", postCheck(rl.URL, payload, `"value":"hello"`)},
				{"relay-inproc", postCheck(inproc.URL, payload, `"value":"hello"`)},
				{"plain", postCheck(plain.URL, payload, `"value":"hello"`)},
			}
			if fb != nil {
				targets = append(targets, floorTarget{"furl-b", postCheck(fb.url("/2015-03-31/functions/floorinvoke/invocations"), payload, `"value":"hello"`)})
			}
			floorCompare(b, conc, targets, false)
		})
	}
}

// BenchmarkFloorRIE: furl's Invoke API against AWS's Runtime Interface
// Emulator running the same gofn bootstrap, alternating round by round,
// with the relay's Invoke beside them: relay/rie is how far above the
// emulator the architecture's floor itself lies.
// FURL_BENCH_RIE names the emulator's executable (built from its source
// outside this repository: scripts/bench.sh says how); without it the
// benchmark is skipped. RIE's failed requests are counted, not fatal.
//
//	FURL_BENCH_RIE=/tmp/rie/aws-lambda-rie go test ./e2e -run XXX -bench FloorRIE -benchtime 2000x
func BenchmarkFloorRIE(b *testing.B) {
	rie := os.Getenv("FURL_BENCH_RIE")
	if rie == "" {
		b.Skip("FURL_BENCH_RIE is not set: build AWS's Runtime Interface Emulator outside the repository and name its executable there (see scripts/bench.sh)")
	}
	f := startFurlForBench(b, "--log-level", "info")
	createGo(b, f.client(), "floorrie", 30, nil)
	bin := functionBinary(b, goFunction(b))
	payload := []byte(`{"action":"echo","value":"hello"}`)
	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			r := startRIE(b, rie, bin)
			rl := startRelay(b, bin, conc, relay.Invoke)
			rps := floorCompare(b, conc, []floorTarget{
				{"furl", postCheck(f.url("/2015-03-31/functions/floorrie/invocations"), payload, `"value":"hello"`)},
				{"rie", postCheck("http://"+r.addr+"/2015-03-31/functions/function/invocations", payload, `"value":"hello"`)},
				{"relay", postCheck(rl.URL, payload, `"value":"hello"`)},
			}, true)
			b.ReportMetric(pairedRatio(rps["relay"], rps["rie"]), "relay/rie")
			select {
			case <-r.exited:
				b.ReportMetric(1, "rie-exited")
				b.Logf("RIE exited during the run (%v); its output's first lines about it:\n%s", r.err, r.crash())
			default:
				b.ReportMetric(0, "rie-exited")
			}
		})
	}
}

// rieProcess is a running AWS emulator.
type rieProcess struct {
	addr   string        // where it takes invocations
	exited chan struct{} // closed when it exits
	err    error         // its exit, once exited is closed
	log    string        // the file its output goes to
}

// crash is the emulator's output from its first panic or fatal line on,
// at most 20 lines.
func (r *rieProcess) crash() string {
	raw, _ := os.ReadFile(r.log)
	lines := strings.Split(string(raw), "\n")
	for i, l := range lines {
		if strings.Contains(l, "panic") || strings.Contains(l, "fatal") {
			return strings.Join(lines[i:min(i+20, len(lines))], "\n")
		}
	}
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// startRIE starts AWS's emulator on free loopback ports with bootstrap as
// its runtime and waits until it answers. The benchmark's cleanup stops it.
func startRIE(b *testing.B, rie, bootstrap string) *rieProcess {
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	r := &rieProcess{addr: free(), exited: make(chan struct{}), log: filepath.Join(b.TempDir(), "rie.log")}
	out, err := os.Create(r.log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { out.Close() })
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", r.addr, "--runtime-api-address", free(), bootstrap)
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_FUNCTION_TIMEOUT=30", "LOG_LEVEL=error")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatalf("start RIE: %v", err)
	}
	go func() {
		r.err = cmd.Wait()
		close(r.exited)
	}()
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-r.exited
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		conn, err := net.Dial("tcp", r.addr)
		if err == nil {
			conn.Close()
			return r
		}
		if time.Now().After(deadline) {
			b.Fatalf("RIE did not listen on %s within 10s", r.addr)
		}
	}
}

// floorStream is furl, the streaming relay and a plain server, each
// serving streamfn's lambdaurl handler (MODE=url): /bytes?n= and /clock.
// With FURL_BENCH_FURL_B set, a second build of furl is measured in the
// same rounds as furl-b.
type floorStream struct {
	furl, relay, plain, furlB string // base URLs, ending in "/"
}

func newFloorStream(b *testing.B) *floorStream {
	f := startFurlForBench(b, "--log-level", "info")
	c := f.client()
	createStreamFunction(b, c, "floorstream", "url", 60)
	u := streamingURL(b, c, "floorstream")
	id := u[len("http://"):strings.Index(u, ".")]
	rl := startRelay(b, functionBinary(b, streamFunction(b)), 1, relay.Stream, "MODE=url")
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/clock" {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "%d\n", time.Now().UnixNano())
			return
		}
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		writePieces(w, n)
	}))
	b.Cleanup(plain.Close)
	fs := &floorStream{furl: f.url("/lambda-url/" + id + "/"), relay: rl.URL + "/", plain: plain.URL + "/"}
	if other := os.Getenv("FURL_BENCH_FURL_B"); other != "" {
		fb := startFurlBinForBench(b, other, "--log-level", "info")
		createStreamFunction(b, fb.client(), "floorstream", "url", 60)
		ub := streamingURL(b, fb.client(), "floorstream")
		fs.furlB = fb.url("/lambda-url/" + ub[len("http://"):strings.Index(ub, ".")] + "/")
	}
	return fs
}

func (fs *floorStream) targets() [][2]string {
	t := [][2]string{{"furl", fs.furl}, {"relay", fs.relay}, {"plain", fs.plain}}
	if fs.furlB != "" {
		t = append(t, [2]string{"furl-b", fs.furlB})
	}
	return t
}

// BenchmarkFloorStreamThroughput streams 64 MiB from streamfn's lambdaurl
// handler through furl's RESPONSE_STREAM URL and through the streaming
// relay, and from a plain server writing and flushing the same 64 KiB
// pieces; b.N transfers per target per round, rounds alternating; the
// ratio is the median of the rounds' furl/relay ratios.
//
//	go test ./e2e -run XXX -bench FloorStreamThroughput -benchtime 2x
func BenchmarkFloorStreamThroughput(b *testing.B) {
	const size = 64 << 20
	fs := newFloorStream(b)
	client := &http.Client{}
	one := func(u string) error {
		resp, err := client.Get(u + "bytes?n=" + strconv.Itoa(size))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || resp.StatusCode != 200 || n != size {
			return fmt.Errorf("%d: %d bytes, %v", resp.StatusCode, n, err)
		}
		return nil
	}
	floorThroughput(b, fs.targets(), size, one)
}

// BenchmarkFloorStreamFirstByte measures the time from streamfn's first
// write (/clock writes the wall-clock time) to the client holding it,
// through furl, the streaming relay and a plain server: b.N requests per
// target per round, rounds alternating; medians of the per-round p50s.
//
//	go test ./e2e -run XXX -bench FloorStreamFirstByte -benchtime 300x
func BenchmarkFloorStreamFirstByte(b *testing.B) {
	fs := newFloorStream(b)
	client := &http.Client{}
	one := func(u string) (time.Duration, error) {
		resp, err := client.Get(u + "clock")
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		got := time.Now().UnixNano()
		if err != nil || resp.StatusCode != 200 {
			return 0, fmt.Errorf("%d %q %v", resp.StatusCode, line, err)
		}
		written, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("first line %q: %w", line, err)
		}
		io.Copy(io.Discard, resp.Body)
		return time.Duration(got - written), nil
	}
	floorFirstByte(b, fs.targets(), one)
}

// BenchmarkFloorInvokeStreamFirstByte measures the time from streamfn's
// reader handler writing the wall-clock time ({"clock":true}) to the
// client decoding it from the first PayloadChunk, through furl's
// InvokeWithResponseStream and through the relay's equivalent: b.N
// requests per target per round, rounds alternating; medians of the
// per-round p50s.
//
//	go test ./e2e -run XXX -bench FloorInvokeStreamFirstByte -benchtime 300x
func BenchmarkFloorInvokeStreamFirstByte(b *testing.B) {
	f := startFurlForBench(b, "--log-level", "info")
	createStreamFunction(b, f.client(), "floorinvclock", "reader", 60)
	rl := startRelay(b, functionBinary(b, streamFunction(b)), 1, relay.InvokeStream, "MODE=reader")
	targets := [][2]string{
		{"furl", f.url("/2021-11-15/functions/floorinvclock/response-streaming-invocations")},
		{"relay", rl.URL + "/"},
	}
	if other := os.Getenv("FURL_BENCH_FURL_B"); other != "" {
		fb := startFurlBinForBench(b, other, "--log-level", "info")
		createStreamFunction(b, fb.client(), "floorinvclock", "reader", 60)
		targets = append(targets, [2]string{"furl-b", fb.url("/2021-11-15/functions/floorinvclock/response-streaming-invocations")})
	}
	client := &http.Client{}
	buf := make([]byte, 64<<10)
	one := func(u string) (time.Duration, error) {
		resp, err := client.Post(u, "", strings.NewReader(`{"clock":true}`))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		msg, err := eventstream.NewDecoder().Decode(resp.Body, buf)
		got := time.Now().UnixNano()
		if err != nil {
			return 0, err
		}
		if typ := msg.Headers.Get(":event-type").String(); typ != "PayloadChunk" {
			return 0, fmt.Errorf("first event %s %q", typ, msg.Payload)
		}
		written, err := strconv.ParseInt(strings.TrimSpace(string(msg.Payload)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("first chunk %q: %w", msg.Payload, err)
		}
		if _, err := drain(resp.Body, true); err != nil {
			return 0, err
		}
		return time.Duration(got - written), nil
	}
	floorFirstByte(b, targets, one)
}

// floorFirstByte warms each target with five requests, then runs b.N
// requests per target per round, rounds alternating, and reports each
// target's median of the rounds' p50 times to first byte and furl's
// difference from the relay (and from furl-b, when measured).
func floorFirstByte(b *testing.B, targets [][2]string, one func(url string) (time.Duration, error)) {
	for _, t := range targets {
		for range 5 {
			if _, err := one(t[1]); err != nil {
				b.Fatalf("%s warm-up: %v", t[0], err)
			}
		}
	}
	p50 := map[string][]float64{}
	b.ResetTimer()
	for round := range floorRounds {
		for _, t := range rotated(targets, round) {
			lat := make([]time.Duration, b.N)
			for i := range lat {
				var err error
				if lat[i], err = one(t[1]); err != nil {
					b.Fatalf("%s: %v", t[0], err)
				}
			}
			p50[t[0]] = append(p50[t[0]], ms(median(lat)))
		}
	}
	b.StopTimer()
	for _, t := range targets {
		b.ReportMetric(medianFloat(p50[t[0]]), t[0]+"-p50-ttfb-ms")
	}
	b.ReportMetric(medianFloat(p50["furl"])-medianFloat(p50["relay"]), "furl-relay-ms")
	if _, ok := p50["furl-b"]; ok {
		b.ReportMetric(medianFloat(p50["furl"])-medianFloat(p50["furl-b"]), "furl-furl_b-ms")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkFloorInvokeStreamThroughput streams 64 MiB from streamfn's
// reader handler through furl's InvokeWithResponseStream and through the
// relay's equivalent (each read of the runtime's body a PayloadChunk
// event, then InvokeComplete), counting the PayloadChunk bytes; b.N
// transfers per target per round, rounds alternating; the ratio is the
// median of the rounds' furl/relay ratios.
//
//	go test ./e2e -run XXX -bench FloorInvokeStreamThroughput -benchtime 2x
func BenchmarkFloorInvokeStreamThroughput(b *testing.B) {
	const size = 64 << 20
	f := startFurlForBench(b, "--log-level", "info")
	createStreamFunction(b, f.client(), "floorinvstream", "reader", 60)
	rl := startRelay(b, functionBinary(b, streamFunction(b)), 1, relay.InvokeStream, "MODE=reader")
	targets := [][2]string{
		{"furl", f.url("/2021-11-15/functions/floorinvstream/response-streaming-invocations")},
		{"relay", rl.URL + "/"},
	}
	client := &http.Client{}
	payload := `{"bytes":` + strconv.Itoa(size) + `}`
	one := func(u string) error {
		resp, err := client.Post(u, "", strings.NewReader(payload))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		n, err := drain(resp.Body, true)
		if err != nil || resp.StatusCode != 200 || n != size {
			return fmt.Errorf("%d: %d bytes, %v", resp.StatusCode, n, err)
		}
		return nil
	}
	floorThroughput(b, targets, size, one)
}

// floorThroughput warms each target with one transfer of size bytes, then
// runs b.N transfers per target per round, rounds alternating, and reports
// each target's median MiB/s and the median of the rounds' furl/relay
// ratios.
func floorThroughput(b *testing.B, targets [][2]string, size int, one func(url string) error) {
	for _, t := range targets {
		if err := one(t[1]); err != nil {
			b.Fatalf("%s warm-up: %v", t[0], err)
		}
	}
	mibs := map[string][]float64{}
	b.ResetTimer()
	for round := range floorRounds {
		for _, t := range rotated(targets, round) {
			start := time.Now()
			for range b.N {
				if err := one(t[1]); err != nil {
					b.Fatalf("%s: %v", t[0], err)
				}
			}
			mibs[t[0]] = append(mibs[t[0]], float64(b.N)*float64(size)/(1<<20)/time.Since(start).Seconds())
		}
	}
	b.StopTimer()
	for _, t := range targets {
		b.ReportMetric(medianFloat(mibs[t[0]]), t[0]+"-MiB/s")
		b.Logf("%s MiB/s by round: %s", t[0], roundList(mibs[t[0]]))
	}
	b.ReportMetric(pairedRatio(mibs["furl"], mibs["relay"]), "furl/relay")
	if _, ok := mibs["furl-b"]; ok {
		b.ReportMetric(pairedRatio(mibs["furl"], mibs["furl-b"]), "furl/furl-b")
	}
	b.ReportMetric(0, "ns/op")
}

// startFurlForBench starts furl for a floor benchmark with its output (its
// log and what functions print) going to a file, as the relay's functions'
// output goes to the null device: furl still formats and writes every
// line, but no reader in the benchmark's own process (which also runs the
// load generator and the relay) wakes up for each one. The file is in the
// test's log when the benchmark fails. FURL_BENCH_FURL names another furl
// executable to measure instead of the one built from this tree.
func startFurlForBench(b *testing.B, extra ...string) *furl {
	b.Helper()
	bin := furlBin
	if other := os.Getenv("FURL_BENCH_FURL"); other != "" {
		// Another build of furl, to compare two builds run by run.
		bin = other
	}
	return startFurlBinForBench(b, bin, extra...)
}

// startFurlBinForBench is startFurlForBench with the executable named.
func startFurlBinForBench(b *testing.B, bin string, extra ...string) *furl {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := b.TempDir()
	output, err := os.Create(filepath.Join(dir, "furl.log"))
	if err != nil {
		b.Fatal(err)
	}
	args := append([]string{"serve", "--listen", addr, "--listen-tls", "", "--data-dir", filepath.Join(dir, "data"), "--sandbox", "process"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = output, output
	f := &furl{t: b, cmd: cmd, addr: addr, dataDir: filepath.Join(dir, "data"), logs: &syncBuffer{changed: make(chan struct{})},
		out: &syncBuffer{changed: make(chan struct{})}, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start furl: %v", err)
	}
	output.Close()
	go func() {
		f.exitErr = cmd.Wait()
		close(f.exited)
	}()
	b.Cleanup(func() {
		f.kill()
		if b.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "furl.log"))
			b.Logf("furl's output:\n%s", log)
		}
	})
	f.waitHealthy()
	return f
}

// machineBusy is the CPU time the whole machine has spent outside idle
// since boot (/proc/stat), or 0 where there is none: a round's share of it
// per request is what serving one request costs everything involved (the
// load generator, the gateway, the function), on a machine otherwise
// quiet.
func machineBusy() time.Duration {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, f := range fields[1:] {
		n, _ := strconv.ParseInt(f, 10, 64)
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	// USER_HZ is 100 on Linux.
	return time.Duration(busy) * 10 * time.Millisecond
}

// processCPU is the CPU time used so far by this process ("self"), by
// every process named furl ("furl"), by the out-of-process relay
// ("relayd"), and by every other descendant of these ("functions"), from
// /proc.
func processCPU() map[string]time.Duration {
	out := map[string]time.Duration{}
	entries, _ := os.ReadDir("/proc")
	type proc struct {
		ppid int
		comm string
		cpu  time.Duration
	}
	procs := map[int]proc{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		open, close := bytes.IndexByte(raw, '('), bytes.LastIndexByte(raw, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(string(raw[close+2:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		procs[pid] = proc{ppid, string(raw[open+1 : close]), time.Duration(ut+st) * 10 * time.Millisecond}
	}
	self := os.Getpid()
	for pid, p := range procs {
		switch {
		case pid == self:
			out["self"] += p.cpu
		case strings.HasPrefix(p.comm, "furl"):
			out["furl"] += p.cpu
		case p.comm == "relayd":
			out["relayd"] += p.cpu
		default:
			for a := p.ppid; a > 1; a = procs[a].ppid {
				if a == self || strings.HasPrefix(procs[a].comm, "furl") || procs[a].comm == "relayd" {
					out["functions"] += p.cpu
					break
				}
				if _, ok := procs[a]; !ok {
					break
				}
			}
		}
	}
	return out
}
