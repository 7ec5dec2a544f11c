package runtimeapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// extClient is the test's side of the Extensions API.
func extClient(t *testing.T, sb *fakeSandbox, spec Spec) *runtime {
	return &runtime{t: t, base: "http://" + spec.RuntimeAPI + "/2020-01-01/extension", c: sb.net.client(0)}
}

// register registers an extension for events and returns its identifier.
func register(t *testing.T, ext *runtime, name, events string) string {
	t.Helper()
	resp, body := ext.do("POST", "/register", strings.NewReader(`{"events":`+events+`}`), map[string]string{"Lambda-Extension-Name": name})
	id := resp.Header.Get("Lambda-Extension-Identifier")
	if resp.StatusCode != 200 || id == "" {
		t.Fatalf("register: %d %q", resp.StatusCode, body)
	}
	if body != "{\"functionName\":\"fn\",\"functionVersion\":\"$LATEST\",\"handler\":\"bootstrap\"}\n" {
		t.Fatalf("register body %q", body)
	}
	return id
}

// extNext calls /event/next in the background; the event arrives on the
// channel.
func extNext(ext *runtime, id string) <-chan extensionEvent {
	ch := make(chan extensionEvent, 1)
	go func() {
		resp, body := ext.do("GET", "/event/next", nil, map[string]string{"Lambda-Extension-Identifier": id})
		var ev extensionEvent
		if resp.StatusCode == 200 {
			json.Unmarshal([]byte(body), &ev)
		}
		ch <- ev
	}()
	return ch
}

// invokeSeen runs an invocation in the background and reports when its
// response body is complete, and then when it is over (its log complete).
func invokeSeen(m *Manager, fn Function) (body <-chan string, log <-chan string) {
	b, l := make(chan string, 1), make(chan string, 1)
	go func() {
		res, err := m.Invoke(context.Background(), &Invocation{Function: fn, InvokedARN: "arn:aws:lambda:us-east-1:000000000000:function:fn",
			RequestID: "11111111-2222-3333-4444-555555555555", Payload: []byte(`{}`), TraceID: "Root=1-abc"})
		if err != nil {
			b <- "error: " + err.Error()
			return
		}
		got, _ := io.ReadAll(res.Body)
		if fe := res.Wait(); fe != nil {
			got = append([]byte(fe.Type+": "), fe.Payload...)
		}
		b <- string(got)
		l <- string(res.LogTail(4096))
	}()
	return b, l
}

