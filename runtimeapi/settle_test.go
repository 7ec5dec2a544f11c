package runtimeapi

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// An invoker learns the outcome as soon as the response has ended: it
// does not wait for the closing log lines, which wait for the function's
// output to be read; LogTail does wait for them, and has them all.
func TestOutcomeDoesNotWaitForTheClosingLog(t *testing.T) {
	quieting, quietDone := make(chan struct{}), make(chan struct{})
	sb := newFakeSandbox()
	sb.quiet = func(time.Duration) {
		close(quieting)
		<-quietDone // the function's output is still being read
	}
	m := newTestManager(t, sb)
	waited, logged := make(chan *FunctionError, 1), make(chan string, 1)
	var body string
	go func() {
		res, err := m.Invoke(context.Background(), &Invocation{Function: testFunction(t, 5*time.Second), RequestID: "11111111-2222-3333-4444-555555555555", Payload: []byte(`{}`)})
		if err != nil {
			t.Error(err)
			close(waited)
			return
		}
		b, _ := io.ReadAll(res.Body)
		body = string(b)
		waited <- res.Wait()
		logged <- string(res.LogTail(4096))
	}()
	var rt *runtime
	select {
	case spec := <-sb.specs:
		rt = &runtime{t: t, base: "http://" + spec.RuntimeAPI + "/2018-06-01", c: sb.net.client(10 * time.Second)}
	case <-time.After(10 * time.Second):
		t.Fatal("no environment was started")
	}
	rt.do("GET", "/runtime/invocation/next", nil, nil)
	posted := make(chan struct{})
	go func() {
		defer close(posted)
		rt.do("POST", "/runtime/invocation/11111111-2222-3333-4444-555555555555/response", strings.NewReader("hello"), nil)
	}()
	<-quieting
	select {
	case fe := <-waited:
		if fe != nil || body != "hello" {
			t.Fatalf("outcome %v, body %q", fe, body)
		}
	case <-time.After(10 * time.Second):
		close(quietDone)
		t.Fatal("Wait waited for the function's output to be read")
	}
	select {
	case l := <-logged:
		t.Fatalf("LogTail returned before the closing lines: %q", l)
	case <-time.After(50 * time.Millisecond):
	}
	close(quietDone)
	if l := <-logged; !strings.Contains(l, "END RequestId: 11111111") || !strings.Contains(l, "REPORT RequestId: 11111111") {
		t.Errorf("log without its closing lines: %q", l)
	}
	<-posted
}
