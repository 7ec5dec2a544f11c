package runtimeapi

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// A cold invocation's tail starts at its START line: INIT_START and what
// init printed go to the log stream, not into the tail, as on Lambda.
func TestColdTailStartsAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := newFakeSandbox()
		m := newTestManager(t, sb)
		var furlOut lockedWriter
		m.out = &furlOut
		out, rt, spec := startInvokeSpec(t, m, sb, testFunction(t, 5*time.Second), `{}`)
		spec.Output.Write([]byte("init says hello\n"))
		rt.do("GET", "/runtime/invocation/next", nil, nil)
		spec.Output.Write([]byte("handler says hello\n"))
		rt.do("POST", "/runtime/invocation/11111111-2222-3333-4444-555555555555/response", strings.NewReader(`{}`), nil)
		o := wait(t, out)
		if !strings.HasPrefix(o.log, "START RequestId: 11111111-2222-3333-4444-555555555555 Version: $LATEST\n") {
			t.Errorf("the tail does not start at START:\n%s", o.log)
		}
		if strings.Contains(o.log, "INIT_START") || strings.Contains(o.log, "init says hello") {
			t.Errorf("the tail holds the init phase:\n%s", o.log)
		}
		if !strings.Contains(o.log, "handler says hello\n") || !strings.Contains(o.log, "\tInit Duration: ") {
			t.Errorf("the tail lacks the handler's line or the init duration:\n%s", o.log)
		}
		// The log stream (furl's output) still has the init phase.
		synctest.Wait()
		if s := furlOut.String(); !strings.Contains(s, "INIT_START Runtime Version: provided.al2023") || !strings.Contains(s, "init says hello") {
			t.Errorf("furl's output lacks the init phase:\n%s", s)
		}
	})
}

// notingSandbox is a fakeSandbox that notes, as the process sandbox does
// for a runtime it runs on another interpreter, what the runtime runs on.
type notingSandbox struct {
	*fakeSandbox
	note string
}

func (s notingSandbox) Start(ctx context.Context, spec Spec) (Process, error) {
	spec.InitNote(s.note)
	return s.fakeSandbox.Start(ctx, spec)
}

// A sandbox's note goes into the INIT_START line, before anything the
// runtime prints, in AWS's shape otherwise.
func TestInitStartCarriesTheSandboxsNote(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := newFakeSandbox()
		note := "host node v20.x: no nodejs24.x interpreter found; --runtime-path nodejs24.x=PATH names one"
		m := newTestManager(t, notingSandbox{sb, note})
		var furlOut lockedWriter
		m.out = &furlOut
		fn := testFunction(t, 5*time.Second)
		fn.Runtime, fn.RuntimeVersionARN = "nodejs24.x", "arn:aws:lambda:us-east-1::runtime:abc"
		out, rt, spec := startInvokeSpec(t, m, sb, fn, `{}`)
		spec.Output.Write([]byte("init line\n"))
		rt.do("GET", "/runtime/invocation/next", nil, nil)
		rt.do("POST", "/runtime/invocation/11111111-2222-3333-4444-555555555555/response", strings.NewReader(`{}`), nil)
		wait(t, out)
		want := "[fn:$LATEST] INIT_START Runtime Version: nodejs24.x (" + note + ")\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:abc\n[fn:$LATEST] init line\n"
		if got := furlOut.String(); !strings.HasPrefix(got, want) {
			t.Errorf("furl's output:\n%s\nwant it to start with:\n%s", got, want)
		}
	})
}

// An init past the limit is tried again only for an invocation still
// waiting for it: with its caller gone, there is nothing to retry in.
func TestNoSuppressedInitWithoutAnInvocation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := newFakeSandbox()
		m := newTestManager(t, sb)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		fn := testFunction(t, 3*time.Second)
		if _, err := m.Invoke(ctx, &Invocation{Function: fn, RequestID: "11111111-2222-3333-4444-555555555555", Payload: []byte(`{}`)}); err == nil {
			t.Fatal("an invocation whose caller gave up before init ended succeeded")
		}
		time.Sleep(time.Minute)
		if n := len(sb.specs); n != 1 {
			t.Fatalf("%d environments started, want the first only", n)
		}
		sb.mu.Lock()
		first := sb.procs[0]
		sb.mu.Unlock()
		select {
		case <-first.done:
		default:
			t.Fatal("the environment that never polled was not ended")
		}
		assertNoExecutions(t, m)
	})
}