func newExtManager(t *testing.T, sb *fakeSandbox) *Manager {
	t.Helper()
	m, err := New(Config{DataDir: t.TempDir(), Sandbox: sb, Logger: slog.New(slog.DiscardHandler), IdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func specOf(t *testing.T, sb *fakeSandbox) Spec {
	t.Helper()
	select {
	case spec := <-sb.specs:
		return spec
	case <-time.After(10 * time.Second):
		t.Fatal("no environment was started")
		return Spec{}
	}
}

func TestExtensionRegistration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := newFakeSandbox()
		m := newExtManager(t, sb)
		body, _ := invokeSeen(m, testFunction(t, 5*time.Second))
		spec := specOf(t, sb)
		ext := extClient(t, sb, spec)
		rt := &runtime{t: t, base: "http://" + spec.RuntimeAPI + "/2018-06-01", c: sb.net.client(0)}

		for _, tc := range []struct {
			name, body string
			header     map[string]string
			status     int
			typ        string
		}{
			{"no name", `{"events":["INVOKE"]}`, nil, 403, "Extension.InvalidExtensionName"},
			{"unknown event", `{"events":["INVOKE","BOOT"]}`, map[string]string{"Lambda-Extension-Name": "x"}, 403, "Extension.InvalidEventType"},
			{"not JSON", `{"events":`, map[string]string{"Lambda-Extension-Name": "x"}, 403, "InvalidRequestFormat"},
			{"no body", ``, map[string]string{"Lambda-Extension-Name": "x"}, 403, "InvalidRequestFormat"},
			{"configuration keys", `{"events":[],"configurationKeys":["a"]}`, map[string]string{"Lambda-Extension-Name": "x"}, 403, "InvalidRequestFormat"},
			// No external extension was started: "x" is internal, in the
			// runtime's process, and cannot be shut down on its own.
			{"internal, SHUTDOWN", `{"events":["INVOKE","SHUTDOWN"]}`, map[string]string{"Lambda-Extension-Name": "x"}, 403, "Extension.InvalidEventType"},
		} {
			resp, got := ext.do("POST", "/register", strings.NewReader(tc.body), tc.header)
			assertAPIError(t, resp, got, tc.status, tc.typ)
		}
		resp, got := ext.do("POST", "/register", strings.NewReader(`{"events":["SHUTDOWN"]}`), map[string]string{"Lambda-Extension-Name": "x"})
		if !strings.Contains(got, `"errorMessage":"SHUTDOWN: ShutdownEventNotSupportedForInternalExtension"`) {
			t.Fatalf("internal extension registering SHUTDOWN: %d %q", resp.StatusCode, got)
		}
		for _, tc := range []struct {
			id, typ string
		}{
			{"", "Extension.MissingExtensionIdentifier"},
			{"not-a-uuid", "Extension.InvalidExtensionIdentifier"},
			{"a1b2c3d4-5678-90ab-cdef-111111111111", "Extension.UnknownExtensionIdentifier"},
		} {
			resp, got := ext.do("GET", "/event/next", nil, map[string]string{"Lambda-Extension-Identifier": tc.id})
			assertAPIError(t, resp, got, 403, tc.typ)
		}
		id := register(t, ext, "logger", `["INVOKE"]`)
		resp, got = ext.do("POST", "/register", strings.NewReader(`{"events":[]}`), map[string]string{"Lambda-Extension-Name": "logger"})
		assertAPIError(t, resp, got, 403, "Extension.InvalidExtensionState")
		// The account id only when asked for.
		resp, got = ext.do("POST", "/register", strings.NewReader(`{"events":[]}`),
			map[string]string{"Lambda-Extension-Name": "accounted", "Lambda-Extension-Accept-Feature": "accountId"})
		if resp.StatusCode != 200 || got != "{\"functionName\":\"fn\",\"functionVersion\":\"$LATEST\",\"handler\":\"bootstrap\",\"accountId\":\"000000000000\"}\n" {
			t.Fatalf("register with accountId: %d %q", resp.StatusCode, got)
		}
		other := resp.Header.Get("Lambda-Extension-Identifier")
		// An exit error needs its type; it is logged, and accepted.
		resp, got = ext.do("POST", "/exit/error", nil, map[string]string{"Lambda-Extension-Identifier": other})
		assertAPIError(t, resp, got, 403, "Extension.MissingHeader")
		resp, _ = ext.do("POST", "/exit/error", nil, map[string]string{"Lambda-Extension-Identifier": other, "Lambda-Extension-Function-Error-Type": "Extension.Bye"})
		if resp.StatusCode != 202 {
			t.Fatalf("/exit/error: %d", resp.StatusCode)
		}
		extNext(ext, other)

		// The extension waits in next; the runtime's first next ends init.
		evs := extNext(ext, id)
		go func() {
			resp, _ := rt.do("GET", "/runtime/invocation/next", nil, nil)
			rt.do("POST", "/runtime/invocation/"+resp.Header.Get("Lambda-Runtime-Aws-Request-Id")+"/response", strings.NewReader("ok"), nil)
		}()
		ev := <-evs
		if ev.EventType != "INVOKE" || ev.RequestID != "11111111-2222-3333-4444-555555555555" ||
			ev.InvokedFunctionArn != "arn:aws:lambda:us-east-1:000000000000:function:fn" ||
			ev.Tracing == nil || *ev.Tracing != (extensionTrace{"X-Amzn-Trace-Id", "Root=1-abc"}) ||
			time.Until(time.UnixMilli(ev.DeadlineMs)) != 5*time.Second {
			t.Fatalf("INVOKE event %+v", ev)
		}
		if got := <-body; got != "ok" {
			t.Fatalf("invoker got %q", got)
		}
		// Registration is over with init.
		resp, got = ext.do("POST", "/register", strings.NewReader(`{"events":["INVOKE"]}`), map[string]string{"Lambda-Extension-Name": "late"})
		assertAPIError(t, resp, got, 403, "Extension.RegistrationClosed")
	})
}

