package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkFloorLoad holds load against one furl and measures what it
// leaves behind; it reports figures and counts errors, it asserts no
// timing:
//
//   - 500 concurrent streaming URL requests (streamfn's lambdaurl /sse,
//     gated, so that all 500 are open at once, each having delivered its
//     first token), then the gate opens and each must end cleanly with
//     its second token: stream-errors counts those that did not.
//   - 20 000 buffered URL requests in a row (urlfn's /echo, one at a
//     time): buffered-errors counts the failures.
//   - furl's go_goroutines and process_open_fds (from /_furl/metrics)
//     before (500 streaming environments and the buffered one warm, the
//     clients' connections closed) and after both, once the clients'
//     connections are closed again (furl gets 10 s to notice), and the
//     number of environments (furl's child processes) at both moments: an
//     environment more after the load is the warm pool's growth, not a
//     leak, and brings its own goroutines and fds.
//   - furl's VmRSS idle and with the 500 streams open, and the difference
//     per stream (KiB/stream).
//
// Each concurrent stream has an environment of its own, so the 500 are
// started first by 500 concurrent ungated streams (see
// BenchmarkTLSConcurrentStreams for why).
//
//	go test ./e2e -run XXX -bench FloorLoad -benchtime 1x
func BenchmarkFloorLoad(b *testing.B) {
	const streams, buffered = 500, 20000
	for range b.N {
		f := startFurl(b, b.TempDir(), "127.0.0.1:0", "--log-level", "info", "--max-env-memory", strconv.Itoa(2*streams*128))
		c := f.client()
		createStreamFunction(b, c, "loadstream", "url", 120)
		su := streamingURL(b, c, "loadstream")
		sid := su[len("http://"):strings.Index(su, ".")]
		streamBase := f.url("/lambda-url/" + sid + "/")
		createURLFunction(b, c, "loadurl", 30)
		bu := publicURL(b, c, "loadurl", nil)
		bid := bu[len("http://"):strings.Index(bu, ".")]
		echo := f.url("/lambda-url/" + bid + "/echo")
		pid := f.cmd.Process.Pid

		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: streams}}
		// Warm: 500 environments, each having served one stream. The
		// streams are all held open at once (a gate after their first
		// token), so that 500 environments start: streams that ran one
		// after another could share one, and "before" would count fewer
		// environments than "after". The first stream waits at its gate
		// for the last environment to start, which takes a minute or more
		// where process starts are slow, so the gates wait up to 110 s
		// (the function's timeout is 120 s) instead of streamfn's 20. The
		// gates are held HTTP requests, not files the functions poll: 500
		// functions polling files slowed the very starts they waited for.
		var wg sync.WaitGroup
		var warmErrs atomic.Int64
		warmGate := newHeldGate(b)
		warmed := make(chan struct{}, streams)
		for range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var once sync.Once
				report := func() { once.Do(func() { warmed <- struct{}{} }) }
				defer report() // a failed stream reports too
				resp, err := client.Get(streamBase + "sse?n=2&gatewait=110s&gate=" + warmGate.query())
				if err != nil {
					warmErrs.Add(1)
					return
				}
				defer resp.Body.Close()
				br := bufio.NewReader(resp.Body)
				if first, err := br.ReadString('\n'); err != nil || resp.StatusCode != 201 || first != "data: token 1\n" {
					warmErrs.Add(1)
					return
				}
				report()
				io.Copy(io.Discard, br)
			}()
		}
		// Each stream reports once it holds its first token, or has
		// failed; the gate opens when all have.
		for range streams {
			<-warmed
		}
		warmGate.open(b, 1)
		wg.Wait()
		if n := warmErrs.Load(); n > 0 {
			b.Logf("warm-up: %d of %d streams failed", n, streams)
		}
		f.out.waitCount(b, "streamfn finished 2 tokens: <nil>", streams-int(warmErrs.Load()), 60*time.Second)
		// And the buffered function's environment, so that "before"
		// counts every environment "after" will.
		payload := []byte(`{"order":42}`)
		bc := &http.Client{}
		if err := postCheck(echo, payload, `"rawPath":"/echo"`)(bc); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
		bc.CloseIdleConnections()
		client.CloseIdleConnections()
		time.Sleep(time.Second)
		g0, fd0 := furlGauges(b, f)
		kinds0 := fdKinds(pid)
		_, _, envs0 := treeRSS(b, pid)
		rssIdle, _ := procStatus(pid, "VmRSS")

		// 500 streams open at once.
		g := newHeldGate(b)
		var streamErrs atomic.Int64
		var firstErr atomic.Value
		fail := func(err error) {
			streamErrs.Add(1)
			firstErr.CompareAndSwap(nil, err)
		}
		opened := make(chan bool, streams)
		release := make(chan struct{})
		for range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := client.Get(streamBase + "sse?n=2&gatewait=110s&gate=" + g.query())
				if err != nil {
					opened <- false
					fail(err)
					return
				}
				defer resp.Body.Close()
				br := bufio.NewReader(resp.Body)
				first, err := br.ReadString('\n')
				blank, _ := br.ReadString('\n')
				if resp.StatusCode != 201 || first != "data: token 1\n" || blank != "\n" {
					opened <- false
					fail(fmt.Errorf("%d, first %q %q, %v", resp.StatusCode, first, blank, err))
					return
				}
				opened <- true
				<-release
				if rest, err := io.ReadAll(br); err != nil || string(rest) != "data: token 2\n\n" {
					fail(fmt.Errorf("after the gate: %q, %v", rest, err))
				}
			}()
		}
		open := 0
		timeout := time.After(120 * time.Second)
	wait:
		for range streams {
			select {
			case ok := <-opened:
				if ok {
					open++
				}
			case <-timeout:
				b.Logf("only %d streams had their first token within 120s", open)
				break wait
			}
		}
		rssOpen, _ := procStatus(pid, "VmRSS")
		g.open(b, 1)
		close(release)
		wg.Wait()
		if err, _ := firstErr.Load().(error); err != nil {
			b.Logf("first stream error: %v", err)
		}
		client.CloseIdleConnections()

		// 20 000 buffered requests in a row.
		var bufErrs int
		start := time.Now()
		for i := range buffered {
			if err := postCheck(echo, payload, `"rawPath":"/echo"`)(bc); err != nil {
				if bufErrs == 0 {
					b.Logf("first buffered error (request %d): %v", i, err)
				}
				bufErrs++
			}
		}
		bufRate := buffered / time.Since(start).Seconds()
		bc.CloseIdleConnections()

		// Let furl notice the closed connections before counting.
		var g1, fd1 float64
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			g1, fd1 = furlGauges(b, f)
			if (g1 <= g0 && fd1 <= fd0) || time.Now().After(deadline) {
				break
			}
		}
		_, _, envs1 := treeRSS(b, pid)
		if fd1 > fd0 {
			kinds1 := fdKinds(pid)
			for k, n := range kinds1 {
				if n != kinds0[k] {
					b.Logf("open fds of kind %s: %d before, %d after", k, kinds0[k], n)
				}
			}
		}
		b.ReportMetric(float64(open), "streams-open")
		b.ReportMetric(float64(streamErrs.Load()), "stream-errors")
		b.ReportMetric(float64(bufErrs), "buffered-errors")
		b.ReportMetric(bufRate, "buffered-req/s")
		b.ReportMetric(g0, "goroutines-before")
		b.ReportMetric(g1, "goroutines-after")
		b.ReportMetric(float64(envs0), "environments-before")
		b.ReportMetric(float64(envs1), "environments-after")
		b.ReportMetric(fd0, "fds-before")
		b.ReportMetric(fd1, "fds-after")
		b.ReportMetric(float64(rssIdle)/1024, "rss-idle-MiB")
		b.ReportMetric(float64(rssOpen)/1024, "rss-open-MiB")
		b.ReportMetric(float64(rssOpen-rssIdle)/streams, "KiB/stream")
		b.ReportMetric(0, "ns/op")
		f.stop()
	}
}

// furlGauges reads furl's go_goroutines and process_open_fds.
func furlGauges(b *testing.B, f *furl) (goroutines, fds float64) {
	b.Helper()
	m := scrapeMetrics(b, f)
	goroutines, fds = metricValue(m, "go_goroutines", nil), metricValue(m, "process_open_fds", nil)
	if goroutines < 0 || fds < 0 {
		b.Fatalf("/_furl/metrics has no go_goroutines (%v) or process_open_fds (%v)", goroutines, fds)
	}
	return goroutines, fds
}

// fdKinds counts a process's open file descriptors by kind: socket, pipe,
// anon_inode, or the file's directory.
func fdKinds(pid int) map[string]int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, _ := os.ReadDir(dir)
	kinds := map[string]int{}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		kind, _, _ := strings.Cut(target, ":")
		if strings.HasPrefix(target, "/") {
			kind = filepath.Dir(target)
		}
		kinds[kind]++
	}
	return kinds
}
