package runtimeapi

import (
	"context"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// namedProcess says which sandbox holds it, as pick's processes do.
type namedProcess struct{ *fakeProcess }

func (namedProcess) Sandbox() string { return "docker" }

type namingSandbox struct{ *fakeSandbox }

func (s namingSandbox) Start(ctx context.Context, spec Spec) (Process, error) {
	p, err := s.fakeSandbox.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	return namedProcess{p.(*fakeProcess)}, nil
}

// The inventory shows each live environment with its sandbox and state:
// busy while its runtime holds an event, idle once it polls again, gone
// once it ends.
func TestEnvironmentsInventory(t *testing.T) {
	synctest.Test(t, testEnvironmentsInventory)
}

func testEnvironmentsInventory(t *testing.T) {
	sb := newFakeSandbox()
	m := newTestManager(t, namingSandbox{sb})
	fn := testFunction(t, 5*time.Second)
	if envs := m.Environments(); len(envs) != 0 {
		t.Fatalf("environments before any invocation: %+v", envs)
	}
	out, rt := startInvoke(t, m, sb, fn, `{}`)
	resp, _ := rt.do("GET", "/runtime/invocation/next", nil, nil)
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	envs := m.Environments()
	if len(envs) != 1 || envs[0].Function != fn.Name || envs[0].Version != fn.Version || envs[0].Sandbox != "docker" ||
		envs[0].State != "busy" || envs[0].Started.IsZero() || envs[0].ID == "" {
		t.Fatalf("while invoking: %+v", envs)
	}
	// The next poll makes it idle; it blocks, so it runs on its own.
	rt.do("POST", "/runtime/invocation/"+id+"/response", strings.NewReader(`"ok"`), nil)
	wait(t, out)
	go rt.c.Get(rt.base + "/runtime/invocation/next")
	synctest.Wait()
	if envs = m.Environments(); len(envs) != 1 || envs[0].State != "idle" {
		t.Fatalf("after the response and a poll: %+v", envs)
	}
	m.Retire(fn.Name)
	// Its teardown shuts its Runtime API down, which takes at most a
	// second (of the bubble's clock: none of the test's time).
	time.Sleep(time.Second)
	synctest.Wait()
	if envs := m.Environments(); len(envs) != 0 {
		t.Fatalf("after Retire: %+v", envs)
	}
}

// An invocation that comes as soon as the last one is answered, before
// the runtime polls again, waits for that runtime instead of starting
// another environment.
func TestBackToBackInvocationsReuseTheEnvironment(t *testing.T) {
	sb := newFakeSandbox()
	m := newTestManager(t, sb)
	fn := testFunction(t, 5*time.Second)
	out, rt := startInvoke(t, m, sb, fn, `{}`)
	resp, _ := rt.do("GET", "/runtime/invocation/next", nil, nil)
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	rt.do("POST", "/runtime/invocation/"+id+"/response", strings.NewReader(`"one"`), nil)
	if o := wait(t, out); o.body != `"one"` {
		t.Fatalf("first answer %q", o.body)
	}
	// The runtime has not polled yet: the next invocation waits for it.
	second := make(chan invokeOutcome, 1)
	go func() {
		res, err := m.Invoke(context.Background(), &Invocation{Function: fn, RequestID: "22222222-2222-3333-4444-555555555555", Payload: []byte(`{}`)})
		if err != nil {
			second <- invokeOutcome{err: err}
			return
		}
		body, _ := io.ReadAll(res.Body)
		second <- invokeOutcome{body: string(body), fe: res.Wait()}
	}()
	resp, _ = rt.do("GET", "/runtime/invocation/next", nil, nil)
	id = resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	if id != "22222222-2222-3333-4444-555555555555" {
		t.Fatalf("the runtime got %q", id)
	}
	rt.do("POST", "/runtime/invocation/"+id+"/response", strings.NewReader(`"two"`), nil)
	if o := wait(t, second); o.body != `"two"` {
		t.Fatalf("second answer %q", o.body)
	}
	select {
	case spec := <-sb.specs:
		t.Fatalf("a second environment was started (%s)", spec.RuntimeAPI)
	default:
	}
}

// A runtime that does not come back within the grace does not hold the
// next invocation: another environment starts for it.
func TestARuntimeSlowToPollAgainDoesNotHoldTheNext(t *testing.T) {
	synctest.Test(t, testARuntimeSlowToPollAgainDoesNotHoldTheNext)
}

func testARuntimeSlowToPollAgainDoesNotHoldTheNext(t *testing.T) {
	sb := newFakeSandbox()
	m := newTestManager(t, sb)
	fn := testFunction(t, 5*time.Second)
	out, rt := startInvoke(t, m, sb, fn, `{}`)
	resp, _ := rt.do("GET", "/runtime/invocation/next", nil, nil)
	rt.do("POST", "/runtime/invocation/"+resp.Header.Get("Lambda-Runtime-Aws-Request-Id")+"/response", strings.NewReader(`"one"`), nil)
	wait(t, out)
	answered := time.Now()
	_, rt2 := startInvoke(t, m, sb, fn, `{}`)
	if rt2.base == rt.base {
		t.Fatal("the same environment was started again")
	}
	// It waits for the runtime for returnGrace, not a moment longer.
	if waited := time.Since(answered); waited != returnGrace {
		t.Fatalf("another environment started %s after the answer, want %s", waited, returnGrace)
	}
}
