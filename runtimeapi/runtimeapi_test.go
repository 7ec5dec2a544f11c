package runtimeapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeSandbox starts no process: the test plays the runtime over HTTP at
// the address the spec names, on the sandbox's in-memory network (so
// that tests may run in a synctest bubble).
type fakeSandbox struct {
	mu     sync.Mutex
	specs  chan Spec
	procs  []*fakeProcess
	startE error
	net    *memNet
	// quiet, if set, is what its processes' Quiet does.
	quiet func(time.Duration)
	// extensions are the external extensions its processes say they
	// started (the test plays them).
	extensions []string
}

func newFakeSandbox() *fakeSandbox { return &fakeSandbox{specs: make(chan Spec, 16), net: newMemNet()} }

func (s *fakeSandbox) ListenHost() string { return "127.0.0.1" }

func (s *fakeSandbox) listenRuntimeAPI() (net.Listener, error) { return s.net.listen() }

func (s *fakeSandbox) Start(ctx context.Context, spec Spec) (Process, error) {
	if s.startE != nil {
		return nil, s.startE
	}
	p := &fakeProcess{done: make(chan struct{}), quiet: s.quiet, extensions: s.extensions}
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	s.specs <- spec
	return p, nil
}

type fakeProcess struct {
	once sync.Once
	done chan struct{}
	err  error
	// stranger makes Peer refuse every connection.
	stranger   bool
	quiet      func(time.Duration)
	extensions []string
}

func (p *fakeProcess) Extensions() []string { return p.extensions }

func (p *fakeProcess) Done() <-chan struct{} { return p.done }
func (p *fakeProcess) Err() error            { return p.err }
func (p *fakeProcess) Kill()                 { p.exit(fmt.Errorf("signal: killed")) }
func (p *fakeProcess) MaxMemoryMB() int      { return 17 }
func (p *fakeProcess) Quiet(within time.Duration) {
	if p.quiet != nil {
		p.quiet(within)
	}
}
func (p *fakeProcess) Peer(net.Conn) error {
	if p.stranger {
		return fmt.Errorf("not the runtime")
	}
	return nil
}
func (p *fakeProcess) exit(err error) {
	p.once.Do(func() {
		p.err = err
		close(p.done)
	})
}

