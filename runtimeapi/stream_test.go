package runtimeapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"
)

// startStream runs a streaming invocation on a manager whose stream cap is
// limit, and returns the result once the runtime has begun its response,
// with the runtime's side of the Runtime API.
func startStream(t *testing.T, limit int64) (<-chan *Result, *runtime) {
	t.Helper()
	return startStreamWith(t, Config{MaxStreamedResponse: limit})
}

// startStreamWith is startStream on a manager configured as cfg, with a
// fake sandbox and no logs.
func startStreamWith(t *testing.T, cfg Config) (<-chan *Result, *runtime) {
	t.Helper()
	return startStreamOn(t, cfg, newFakeSandbox())
}

// startStreamOn is startStreamWith on the sandbox sb.
func startStreamOn(t *testing.T, cfg Config, sb *fakeSandbox) (<-chan *Result, *runtime) {
	t.Helper()
	cfg.DataDir, cfg.Sandbox, cfg.Logger = t.TempDir(), sb, slog.New(slog.DiscardHandler)
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	results := make(chan *Result, 1)
	go func() {
		res, err := m.Invoke(context.Background(), &Invocation{Function: testFunction(t, 5*time.Second),
			RequestID: "11111111-2222-3333-4444-555555555555", Payload: []byte(`{}`), Streaming: true})
		if err != nil {
			t.Errorf("Invoke: %v", err)
			close(results)
			return
		}
		results <- res
	}()
	var rt *runtime
	select {
	case spec := <-sb.specs:
		rt = &runtime{t: t, base: "http://" + spec.RuntimeAPI + "/2018-06-01", c: sb.net.client(10 * time.Second)}
	case <-time.After(10 * time.Second):
		t.Fatal("no environment was started")
	}
	if resp, _ := rt.do("GET", "/runtime/invocation/next", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("/next: %d", resp.StatusCode)
	}
	return results, rt
}

// postStream begins a chunked /response whose body the test writes.
func postStream(t *testing.T, rt *runtime, trailer http.Header) (*io.PipeWriter, <-chan *http.Response) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", rt.base+reqPath+"/response", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/event-stream")
	req.Trailer = trailer
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := rt.c.Do(req)
		if err != nil {
			t.Errorf("POST /response: %v", err)
			close(done)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- resp
	}()
	return pw, done
}

func readN(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatalf("reading %d bytes of the stream: %v", n, err)
	}
	return string(buf)
}