// An extension started with the runtime holds init until it registers
// and asks for its next event; an invocation is over only once it asks
// again, though the caller has its answer as soon as the runtime gives it.
func TestExtensionInvocationWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := newFakeSandbox()
		sb.extensions = []string{"slow"}
		m := newExtManager(t, sb)
		body, logs := invokeSeen(m, testFunction(t, 5*time.Second))
		spec := specOf(t, sb)
		ext := extClient(t, sb, spec)
		rt := &runtime{t: t, base: "http://" + spec.RuntimeAPI + "/2018-06-01", c: sb.net.client(0)}

		polled := make(chan string, 1)
		go func() {
			resp, _ := rt.do("GET", "/runtime/invocation/next", nil, nil)
			polled <- resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		}()
		synctest.Wait()
		select {
		case <-polled:
			t.Fatal("the runtime had its event before the extension registered")
		default:
		}
		// An internal extension (one in the runtime's process, under a name
		// of its own) registering and waiting does not stand in for it.
		agent := register(t, ext, "agent", `["INVOKE"]`)
		agentEvents := extNext(ext, agent)
		synctest.Wait()
		select {
		case <-polled:
			t.Fatal("the runtime had its event when an internal extension registered, before the external one")
		default:
		}
		id := register(t, ext, "slow", `["INVOKE","SHUTDOWN"]`)
		synctest.Wait()
		select {
		case <-polled:
			t.Fatal("the runtime had its event before the extension asked for its next")
		default:
		}
		ev := <-extNext(ext, id)
		reqID := <-polled
		if ev.EventType != "INVOKE" || ev.RequestID != reqID {
			t.Fatalf("INVOKE event %+v for %s", ev, reqID)
		}
		if ev := <-agentEvents; ev.EventType != "INVOKE" || ev.RequestID != reqID {
			t.Fatalf("the internal extension's INVOKE event %+v for %s", ev, reqID)
		}
		extNext(ext, agent) // done with the INVOKE: the invocation waits for it too
		start := time.Now()
		resp, _ := rt.do("POST", "/runtime/invocation/"+reqID+"/response", strings.NewReader("answer"), nil)
		if resp.StatusCode != 202 {
			t.Fatalf("/response: %d", resp.StatusCode)
		}
		if got := <-body; got != "answer" {
			t.Fatalf("invoker got %q", got)
		}
		// The runtime is back, but the extension is not: no END yet, and
		// the environment is not free.
		next := make(chan struct{})
		go func() {
			rt.do("GET", "/runtime/invocation/next", nil, nil)
			close(next)
		}()
		time.Sleep(time.Second)
		synctest.Wait()
		select {
		case l := <-logs:
			t.Fatalf("the invocation ended before its extension was done:\n%s", l)
		default:
		}
		if total, idle := m.Stats("fn", "$LATEST"); total != 1 || idle != 0 {
			t.Fatalf("%d environments, %d idle, while the extension works", total, idle)
		}
		shutdown := extNext(ext, id)
		l := <-logs
		if !strings.Contains(l, "END RequestId: "+reqID) || !strings.Contains(l, "REPORT RequestId: "+reqID+"\tDuration: 1000.00 ms") {
			t.Fatalf("log:\n%s", l)
		}
		if time.Since(start) != time.Second {
			t.Fatalf("the invocation took %s", time.Since(start))
		}
		synctest.Wait()
		if total, idle := m.Stats("fn", "$LATEST"); total != 1 || idle != 1 {
			t.Fatalf("%d environments, %d idle, once the extension is done", total, idle)
		}

		// Idle past its time, the environment is reaped: SHUTDOWN first,
		// and the process lives until the extension is done with it.
		ev = <-shutdown
		reaped := time.Now()
		if ev.EventType != "SHUTDOWN" || ev.ShutdownReason != "spindown" || time.UnixMilli(ev.DeadlineMs) != reaped.Add(2*time.Second) {
			t.Fatalf("SHUTDOWN event %+v at %s", ev, reaped)
		}
		proc := sb.procs[0]
		time.Sleep(time.Second)
		synctest.Wait()
		select {
		case <-proc.done:
			t.Fatal("the process was killed before its extension was done with SHUTDOWN")
		default:
		}
		extNext(ext, id)
		<-proc.done
		if time.Since(reaped) != time.Second {
			t.Fatalf("killed %s after SHUTDOWN", time.Since(reaped))
		}
		<-next
	})
}