func newTestManager(t testing.TB, sb Sandbox) *Manager {
	t.Helper()
	m, err := New(Config{DataDir: t.TempDir(), Sandbox: sb, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// testFunction is a function whose code is a real (empty) zip.
func testFunction(t testing.TB, timeout time.Duration) Function {
	t.Helper()
	dir := t.TempDir()
	zipPath := dir + "/code.zip"
	if err := writeEmptyZip(zipPath); err != nil {
		t.Fatal(err)
	}
	return Function{Name: "fn", Version: "$LATEST", Region: "us-east-1", AccountID: "000000000000", Runtime: "provided.al2023",
		Handler: "bootstrap", MemoryMB: 128, Timeout: timeout, CodeHash: "00", CodePath: zipPath, Fingerprint: "f1"}
}

func writeEmptyZip(path string) error {
	return os.WriteFile(path, []byte("PK\x05\x06"+strings.Repeat("\x00", 18)), 0o644)
}

// runtime is the test's side of the Runtime API.
type runtime struct {
	t    testing.TB
	base string
	c    *http.Client
}

// dial opens a raw connection to the Runtime API.
func (r *runtime) dial() (net.Conn, error) {
	addr := strings.TrimPrefix(strings.TrimSuffix(r.base, "/2018-06-01"), "http://")
	return r.c.Transport.(*http.Transport).DialContext(context.Background(), "tcp", addr)
}

func (r *runtime) do(method, path string, body io.Reader, header map[string]string) (*http.Response, string) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.base+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := r.c.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(raw)
}

// startInvoke runs an invocation in the background and returns its
// outcome channel and the runtime the sandbox was asked for.
func startInvoke(t *testing.T, m *Manager, sb *fakeSandbox, fn Function, payload string) (<-chan invokeOutcome, *runtime) {
	t.Helper()
	out, rt, _ := startInvokeSpec(t, m, sb, fn, payload)
	return out, rt
}

// startInvokeSpec is startInvoke, also returning the spec the sandbox got.
func startInvokeSpec(t *testing.T, m *Manager, sb *fakeSandbox, fn Function, payload string) (<-chan invokeOutcome, *runtime, Spec) {
	t.Helper()
	out := make(chan invokeOutcome, 1)
	go func() {
		res, err := m.Invoke(context.Background(), &Invocation{Function: fn, InvokedARN: "arn:aws:lambda:us-east-1:000000000000:function:fn",
			RequestID: "11111111-2222-3333-4444-555555555555", Payload: []byte(payload), TraceID: "Root=1-abc", ClientContext: `{"custom":{"a":"b"}}`})
		if err != nil {
			out <- invokeOutcome{err: err}
			return
		}
		body, _ := io.ReadAll(res.Body)
		fe := res.Wait()
		out <- invokeOutcome{body: string(body), fe: fe, log: string(res.LogTail(4096)), ct: res.ContentType, at: time.Now()}
	}()
	select {
	case spec := <-sb.specs:
		return out, &runtime{t: t, base: "http://" + spec.RuntimeAPI + "/2018-06-01", c: sb.net.client(10 * time.Second)}, spec
	case <-time.After(10 * time.Second):
		t.Fatal("no environment was started")
		return nil, nil, Spec{}
	}
}

type invokeOutcome struct {
	body string
	fe   *FunctionError
	log  string
	ct   string
	err  error
	at   time.Time // when the invocation ended
}

func wait(t *testing.T, ch <-chan invokeOutcome) invokeOutcome {
	t.Helper()
	select {
	case o := <-ch:
		if o.err != nil {
			t.Fatalf("Invoke: %v", o.err)
		}
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("the invocation never ended")
		return invokeOutcome{}
	}
}

func TestRuntimeAPIHappyPathAndStatusCodes(t *testing.T) {
	synctest.Test(t, testRuntimeAPIHappyPathAndStatusCodes)
}

func testRuntimeAPIHappyPathAndStatusCodes(t *testing.T) {
	sb := newFakeSandbox()
	m := newTestManager(t, sb)
	out, rt := startInvoke(t, m, sb, testFunction(t, 5*time.Second), `{"x":1}`)

	resp, body := rt.do("GET", "/runtime/invocation/next", nil, nil)
	if resp.StatusCode != 200 || body != `{"x":1}` {
		t.Fatalf("/next: %d %q", resp.StatusCode, body)
	}
	for h, want := range map[string]string{
		"Lambda-Runtime-Aws-Request-Id":       "11111111-2222-3333-4444-555555555555",
		"Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:000000000000:function:fn",
		"Lambda-Runtime-Trace-Id":             "Root=1-abc",
		"Lambda-Runtime-Client-Context":       `{"custom":{"a":"b"}}`,
		"Content-Type":                        "application/json",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	deadline := resp.Header.Get("Lambda-Runtime-Deadline-Ms")
	var ms int64
	fmt.Sscan(deadline, &ms)
	// The bubble's clock stands still while the runtime polls: the
	// deadline is the whole timeout away.
	if left := time.Until(time.UnixMilli(ms)); left != 5*time.Second {
		t.Errorf("deadline %s is %s away, want 5s", deadline, left)
	}
	if resp.Header.Get("Lambda-Runtime-Cognito-Identity") != "" {
		t.Error("a cognito identity header with no identity")
	}

	// Another /next before answering is out of order.
	resp, body = rt.do("GET", "/runtime/invocation/next", nil, nil)
	assertAPIError(t, resp, body, 403, "InvalidStateTransition")
	// Another request id is refused.
	resp, body = rt.do("POST", "/runtime/invocation/nope/response", strings.NewReader("x"), nil)
	if resp.StatusCode != 400 || body != "{\"errorMessage\":\"Invalid request ID\",\"errorType\":\"InvalidRequestID\"}\n" {
		t.Fatalf("wrong id: %d %q", resp.StatusCode, body)
	}
	// /init/error after init is out of order.
	resp, body = rt.do("POST", "/runtime/init/error", strings.NewReader("{}"), nil)
	assertAPIError(t, resp, body, 403, "InvalidStateTransition")

	resp, body = rt.do("POST", "/runtime/invocation/11111111-2222-3333-4444-555555555555/response", strings.NewReader(`{"ok":true}`), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 202 || body != "{\"status\":\"OK\"}\n" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/response: %d %q", resp.StatusCode, body)
	}
	o := wait(t, out)
	if o.body != `{"ok":true}` || o.fe != nil || o.ct != "application/json" {
		t.Fatalf("invoker got %q %v %q", o.body, o.fe, o.ct)
	}
	if !strings.Contains(o.log, "START RequestId: 11111111-2222-3333-4444-555555555555 Version: $LATEST\n") ||
		!strings.Contains(o.log, "\tMax Memory Used: 17 MB\tInit Duration: ") {
		t.Fatalf("log:\n%s", o.log)
	}
	// Answering twice is out of order.
	resp, body = rt.do("POST", "/runtime/invocation/11111111-2222-3333-4444-555555555555/response", strings.NewReader("again"), nil)
	assertAPIError(t, resp, body, 403, "InvalidStateTransition")
	resp, body = rt.do("GET", "/runtime/nothing", nil, nil)
	assertAPIError(t, resp, body, 404, "NotFound")
	// The /next and /response routes taken before the mux match only
	// what the mux would: a path of more segments, another method.
	resp, body = rt.do("POST", "/runtime/invocation/11111111-2222-3333-4444-555555555555/x/response", strings.NewReader("x"), nil)
	assertAPIError(t, resp, body, 404, "NotFound")
	resp, body = rt.do("GET", "/runtime/invocation/11111111-2222-3333-4444-555555555555/response", nil, nil)
	assertAPIError(t, resp, body, 404, "NotFound")
	resp, body = rt.do("POST", "/runtime/invocation/next", nil, nil)
	assertAPIError(t, resp, body, 404, "NotFound")
	// An escaped slash is no separator to the mux: these name no route.
	resp, body = rt.do("POST", "/runtime%2Finvocation/11111111-2222-3333-4444-555555555555/response", strings.NewReader("x"), nil)
	assertAPIError(t, resp, body, 404, "NotFound")
	resp, body = rt.do("GET", "/runtime%2Finvocation/next", nil, nil)
	assertAPIError(t, resp, body, 404, "NotFound")
}

func assertAPIError(t *testing.T, resp *http.Response, body string, status int, typ string) {
	t.Helper()
	if resp.StatusCode != status || !strings.Contains(body, `"errorType":"`+typ+`"`) || !strings.HasSuffix(body, "}\n") {
		t.Fatalf("want %d %s, got %d %q", status, typ, resp.StatusCode, body)
	}
}

// respondWith runs one invocation whose runtime answers with send, in a
// synctest bubble, and returns what the invoker and the runtime saw.
func respondWith(t *testing.T, send func(t *testing.T, rt *runtime) (*http.Response, string)) (o invokeOutcome, resp *http.Response, body string) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		sb := newFakeSandbox()
		m := newTestManager(t, sb)
		out, rt := startInvoke(t, m, sb, testFunction(t, 5*time.Second), `{}`)
		if resp, _ := rt.do("GET", "/runtime/invocation/next", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("/next: %d", resp.StatusCode)
		}
		resp, body = send(t, rt)
		o = wait(t, out)
		assertNoExecutions(t, m)
	})
	return o, resp, body
}

