// Command streamfn is the response-streaming test function, built with
// aws-lambda-go. MODE=url (the default) serves a function URL through
// lambdaurl, an http.Handler; MODE=reader answers any invocation with an
// io.Reader, the way aws-lambda-go streams outside HTTP.
//
// Both can be gated: before writing token i (i > 1) the function waits for
// the file <gate>/<i-1> to exist, which the test creates only once it has
// received token i-1. A relay that buffers would hold token 1 until the
// function ends, the test would never open the gate, and the function
// would write "gate timeout" instead: incrementality is proven by order,
// not by a clock.
package main

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdaurl"
)

// gateWait bounds a wait for a gate, unless the request sets its own
// (/sse's gatewait, for a test that holds hundreds of streams while their
// environments start). It is a safety net that turns a buffered relay into
// a visible failure, never a measurement.
const gateWait = 20 * time.Second

// waitGate waits for gate i to open: the file dir/i, or, where the gate
// is an http:// URL (a function in a container cannot see the test's
// files), a 200 from <url>/i. False if it never opened.
func waitGate(dir string, i int, wait time.Duration) bool {
	if dir == "" {
		return true
	}
	opened := func() bool {
		_, err := os.Stat(filepath.Join(dir, strconv.Itoa(i)))
		return err == nil
	}
	if strings.HasPrefix(dir, "http://") {
		opened = func() bool {
			resp, err := http.Get(dir + "/" + strconv.Itoa(i))
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}
	}
	// The pause doubles from 2 ms to 32 ms: a gate the test opens at once
	// is seen at once, and hundreds of functions held at their gates (the
	// TLS concurrency benchmark) do not keep a small machine's CPUs busy
	// polling.
	deadline := time.Now().Add(wait)
	for pause := 2 * time.Millisecond; time.Now().Before(deadline); pause = min(2*pause, 32*time.Millisecond) {
		if opened() {
			return true
		}
		time.Sleep(pause)
	}
	return false
}

// tokens writes n SSE events, each after the gate of the one before.
func tokens(w io.Writer, gate string, n int, wait time.Duration) error {
	for i := 1; i <= n; i++ {
		if i > 1 && !waitGate(gate, i-1, wait) {
			fmt.Fprintf(w, "data: gate timeout before token %d\n\n", i)
			return errors.New("gate timeout")
		}
		if _, err := fmt.Fprintf(w, "data: token %d\n\n", i); err != nil {
			return err
		}
	}
	return nil
}

// serve is the lambdaurl handler; the path chooses what it does.
func serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("n"))
	switch r.URL.Path {
	case "/sse":
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Add("Set-Cookie", "stream=1; Path=/")
		w.Header().Add("Set-Cookie", "tokens="+strconv.Itoa(n))
		w.Header().Set("Content-Length", "12345")
		w.WriteHeader(http.StatusCreated)
		wait, err := time.ParseDuration(q.Get("gatewait"))
		if err != nil {
			wait = gateWait
		}
		err = tokens(w, q.Get("gate"), n, wait)
		fmt.Printf("streamfn finished %d tokens: %v\n", n, err)
	case "/gzip":
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write([]byte(strings.Repeat("compressed stream ", 100)))
		zw.Close()
	case "/clock":
		// The wall-clock time (Unix nanoseconds) at which it was written,
		// for the time-to-first-byte benchmarks.
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%d\n", time.Now().UnixNano())
	case "/bytes":
		// n bytes in 64 KiB writes, for throughput.
		w.Header().Set("Content-Type", "application/octet-stream")
		buf := make([]byte, 64<<10)
		for left := n; left > 0; left -= len(buf) {
			if left < len(buf) {
				buf = buf[:left]
			}
			w.Write(buf)
		}
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, "no route %s\n", r.URL.Path)
	}
}

// event is what MODE=reader is invoked with.
type event struct {
	Gate   string `json:"gate"`
	Tokens int    `json:"tokens"`
	// FailAfter > 0 fails the stream after that many tokens, once their
	// gate is open; Exit ends the process there; Sleep sleeps past the
	// timeout there.
	FailAfter int  `json:"failAfter"`
	Exit      bool `json:"exit"`
	Sleep     bool `json:"sleep"`
	// FailFirst fails the stream before its first byte.
	FailFirst bool `json:"failFirst"`
	// Bytes, when set, streams that many bytes instead of tokens.
	Bytes int `json:"bytes"`
	// Clock streams the wall-clock time (Unix nanoseconds) at which it was
	// written, for the time-to-first-byte benchmark, and ends.
	Clock bool `json:"clock"`
	// RawQueryString is set when a function URL invokes MODE=reader: the
	// query then carries the fields above.
	RawQueryString string `json:"rawQueryString"`
}

// fromQuery fills the event from a function URL's query string.
func (ev *event) fromQuery() {
	q, _ := url.ParseQuery(ev.RawQueryString)
	ev.Gate = q.Get("gate")
	ev.Tokens, _ = strconv.Atoi(q.Get("n"))
	ev.FailAfter, _ = strconv.Atoi(q.Get("failAfter"))
	ev.Bytes, _ = strconv.Atoi(q.Get("bytes"))
	ev.Exit, ev.Sleep, ev.FailFirst, ev.Clock = q.Has("exit"), q.Has("sleep"), q.Has("failFirst"), q.Has("clock")
}

// typedReader lets the runtime client send a content type.
type typedReader struct {
	r  io.Reader
	ct string
}

func (t typedReader) Read(p []byte) (int, error) { return t.r.Read(p) }
func (t typedReader) ContentType() string        { return t.ct }

func handleReader(ctx context.Context, ev event) (io.Reader, error) {
	if ev.RawQueryString != "" {
		ev.fromQuery()
	}
	if ev.Bytes > 0 {
		return typedReader{io.LimitReader(zeros{}, int64(ev.Bytes)), "application/octet-stream"}, nil
	}
	pr, pw := io.Pipe()
	go func() {
		if ev.Clock {
			fmt.Fprintf(pw, "%d\n", time.Now().UnixNano())
			pw.Close()
			return
		}
		if ev.FailFirst {
			pw.CloseWithError(errors.New("failed before the first byte"))
			return
		}
		for i := 1; i <= ev.Tokens; i++ {
			if i > 1 && !waitGate(ev.Gate, i-1, gateWait) {
				pw.CloseWithError(fmt.Errorf("gate %d never opened", i-1))
				return
			}
			fmt.Fprintf(pw, "data: token %d\n\n", i)
			if i == ev.FailAfter {
				// Fail only once the test holds the token, so that what it
				// sees of the failure does not depend on timing.
				waitGate(ev.Gate, i, gateWait)
				switch {
				case ev.Exit:
					os.Exit(3)
				case ev.Sleep:
					time.Sleep(time.Hour)
				default:
					pw.CloseWithError(errors.New("disk on fire"))
					return
				}
			}
		}
		pw.Close()
	}()
	return typedReader{pr, "text/event-stream"}, nil
}

// zeros is an endless source of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func main() {
	if os.Getenv("MODE") == "reader" {
		lambda.Start(handleReader)
		return
	}
	lambdaurl.Start(http.HandlerFunc(serve))
}
