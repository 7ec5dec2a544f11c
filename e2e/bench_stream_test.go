package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// streamBench is a furl with a streaming test function behind a
// RESPONSE_STREAM URL, and a plain net/http server that streams the same
// bytes, for the streaming benchmarks.
type streamBench struct {
	urlBase  string // furl's URL, path form
	iwrs     string // furl's InvokeWithResponseStream endpoint
	plainURL string
}

func newStreamBench(b *testing.B) *streamBench {
	f := startFurl(b, b.TempDir(), "127.0.0.1:0", "--log-level", "info")
	c := f.client()
	createStreamFunction(b, c, "streambench", "reader", 60)
	u := streamingURL(b, c, "streambench")
	id := u[len("http://"):strings.Index(u, ".")]
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if r.URL.Query().Has("clock") {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "%d\n", time.Now().UnixNano())
			rc.Flush()
			return
		}
		n, _ := strconv.Atoi(r.URL.Query().Get("bytes"))
		writePieces(w, n)
	}))
	b.Cleanup(plain.Close)
	return &streamBench{
		urlBase:  f.url("/lambda-url/" + id + "/"),
		iwrs:     f.url("/2021-11-15/functions/streambench/response-streaming-invocations"),
		plainURL: plain.URL + "/",
	}
}

// readFirst reads the first piece of a response: a line for URLs and the
// plain server, the first PayloadChunk for InvokeWithResponseStream.
func readFirst(resp *http.Response, events bool) ([]byte, error) {
	if events {
		msg, err := eventstream.NewDecoder().Decode(resp.Body, nil)
		if err != nil {
			return nil, err
		}
		if h := msg.Headers.Get(":event-type"); h == nil || h.String() != "PayloadChunk" {
			return nil, fmt.Errorf("first event %v", msg.Headers)
		}
		return msg.Payload, nil
	}
	return bufio.NewReader(resp.Body).ReadBytes('\n')
}

// BenchmarkStreamFirstByte measures the time from a streaming function's
// first write to the client holding that byte: the function writes the
// wall-clock time and the client subtracts it from the time it read it
// (one host, one clock). furl's overhead is its p50 minus the plain
// server's, which measures the same thing for a handler in process.
//
//	go test ./e2e -run XXX -bench StreamFirstByte -benchtime 500x
func BenchmarkStreamFirstByte(b *testing.B) {
	sb := newStreamBench(b)
	targets := []struct {
		name, method, url, body string
		events                  bool
	}{
		{"furl-url", "GET", sb.urlBase + "?clock", "", false},
		{"furl-invoke-stream", "POST", sb.iwrs, `{"clock":true}`, true},
		{"plain", "GET", sb.plainURL + "?clock", "", false},
	}
	client := &http.Client{}
	for _, target := range targets {
		b.Run(target.name, func(b *testing.B) {
			one := func() time.Duration {
				req, _ := http.NewRequest(target.method, target.url, strings.NewReader(target.body))
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				defer resp.Body.Close()
				first, err := readFirst(resp, target.events)
				got := time.Now().UnixNano()
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("%d %q %v", resp.StatusCode, first, err)
				}
				written, err := strconv.ParseInt(strings.TrimSpace(string(first)), 10, 64)
				if err != nil {
					b.Fatalf("first chunk %q: %v", first, err)
				}
				io.Copy(io.Discard, resp.Body)
				return time.Duration(got - written)
			}
			for range 3 {
				one()
			}
			b.ResetTimer()
			lat := make([]time.Duration, b.N)
			for i := range lat {
				lat[i] = one()
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ttfb-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ttfb-ms")
		})
	}
}

// BenchmarkStreamThroughput streams 64 MiB per operation from a function
// (through a URL and through InvokeWithResponseStream) and from a plain
// server writing and flushing the same bytes in 64 KiB pieces. Compare
// the MB/s.
//
//	go test ./e2e -run XXX -bench StreamThroughput -benchtime 10x
func BenchmarkStreamThroughput(b *testing.B) {
	const size = 64 << 20
	sb := newStreamBench(b)
	n := strconv.Itoa(size)
	targets := []struct {
		name, method, url, body string
		events                  bool
	}{
		{"furl-url", "GET", sb.urlBase + "?bytes=" + n, "", false},
		{"furl-invoke-stream", "POST", sb.iwrs, `{"bytes":` + n + `}`, true},
		{"plain", "GET", sb.plainURL + "?bytes=" + n, "", false},
	}
	client := &http.Client{}
	for _, target := range targets {
		b.Run(target.name, func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; i < b.N; i++ {
				req, _ := http.NewRequest(target.method, target.url, strings.NewReader(target.body))
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				got, err := drain(resp.Body, target.events)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || got != size {
					b.Fatalf("%d: %d bytes, %v", resp.StatusCode, got, err)
				}
			}
		})
	}
}

// drain reads a whole response and counts the function's bytes: the body,
// or the PayloadChunks of an event stream, which must end with a clean
// InvokeComplete.
func drain(r io.Reader, events bool) (int64, error) {
	if !events {
		return io.Copy(io.Discard, r)
	}
	dec := eventstream.NewDecoder()
	buf := make([]byte, 2<<20)
	var n int64
	for {
		msg, err := dec.Decode(r, buf)
		if err != nil {
			return n, err
		}
		switch msg.Headers.Get(":event-type").String() {
		case "PayloadChunk":
			n += int64(len(msg.Payload))
		case "InvokeComplete":
			if !bytes.Equal(msg.Payload, []byte("{}")) {
				return n, fmt.Errorf("InvokeComplete %s", msg.Payload)
			}
			return n, nil
		}
	}
}

// writePieces is the plain server's stream: n zero bytes as an
// octet-stream, written and flushed 64 KiB at a time, as the test
// functions send theirs.
func writePieces(w http.ResponseWriter, n int) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/octet-stream")
	buf := make([]byte, 64<<10)
	for left := n; left > 0; left -= len(buf) {
		if left < len(buf) {
			buf = buf[:left]
		}
		w.Write(buf)
		rc.Flush()
	}
}