// An extension that never comes back from SHUTDOWN has its deadline.
func TestExtensionShutdownDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := newFakeSandbox()
		sb.extensions = []string{"stuck"}
		m := newExtManager(t, sb)
		body, _ := invokeSeen(m, testFunction(t, 5*time.Second))
		spec := specOf(t, sb)
		ext := extClient(t, sb, spec)
		rt := &runtime{t: t, base: "http://" + spec.RuntimeAPI + "/2018-06-01", c: sb.net.client(0)}
		id := register(t, ext, "stuck", `["SHUTDOWN"]`)
		shutdown := extNext(ext, id)
		go func() {
			resp, _ := rt.do("GET", "/runtime/invocation/next", nil, nil)
			rt.do("POST", "/runtime/invocation/"+resp.Header.Get("Lambda-Runtime-Aws-Request-Id")+"/response", strings.NewReader("ok"), nil)
			// Polls until the environment ends.
			if resp, err := rt.c.Get(rt.base + "/runtime/invocation/next"); err == nil {
				resp.Body.Close()
			}
		}()
		if got := <-body; got != "ok" {
			t.Fatalf("invoker got %q", got)
		}
		closed := make(chan time.Time)
		go func() {
			m.Close()
			closed <- time.Now()
		}()
		ev := <-shutdown
		began := time.Now()
		if ev.EventType != "SHUTDOWN" || ev.ShutdownReason != "spindown" {
			t.Fatalf("SHUTDOWN event %+v", ev)
		}
		// Close also lets the Runtime API's server wind down, polling.
		if end := <-closed; end.Sub(began) < shutdownDeadline || end.Sub(began) > shutdownDeadline+100*time.Millisecond {
			t.Fatalf("Close took %s after SHUTDOWN, want %s", end.Sub(began), shutdownDeadline)
		}
	})
}

// An extension's init error fails init as Lambda reports it.
func TestExtensionInitError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := newFakeSandbox()
		sb.extensions = []string{"broken"}
		m := newExtManager(t, sb)
		body, logs := invokeSeen(m, testFunction(t, 5*time.Second))
		spec := specOf(t, sb)
		ext := extClient(t, sb, spec)
		rt := &runtime{t: t, base: "http://" + spec.RuntimeAPI + "/2018-06-01", c: sb.net.client(0)}
		polled := make(chan int, 1)
		go func() {
			resp, _ := rt.do("GET", "/runtime/invocation/next", nil, nil)
			polled <- resp.StatusCode
		}()
		// The runtime waits in /next before the extension fails init: it
		// is answered 403, where a poll made after the environment ended
		// would find no Runtime API.
		synctest.Wait()
		id := register(t, ext, "broken", `["INVOKE"]`)
		resp, got := ext.do("POST", "/init/error", strings.NewReader(`{"errorMessage":"no API key","errorType":"Extension.APIKeyNotFound"}`), map[string]string{"Lambda-Extension-Identifier": id})
		assertAPIError(t, resp, got, 403, "Extension.MissingHeader")
		resp, got = ext.do("POST", "/init/error", strings.NewReader(`{"errorMessage":"no API key","errorType":"Extension.APIKeyNotFound"}`),
			map[string]string{"Lambda-Extension-Identifier": id, "Lambda-Extension-Function-Error-Type": "Extension.APIKeyNotFound"})
		if resp.StatusCode != 202 {
			t.Fatalf("/init/error: %d %q", resp.StatusCode, got)
		}
		if got := <-body; got != `Extension.APIKeyNotFound: {"errorMessage":"no API key","errorType":"Extension.APIKeyNotFound"}` {
			t.Fatalf("invoker got %q", got)
		}
		if l := <-logs; !strings.Contains(l, "INIT_REPORT Init Duration: ") || !strings.Contains(l, "\tStatus: error\tError Type: Extension.APIKeyNotFound") {
			t.Fatalf("log:\n%s", l)
		}
		if status := <-polled; status != 403 {
			t.Fatalf("the runtime's next after the init error: %d", status)
		}
	})
}

// An extension still busy with an INVOKE at the function's deadline times
// the invocation out, though its caller had the runtime's answer, and
// ends the environment.
func TestExtensionPastTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := newFakeSandbox()
		sb.extensions = []string{"stuck"}
		m := newExtManager(t, sb)
		body, logs := invokeSeen(m, testFunction(t, 2*time.Second))
		spec := specOf(t, sb)
		ext := extClient(t, sb, spec)
		rt := &runtime{t: t, base: "http://" + spec.RuntimeAPI + "/2018-06-01", c: sb.net.client(0)}
		id := register(t, ext, "stuck", `["INVOKE"]`)
		invoked := extNext(ext, id)
		go func() {
			resp, _ := rt.do("GET", "/runtime/invocation/next", nil, nil)
			rt.do("POST", "/runtime/invocation/"+resp.Header.Get("Lambda-Runtime-Aws-Request-Id")+"/response", strings.NewReader("ok"), nil)
		}()
		<-invoked
		start := time.Now()
		if got := <-body; got != "ok" {
			t.Fatalf("invoker got %q", got)
		}
		l := <-logs
		if time.Since(start) != 2*time.Second || !strings.Contains(l, "Task timed out after 2.00 seconds") || !strings.Contains(l, "\tStatus: timeout") {
			t.Fatalf("after %s, log:\n%s", time.Since(start), l)
		}
		<-sb.procs[0].done
	})
}