// The invoker holds each chunk while the runtime has not yet written the
// next: the stream is relayed, not gathered.
func TestStreamedResponseArrivesChunkByChunk(t *testing.T) {
	results, rt := startStream(t, 0)
	trailer := http.Header{"Lambda-Runtime-Function-Error-Type": nil, "Lambda-Runtime-Function-Error-Body": nil}
	pw, done := postStream(t, rt, trailer)
	pw.Write([]byte("data: one\n\n"))
	res := <-results
	if res == nil {
		t.FailNow()
	}
	if res.ContentType != "text/event-stream" {
		t.Errorf("content type %q", res.ContentType)
	}
	if got := readN(t, res.Body, 11); got != "data: one\n\n" {
		t.Fatalf("first chunk %q", got)
	}
	pw.Write([]byte("data: two\n\n"))
	if got := readN(t, res.Body, 11); got != "data: two\n\n" {
		t.Fatalf("second chunk %q", got)
	}
	trailer.Set("Lambda-Runtime-Function-Error-Type", "Runtime.StreamBroke")
	trailer.Set("Lambda-Runtime-Function-Error-Body", base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"gone","errorType":"Runtime.StreamBroke"}`)))
	pw.Close()
	if rest, _ := io.ReadAll(res.Body); len(rest) != 0 {
		t.Fatalf("bytes after the last chunk: %q", rest)
	}
	fe := res.Wait()
	if fe == nil || fe.Type != "Runtime.StreamBroke" || string(fe.Payload) != `{"errorMessage":"gone","errorType":"Runtime.StreamBroke"}` {
		t.Fatalf("the mid-stream error reached the invoker as %+v", fe)
	}
	if resp := <-done; resp == nil || resp.StatusCode != 202 {
		t.Fatalf("the runtime's /response was answered %v", resp)
	}
}

// A streamed response ends at --stream-max-bytes: the bytes up to the cap
// arrive, then Function.ResponseSizeTooLarge.
func TestStreamedResponseCap(t *testing.T) {
	results, rt := startStream(t, 10)
	pw, done := postStream(t, rt, nil)
	// The runtime keeps its request open: the stream must end at the cap
	// all the same, not when the runtime stops.
	go func() {
		pw.Write([]byte("0123456"))
		pw.Write([]byte("789abcdef"))
		pw.Write([]byte("ghij"))
	}()
	res := <-results
	if res == nil {
		t.FailNow()
	}
	body, _ := io.ReadAll(res.Body)
	if string(body) != "0123456789" {
		t.Errorf("the invoker got %q, want the first 10 bytes", body)
	}
	fe := res.Wait()
	if fe == nil || fe.Type != "Function.ResponseSizeTooLarge" ||
		!strings.Contains(string(fe.Payload), "Response payload size exceeded maximum allowed payload size (10 bytes).") {
		t.Fatalf("invoker got %+v", fe)
	}
	pw.Close()
	if resp := <-done; resp == nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("the runtime's /response was answered %v", resp)
	}
}

// An invoker that stops reading does not stop the function: the runtime's
// response is still taken whole and the invocation ends normally.
func TestStreamReaderGoneFunctionRunsOn(t *testing.T) {
	results, rt := startStream(t, 0)
	pw, done := postStream(t, rt, nil)
	pw.Write([]byte("first"))
	res := <-results
	if res == nil {
		t.FailNow()
	}
	readN(t, res.Body, 5)
	res.Body.Close()
	for range 100 {
		if _, err := pw.Write([]byte(strings.Repeat("x", 32<<10))); err != nil {
			t.Fatalf("the runtime could not go on writing after its reader left: %v", err)
		}
	}
	pw.Close()
	if resp := <-done; resp == nil || resp.StatusCode != 202 {
		t.Fatalf("the runtime's /response was answered %v", resp)
	}
	if fe := res.Wait(); fe != nil {
		t.Fatalf("invocation failed: %+v", fe)
	}
}

// A stream's call ends (END, REPORT, the runtime's 202) once its reader
// has taken the end: its closing work does not compete with the last bytes
// for the CPU. A reader that never takes the end holds the runtime for
// catchUpWait at most, and the wait is not the function's time: it counts
// neither in the call's duration nor against its timeout.
func TestStreamEndWaitsForItsReader(t *testing.T) {
	t.Run("the reader takes the end", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			results, rt := startStream(t, 0)
			pw, done := postStream(t, rt, nil)
			pw.Write([]byte("last"))
			res := <-results
			if got := readN(t, res.Body, 4); got != "last" {
				t.Fatalf("read %q", got)
			}
			pw.Close()
			synctest.Wait()
			select {
			case <-done:
				t.Fatal("the runtime's /response was answered before the reader took the end")
			case <-res.call.settled:
				t.Fatal("the call ended before the reader took the end")
			default:
			}
			start := time.Now()
			if n, err := res.Body.Read(make([]byte, 8)); n != 0 || err != io.EOF {
				t.Fatalf("after the last bytes: %d, %v", n, err)
			}
			if fe := res.Wait(); fe != nil {
				t.Fatalf("invocation failed: %+v", fe)
			}
			if resp := <-done; resp == nil || resp.StatusCode != 202 {
				t.Fatalf("the runtime's /response was answered %v", resp)
			}
			if waited := time.Since(start); waited != 0 {
				t.Fatalf("the call ended %s after its reader took the end, want at once", waited)
			}
		})
	})
	t.Run("the reader stalls", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ends := make(chan Event, 1)
			results, rt := startStreamWith(t, Config{Observe: func(ev Event) {
				if ev.Kind == EventEnd {
					ends <- ev
				}
			}})
			pw, done := postStream(t, rt, nil)
			pw.Write([]byte("last"))
			res := <-results
			readN(t, res.Body, 4)
			time.Sleep(50 * time.Millisecond) // the function's duration
			pw.Close()
			closed := time.Now()
			if resp := <-done; resp == nil || resp.StatusCode != 202 {
				t.Fatalf("the runtime's /response was answered %v", resp)
			}
			if held := time.Since(closed); held != catchUpWait {
				t.Fatalf("a stalled reader held the runtime %s, want %s", held, catchUpWait)
			}
			if fe := res.Wait(); fe != nil {
				t.Fatalf("invocation failed: %+v", fe)
			}
			if ev := <-ends; ev.Duration != 50*time.Millisecond || ev.ResponseBytes != 4 {
				t.Fatalf("END event: duration %s, %d bytes; want 50ms, 4 bytes", ev.Duration, ev.ResponseBytes)
			}
			if n, err := res.Body.Read(make([]byte, 8)); n != 0 || err != io.EOF {
				t.Fatalf("after the last bytes: %d, %v", n, err)
			}
		})
	})
	t.Run("closing work after the answer counts, the wait does not", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ends := make(chan Event, 1)
			sb := newFakeSandbox()
			// The function's output takes 30 ms to be read after its
			// answer, as an extension's work after it would: Lambda counts
			// that in the invocation's duration.
			sb.quiet = func(time.Duration) { time.Sleep(30 * time.Millisecond) }
			results, rt := startStreamOn(t, Config{Observe: func(ev Event) {
				if ev.Kind == EventEnd {
					ends <- ev
				}
			}}, sb)
			pw, done := postStream(t, rt, nil)
			pw.Write([]byte("last"))
			res := <-results
			readN(t, res.Body, 4)
			time.Sleep(50 * time.Millisecond)
			pw.Close() // and the reader stalls: 10 ms held
			if resp := <-done; resp == nil || resp.StatusCode != 202 {
				t.Fatalf("the runtime's /response was answered %v", resp)
			}
			if ev := <-ends; ev.Duration != 80*time.Millisecond {
				t.Fatalf("END event: duration %s, want 80ms (50ms to the answer, 30ms after it, not the 10ms wait)", ev.Duration)
			}
		})
	})
	t.Run("the runtime answers just before its timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var mu sync.Mutex
			var lines []string
			ends := make(chan Event, 1)
			results, rt := startStreamWith(t, Config{Observe: func(ev Event) {
				switch ev.Kind {
				case EventEnd:
					ends <- ev
				case EventLog:
					mu.Lock()
					lines = append(lines, ev.Line)
					mu.Unlock()
				}
			}})
			pw, done := postStream(t, rt, nil)
			pw.Write([]byte("last"))
			res := <-results
			readN(t, res.Body, 4)
			// The last byte 5 ms before the function's 5 s timeout, to a
			// reader that does not take the end: the timeout comes during
			// the wait, which is not the function's time.
			time.Sleep(5*time.Second - 5*time.Millisecond)
			pw.Close()
			if resp := <-done; resp == nil || resp.StatusCode != 202 {
				t.Fatalf("the runtime's /response was answered %v", resp)
			}
			if fe := res.Wait(); fe != nil {
				t.Fatalf("a runtime that answered 5 ms before its timeout failed: %s %s", fe.Type, fe.Payload)
			}
			if ev := <-ends; ev.Status != "" || ev.Duration != 5*time.Second-5*time.Millisecond {
				t.Fatalf("END event: status %q, duration %s; want none, 4.995s", ev.Status, ev.Duration)
			}
			// The runtime asks for its next event at once, as runtimes do,
			// and its environment lives on.
			go func() {
				req, _ := http.NewRequest("GET", rt.base+"/runtime/invocation/next", nil)
				if resp, err := rt.c.Do(req); err == nil {
					resp.Body.Close()
				}
			}()
			time.Sleep(time.Second)
			mu.Lock()
			defer mu.Unlock()
			for _, l := range lines {
				if strings.Contains(l, "timed out") {
					t.Fatalf("logged %q", l)
				}
			}
		})
	})
	t.Run("the reader leaves", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			results, rt := startStream(t, 0)
			pw, done := postStream(t, rt, nil)
			pw.Write([]byte("last"))
			res := <-results
			pw.Close()
			synctest.Wait()
			start := time.Now()
			res.Body.Close()
			if resp := <-done; resp == nil || resp.StatusCode != 202 {
				t.Fatalf("the runtime's /response was answered %v", resp)
			}
			if waited := time.Since(start); waited != 0 {
				t.Fatalf("the call ended %s after its reader left, want at once", waited)
			}
			if fe := res.Wait(); fe != nil {
				t.Fatalf("invocation failed: %+v", fe)
			}
		})
	})
}

func TestTrailerError(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name, typ, body string
		wantType        string
		wantPayload     string
	}{
		{name: "none", wantType: ""},
		{name: "declared but unsent", typ: "", body: "", wantType: ""},
		{name: "aws-lambda-go", typ: "errorString", body: b64([]byte(`{"errorMessage":"disk on fire","errorType":"errorString"}`)),
			wantType: "errorString", wantPayload: `{"errorMessage":"disk on fire","errorType":"errorString"}`},
		{name: "verbatim type", typ: "InvalidOperationException", body: b64([]byte(`{"errorMessage":"x"}`)),
			wantType: "InvalidOperationException", wantPayload: `{"errorMessage":"x"}`},
		{name: "raw JSON instead of base64", typ: "Error", body: `{"errorMessage":"x"}`,
			wantType: "Error", wantPayload: `{"errorMessage":"the runtime reported an error of type Error","errorType":"Error"}`},
		{name: "no body", typ: "Error",
			wantType: "Error", wantPayload: `{"errorMessage":"the runtime reported an error of type Error","errorType":"Error"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Lambda-Runtime-Function-Error-Type": {tc.typ}, "Lambda-Runtime-Function-Error-Body": {tc.body}}
			fe := trailerError(h)
			if tc.wantType == "" {
				if fe != nil {
					t.Fatalf("got %+v, want no error", fe)
				}
				return
			}
			if fe == nil || fe.Type != tc.wantType || string(fe.Payload) != tc.wantPayload {
				t.Fatalf("got %+v, want %s %s", fe, tc.wantType, tc.wantPayload)
			}
		})
	}
}

func FuzzTrailerError(f *testing.F) {
	f.Add("errorString", base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"disk on fire","errorType":"errorString"}`)))
	f.Add("Error", "not base64!")
	f.Add("", "e30=")
	f.Add("TypeError", "")
	f.Fuzz(func(t *testing.T, typ, body string) {
		fe := trailerError(http.Header{"Lambda-Runtime-Function-Error-Type": {typ}, "Lambda-Runtime-Function-Error-Body": {body}})
		if typ == "" {
			if fe != nil {
				t.Fatalf("an empty type failed the invocation: %+v", fe)
			}
			return
		}
		if fe == nil || fe.Type != typ || len(fe.Payload) == 0 {
			t.Fatalf("type %q body %q: %+v", typ, body, fe)
		}
		if decoded, err := base64.StdEncoding.DecodeString(body); err == nil && len(decoded) > 0 {
			if string(fe.Payload) != string(decoded) {
				t.Fatalf("payload %q, want the decoded body %q", fe.Payload, decoded)
			}
		} else if utf8.ValidString(typ) && !json.Valid(fe.Payload) {
			t.Fatalf("furl's own payload is not JSON: %q", fe.Payload)
		}
	})
}