const reqPath = "/runtime/invocation/11111111-2222-3333-4444-555555555555"

func TestRuntimeAPIErrorsReachTheInvoker(t *testing.T) {
	t.Run("error", func(t *testing.T) {
		o, resp, body := respondWith(t, func(t *testing.T, rt *runtime) (*http.Response, string) {
			return rt.do("POST", reqPath+"/error", strings.NewReader(`{"errorMessage":"bad input","errorType":"errorString"}`),
				map[string]string{"Lambda-Runtime-Function-Error-Type": "errorString"})
		})
		if resp.StatusCode != 202 || body != "{\"status\":\"OK\"}\n" || o.fe == nil || o.fe.Type != "errorString" ||
			string(o.fe.Payload) != `{"errorMessage":"bad input","errorType":"errorString"}` {
			t.Fatalf("/error: %d %q → %+v", resp.StatusCode, body, o.fe)
		}
	})
	t.Run("bad response mode", func(t *testing.T) {
		o, resp, body := respondWith(t, func(t *testing.T, rt *runtime) (*http.Response, string) {
			return rt.do("POST", reqPath+"/response", strings.NewReader("x"), map[string]string{"Lambda-Runtime-Function-Response-Mode": "sideways"})
		})
		assertAPIError(t, resp, body, 400, "InvalidFunctionResponseMode")
		if o.fe == nil || o.fe.Type != "Runtime.InvalidResponseModeHeader" {
			t.Fatalf("invoker got %+v", o.fe)
		}
	})
	t.Run("too large", func(t *testing.T) {
		o, resp, body := respondWith(t, func(t *testing.T, rt *runtime) (*http.Response, string) {
			return rt.do("POST", reqPath+"/response", bytes.NewReader(make([]byte, MaxBufferedResponse+1)), nil)
		})
		if resp.StatusCode != 413 || body != "{\"errorMessage\":\"Exceeded maximum allowed payload size (6291556 bytes).\",\"errorType\":\"RequestEntityTooLarge\"}\n" {
			t.Fatalf("runtime got %d %q", resp.StatusCode, body)
		}
		if o.fe == nil || o.fe.Type != "Function.ResponseSizeTooLarge" ||
			!strings.Contains(string(o.fe.Payload), "Response payload size (6291557 bytes) exceeded maximum allowed payload size (6291556 bytes).") {
			t.Fatalf("invoker got %+v", o.fe)
		}
	})
	t.Run("exactly the limit", func(t *testing.T) {
		o, resp, _ := respondWith(t, func(t *testing.T, rt *runtime) (*http.Response, string) {
			return rt.do("POST", reqPath+"/response", bytes.NewReader(make([]byte, MaxBufferedResponse)), nil)
		})
		if resp.StatusCode != 202 || o.fe != nil || len(o.body) != MaxBufferedResponse {
			t.Fatalf("a response of exactly 6291556 bytes: %d, %v, %d bytes", resp.StatusCode, o.fe, len(o.body))
		}
	})
	t.Run("trailers", func(t *testing.T) {
		o, resp, body := respondWith(t, func(t *testing.T, rt *runtime) (*http.Response, string) {
			pr, pw := io.Pipe()
			go func() {
				pw.Write([]byte("part1-"))
				pw.Close()
			}()
			req, _ := http.NewRequest("POST", rt.base+reqPath+"/response", pr)
			req.Trailer = http.Header{"Lambda-Runtime-Function-Error-Type": nil, "Lambda-Runtime-Function-Error-Body": nil}
			req.Trailer.Set("Lambda-Runtime-Function-Error-Type", "errorString")
			req.Trailer.Set("Lambda-Runtime-Function-Error-Body", base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"disk on fire","errorType":"errorString"}`)))
			resp, err := rt.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp, string(raw)
		})
		if resp.StatusCode != 202 || body != "{\"status\":\"OK\"}\n" {
			t.Fatalf("runtime got %d %q", resp.StatusCode, body)
		}
		if o.body != "part1-" || o.fe == nil || o.fe.Type != "errorString" || string(o.fe.Payload) != `{"errorMessage":"disk on fire","errorType":"errorString"}` {
			t.Fatalf("invoker got %q %+v", o.body, o.fe)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		var cut time.Time
		o, _, _ := respondWith(t, func(t *testing.T, rt *runtime) (*http.Response, string) {
			conn, err := rt.dial()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "POST /2018-06-01%s/response HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", reqPath)
			synctest.Wait() // the server has read the chunk and waits for more
			conn.Close()
			cut = time.Now()
			return &http.Response{}, ""
		})
		if o.body != "hello" || o.fe == nil || o.fe.Type != "Runtime.TruncatedResponse" {
			t.Fatalf("invoker got %q %+v", o.body, o.fe)
		}
		// The cut is named so once the runtime has had exitGrace to die.
		if waited := o.at.Sub(cut); waited != exitGrace {
			t.Fatalf("the invoker learned of the cut %s after it, want %s", waited, exitGrace)
		}
	})
}

func TestInitErrorReachesTheInvoker(t *testing.T) {
	sb := newFakeSandbox()
	m := newTestManager(t, sb)
	out, rt := startInvoke(t, m, sb, testFunction(t, 5*time.Second), `{}`)
	resp, body := rt.do("POST", "/runtime/init/error", strings.NewReader(`{"errorMessage":"Error: Cannot find module 'index'","errorType":"Runtime.ImportModuleError"}`),
		map[string]string{"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
	if resp.StatusCode != 202 || body != "{\"status\":\"OK\"}\n" {
		t.Fatalf("/init/error: %d %q", resp.StatusCode, body)
	}
	o := wait(t, out)
	if o.fe == nil || o.fe.Type != "Runtime.ImportModuleError" || !strings.Contains(string(o.fe.Payload), "Cannot find module") {
		t.Fatalf("invoker got %+v", o.fe)
	}
	assertNoExecutions(t, m)
	if !strings.Contains(o.log, "INIT_REPORT Init Duration: ") || !strings.Contains(o.log, "Error Type: Runtime.ImportModuleError") {
		t.Fatalf("log:\n%s", o.log)
	}
}

func TestExitAndTimeout(t *testing.T) {
	t.Run("exit during an invocation", func(t *testing.T) { synctest.Test(t, testExitDuringAnInvocation) })
	t.Run("timeout", func(t *testing.T) { synctest.Test(t, testTimeout) })
	t.Run("answered in time, closing lines past the timeout", func(t *testing.T) { synctest.Test(t, testClosingPastTheTimeout) })
	t.Run("answered, never polls again", func(t *testing.T) { synctest.Test(t, testAnsweredNeverPolls) })
	t.Run("streams past its cap while polling", func(t *testing.T) { synctest.Test(t, testStreamsPastCapWhilePolling) })
}

// A runtime that answers and never asks for its next event is ended once
// the function's timeout and backGrace have passed.
func testAnsweredNeverPolls(t *testing.T) {
	sb := newFakeSandbox()
	m := newTestManager(t, sb)
	out, rt := startInvoke(t, m, sb, testFunction(t, time.Second), `{}`)
	rt.do("GET", "/runtime/invocation/next", nil, nil)
	delivered := time.Now()
	rt.do("POST", "/runtime/invocation/11111111-2222-3333-4444-555555555555/response", strings.NewReader("hello"), nil)
	if o := wait(t, out); o.fe != nil || o.body != "hello" {
		t.Fatalf("invoker got %q %+v", o.body, o.fe)
	}
	<-sb.procs[0].done
	if took := time.Since(delivered); took != time.Second+backGrace {
		t.Fatalf("the environment was ended %s after its event, want %s", took, time.Second+backGrace)
	}
}

// A streaming runtime that goes on sending past its cap is still busy
// with its invocation even if it asks for its next event meanwhile: it is
// ended once the function's timeout and backGrace have passed.
func testStreamsPastCapWhilePolling(t *testing.T) {
	sb := newFakeSandbox()
	results, rt := startStreamOn(t, Config{MaxStreamedResponse: 10}, sb)
	delivered := time.Now()
	pr, pw := io.Pipe()
	posted := make(chan struct{})
	go func() {
		defer close(posted)
		// Cut off when its environment is ended: no outcome to check.
		if resp, err := rt.c.Post(rt.base+reqPath+"/response", "text/plain", pr); err == nil {
			resp.Body.Close()
		}
	}()
	pw.Write([]byte("0123456789abcdef"))
	res := <-results
	if fe := res.Wait(); fe == nil || fe.Type != "Function.ResponseSizeTooLarge" {
		t.Fatalf("invoker got %+v", fe)
	}
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		req, _ := http.NewRequest("GET", rt.base+"/runtime/invocation/next", nil)
		if resp, err := rt.c.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	stop, sending := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sending)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				pw.Write([]byte("more"))
			}
		}
	}()
	defer func() {
		close(stop)
		pw.CloseWithError(io.ErrClosedPipe)
		<-sending
		<-posted
		<-polled
	}()
	select {
	case <-sb.procs[0].done:
	case <-time.After(time.Minute):
		t.Fatal("the environment of a runtime sending past its cap and its timeout was not ended")
	}
	if took := time.Since(delivered); took != 5*time.Second+backGrace {
		t.Fatalf("the environment was ended %s after its event, want %s", took, 5*time.Second+backGrace)
	}
}

// A runtime that answers 10 ms before its timeout gets its 202 at once
// and asks for its next event, but the call's closing lines take 30 ms
// more (the function's output is still being read): its /next waits for
// them past the timeout. The timeout must find that runtime back, not
// kill its environment as one that never asked for its next event.
func testClosingPastTheTimeout(t *testing.T) {
	sb := newFakeSandbox()
	sb.quiet = func(time.Duration) { time.Sleep(30 * time.Millisecond) }
	m := newTestManager(t, sb)
	fn := testFunction(t, time.Second)
	out, rt := startInvoke(t, m, sb, fn, `{}`)
	rt.do("GET", "/runtime/invocation/next", nil, nil)
	time.Sleep(time.Second - 10*time.Millisecond)
	if resp, _ := rt.do("POST", "/runtime/invocation/11111111-2222-3333-4444-555555555555/response", strings.NewReader("hello"), nil); resp.StatusCode != 202 {
		t.Fatalf("/response: %d", resp.StatusCode)
	}
	next := make(chan string, 1)
	go func() {
		_, body := rt.do("GET", "/runtime/invocation/next", nil, nil)
		next <- body
	}()
	if o := wait(t, out); o.fe != nil || o.body != "hello" || strings.Contains(o.log, "timeout") {
		t.Fatalf("invoker got %q %+v, log:\n%s", o.body, o.fe, o.log)
	}
	time.Sleep(time.Second) // past the timeout and any grace
	select {
	case <-sb.procs[0].done:
		t.Fatal("the environment of a runtime that answered in time and asked for its next event was killed")
	default:
	}
	second := make(chan string, 1)
	go func() {
		res, err := m.Invoke(context.Background(), &Invocation{Function: fn, RequestID: "22222222-2222-3333-4444-555555555555", Payload: []byte(`{"n":2}`)})
		if err != nil {
			t.Error(err)
			close(second)
			return
		}
		b, _ := io.ReadAll(res.Body)
		if fe := res.Wait(); fe != nil {
			t.Errorf("second invocation failed: %+v", fe)
		}
		second <- string(b)
	}()
	if body := <-next; body != `{"n":2}` {
		t.Fatalf("the waiting /next got %q", body)
	}
	rt.do("POST", "/runtime/invocation/22222222-2222-3333-4444-555555555555/response", strings.NewReader("again"), nil)
	if b := <-second; b != "again" {
		t.Fatalf("second invocation answered %q", b)
	}
	if n := len(sb.procs); n != 1 {
		t.Fatalf("%d environments started, want 1", n)
	}
}

func testExitDuringAnInvocation(t *testing.T) {
	sb := newFakeSandbox()
	m := newTestManager(t, sb)
	out, rt := startInvoke(t, m, sb, testFunction(t, 5*time.Second), `{}`)
	rt.do("GET", "/runtime/invocation/next", nil, nil)
	sb.procs[0].exit(fmt.Errorf("exit status 2"))
	o := wait(t, out)
	if o.fe == nil || o.fe.Type != "Runtime.ExitError" ||
		string(o.fe.Payload) != `{"errorMessage":"RequestId: 11111111-2222-3333-4444-555555555555 Error: Runtime exited with error: exit status 2","errorType":"Runtime.ExitError"}` {
		t.Fatalf("invoker got %+v", o.fe)
	}
	assertNoExecutions(t, m)
}

func testTimeout(t *testing.T) {
	sb := newFakeSandbox()
	m := newTestManager(t, sb)
	out, rt := startInvoke(t, m, sb, testFunction(t, 200*time.Millisecond), `{}`)
	delivered := time.Now()
	rt.do("GET", "/runtime/invocation/next", nil, nil)
	o := wait(t, out)
	if took := time.Since(delivered); took != 200*time.Millisecond {
		t.Errorf("the invocation timed out %s after the runtime took it, want 200ms", took)
	}
	if o.fe == nil || o.fe.Type != "Sandbox.Timedout" ||
		string(o.fe.Payload) != `{"errorMessage":"RequestId: 11111111-2222-3333-4444-555555555555 Error: Task timed out after 0.20 seconds","errorType":"Sandbox.Timedout"}` {
		t.Fatalf("invoker got %+v", o.fe)
	}
	select {
	case <-sb.procs[0].done:
	case <-time.After(5 * time.Second):
		t.Fatal("the timed-out environment was not killed")
	}
	if !strings.Contains(o.log, "REPORT RequestId: 11111111-2222-3333-4444-555555555555\tDuration: 200.00 ms\tBilled Duration: 200 ms\t") ||
		!strings.Contains(o.log, "Status: timeout") {
		t.Fatalf("log:\n%s", o.log)
	}
	assertNoExecutions(t, m)
}

// A response cut off by its runtime's death, within exitGrace, is
// Runtime.ExitError, as on Lambda, not a truncated response.
func TestCutByTheRuntimesExit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := newFakeSandbox()
		m := newTestManager(t, sb)
		out, rt := startInvoke(t, m, sb, testFunction(t, 5*time.Second), `{}`)
		rt.do("GET", "/runtime/invocation/next", nil, nil)
		conn, err := rt.dial()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /2018-06-01%s/response HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", reqPath)
		synctest.Wait()
		conn.Close()
		time.Sleep(exitGrace - time.Millisecond)
		sb.procs[0].exit(fmt.Errorf("exit status 1"))
		o := wait(t, out)
		if o.body != "hello" || o.fe == nil || o.fe.Type != "Runtime.ExitError" {
			t.Fatalf("invoker got %q %+v", o.body, o.fe)
		}
	})
}

// A runtime that never polls runs past Lambda's 10 s init phase: as on
// Lambda, its environment is ended and init is tried again inside the
// invocation (a suppressed init), under the function's timeout, past which
// the invocation fails with Sandbox.Timedout.
func TestInitTimeout(t *testing.T) {
	for _, tc := range []struct {
		timeout, want time.Duration
		says          string
	}{
		{3 * time.Second, 13 * time.Second, "3.00"},
		{30 * time.Second, 40 * time.Second, "30.00"},
	} {
		t.Run(tc.says, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sb := newFakeSandbox()
				m := newTestManager(t, sb)
				var furlOut lockedWriter
				m.out = &furlOut
				start := time.Now()
				out, _ := startInvoke(t, m, sb, testFunction(t, tc.timeout), `{}`)
				var o invokeOutcome
				select { // not wait: its limit is shorter than the init's
				case o = <-out:
				case <-time.After(time.Minute):
					t.Fatal("the invocation never ended")
				}
				if took := o.at.Sub(start); took != tc.want {
					t.Errorf("init failed after %s, want %s", took, tc.want)
				}
				want := `{"errorMessage":"RequestId: 11111111-2222-3333-4444-555555555555 Error: Task timed out after ` + tc.says + ` seconds","errorType":"Sandbox.Timedout"}`
				if o.fe == nil || o.fe.Type != "Sandbox.Timedout" || string(o.fe.Payload) != want {
					t.Fatalf("invoker got %+v", o.fe)
				}
				if len(sb.specs) != 1 {
					t.Fatalf("%d environments started after the first, want the one retry", len(sb.specs))
				}
				for i, p := range sb.procs {
					select {
					case <-p.done:
					default:
						t.Fatalf("environment %d, which never polled, was not ended", i)
					}
				}
				if !strings.Contains(furlOut.String(), "INIT_REPORT Init Duration: 10000.00 ms\tPhase: init\tStatus: timeout\n") {
					t.Errorf("no INIT_REPORT for the first init's timeout in furl's output:\n%s", furlOut.String())
				}
				if !strings.Contains(o.log, "\tPhase: invoke\tStatus: timeout") {
					t.Errorf("the invocation's log does not report the suppressed init's timeout:\n%s", o.log)
				}
				assertNoExecutions(t, m)
			})
		})
	}
}

// An init that runs past 10 s and succeeds when tried again serves the
// invocation, whose timeout counts from the retry's start: init and
// handler share it, and its REPORT has no Init Duration.
func TestSuppressedInitServesTheInvocation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := newFakeSandbox()
		m := newTestManager(t, sb)
		out, _ := startInvoke(t, m, sb, testFunction(t, 3*time.Second), `{"x":1}`)
		var spec Spec
		select {
		case spec = <-sb.specs:
		case <-time.After(time.Minute):
			t.Fatal("init was not tried again")
		}
		retried := time.Now()
		rt := &runtime{t: t, base: "http://" + spec.RuntimeAPI + "/2018-06-01", c: sb.net.client(10 * time.Second)}
		time.Sleep(time.Second) // the retried init
		resp, body := rt.do("GET", "/runtime/invocation/next", nil, nil)
		if resp.StatusCode != 200 || body != `{"x":1}` {
			t.Fatalf("/next: %d %q", resp.StatusCode, body)
		}
		var ms int64
		fmt.Sscan(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), &ms)
		if deadline := time.UnixMilli(ms); !deadline.Equal(retried.Add(3 * time.Second)) {
			t.Errorf("deadline %s after the retry began, want 3s", deadline.Sub(retried))
		}
		rt.do("POST", "/runtime/invocation/11111111-2222-3333-4444-555555555555/response", strings.NewReader(`"ok"`), nil)
		o := wait(t, out)
		if o.fe != nil || o.body != `"ok"` {
			t.Fatalf("invoker got %q %+v", o.body, o.fe)
		}
		if !strings.HasPrefix(o.log, "START RequestId: ") || strings.Contains(o.log, "Init Duration") ||
			!strings.Contains(o.log, "\tDuration: 1000.00 ms\t") {
			t.Errorf("log:\n%s", o.log)
		}
		assertNoExecutions(t, m)
	})
}

// assertNoExecutions checks that every execution an invocation took from
// the concurrency account was given back.
func assertNoExecutions(t *testing.T, m *Manager) {
	t.Helper()
	m.conc.mu.Lock()
	defer m.conc.mu.Unlock()
	if len(m.conc.byFunction) != 0 || m.conc.unreserved != 0 {
		t.Fatalf("executions still counted: %v, %d shared", m.conc.byFunction, m.conc.unreserved)
	}
}

func TestReportLine(t *testing.T) {
	tests := []struct {
		name     string
		d        time.Duration
		withInit bool
		initD    time.Duration
		status   string
		fe       *FunctionError
		want     string
	}{
		{"warm", 1234567 * time.Nanosecond, false, 0, "", nil,
			"REPORT RequestId: r\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t"},
		{"cold", 10 * time.Millisecond, true, 150500 * time.Microsecond, "", nil,
			"REPORT RequestId: r\tDuration: 10.00 ms\tBilled Duration: 161 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tInit Duration: 150.50 ms\t"},
		{"timeout", 3 * time.Second, false, 0, "timeout", nil,
			"REPORT RequestId: r\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tStatus: timeout\t"},
		{"crash", time.Millisecond, false, 0, "error", &FunctionError{Type: "Runtime.ExitError"},
			"REPORT RequestId: r\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tStatus: error\tError Type: Runtime.ExitError\t"},
	}
	for _, tc := range tests {
		if got := reportLine("r", tc.d, 128, 40, tc.withInit, tc.initD, tc.status, tc.fe); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestLineWriter(t *testing.T) {
	var lines []string
	w := &lineWriter{emit: func(b []byte) { lines = append(lines, string(b)) }}
	for _, chunk := range []string{"one\ntw", "o\r\n", "", "thr", "ee\nfour"} {
		w.Write([]byte(chunk))
	}
	w.flushPartial()
	if got := strings.Join(lines, "|"); got != "one|two|three|four" {
		t.Fatalf("lines %q", got)
	}
}

func TestLambdaEnvironment(t *testing.T) {
	fn := Function{Name: "f", Version: "3", Region: "eu-west-1", Runtime: "nodejs20.x", Handler: "index.handler", MemoryMB: 256,
		LogGroup: "/aws/lambda/f", Environment: map[string]string{"MINE": "yes"}}
	spec := Spec{Function: fn, LogStream: NewLogStream(fn, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
	env := spec.Environ(Paths{TaskRoot: "/code", RuntimeAPI: "127.0.0.1:9001", Endpoint: "http://127.0.0.1:4580"})
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	for k, want := range map[string]string{
		"_HANDLER": "index.handler", "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_EXECUTION_ENV": "AWS_Lambda_nodejs20.x",
		"AWS_LAMBDA_FUNCTION_NAME": "f", "AWS_LAMBDA_FUNCTION_VERSION": "3", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/f", "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "LAMBDA_TASK_ROOT": "/code",
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "TZ": ":UTC", "MINE": "yes", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
		"AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:4580",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if !strings.HasPrefix(got["AWS_LAMBDA_LOG_STREAM_NAME"], "2026/01/02/[3]") || len(got["AWS_LAMBDA_LOG_STREAM_NAME"]) != len("2026/01/02/[3]")+32 {
		t.Errorf("log stream %q", got["AWS_LAMBDA_LOG_STREAM_NAME"])
	}
}

// FuzzRuntimeAPIRouter sends arbitrary requests to an environment's
// Runtime API: it must answer each with a status and, for errors, Lambda's
// JSON error shape, and never panic.
func FuzzRuntimeAPIRouter(f *testing.F) {
	for _, s := range []struct{ method, path, body string }{
		{"GET", "/2018-06-01/runtime/invocation/next", ""},
		{"POST", "/2018-06-01/runtime/invocation/abc/response", "{}"},
		{"POST", "/2018-06-01/runtime/invocation/abc/error", `{"errorType":"x"}`},
		{"POST", "/2018-06-01/runtime/init/error", "{}"},
		{"PUT", "/2018-06-01/runtime/invocation/next", ""},
		{"POST", "/2020-01-01/extension/register", "{}"},
		{"GET", "/2018-06-01/runtime/invocation//response", ""},
	} {
		f.Add(s.method, s.path, []byte(s.body))
	}
	sb := newFakeSandbox()
	m := newTestManager(f, sb)
	p, _ := m.poolFor(testFunction(f, time.Second))
	e := &env{m: m, p: p, fn: testFunction(f, time.Second), deliver: make(chan *call, 1), dying: make(chan struct{}),
		dead: make(chan struct{}), initDone: make(chan struct{}), proc: &fakeProcess{done: make(chan struct{})}}
	e.out = &lineWriter{emit: e.line}
	handler := e.routes()
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#?") || method == "" || strings.ContainsAny(method, " \r\n/") {
			return
		}
		req, err := http.NewRequest(method, "http://runtime"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancel()
		rec := newRecorder()
		handler.ServeHTTP(rec, req.WithContext(ctx))
		if rec.status >= 400 && !strings.Contains(rec.body.String(), `"errorType":"`) {
			t.Fatalf("%s %s: %d %q", method, path, rec.status, rec.body.String())
		}
	})
}

// recorder is a ResponseWriter that keeps the status and body.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{h: http.Header{}} }

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(200)
	return r.body.Write(b)
}
