package runtimeapi

import (
	"context"
	"errors"
	"testing"
)

func TestConcurrencyAccount(t *testing.T) {
	var c concurrency
	fn := func(name string, reserved *int, unreserved int) *Invocation {
		return &Invocation{Function: Function{Name: name}, Reserved: reserved, Unreserved: unreserved}
	}
	zero, one := 0, 1
	if _, err := c.take(fn("off", &zero, 10), 10); err == nil || err.Reason != ReasonReservedConcurrency {
		t.Fatalf("reserved 0: %v", err)
	}
	r1, err := c.take(fn("one", &one, 10), 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.take(fn("one", &one, 10), 10); err == nil || err.Reason != ReasonReservedConcurrency {
		t.Fatalf("reserved 1, one in flight: %v", err)
	}
	// A reserved function does not use the shared pool.
	a, err := c.take(fn("a", nil, 2), 10)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.take(fn("b", nil, 2), 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.take(fn("a", nil, 2), 10); err == nil || err.Reason != ReasonAccountConcurrency {
		t.Fatalf("shared pool of 2 with 2 in flight: %v", err)
	}
	a()
	a() // twice is once
	if _, err := c.take(fn("c", nil, 2), 10); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	r1()
	if _, err := c.take(fn("one", &one, 10), 10); err != nil {
		t.Fatalf("reserved 1 after its release: %v", err)
	}
	b()
}

// A throttled invocation starts no environment.
func TestThrottledInvocationStartsNothing(t *testing.T) {
	sb := newFakeSandbox()
	m := newTestManager(t, sb)
	zero := 0
	_, err := m.Invoke(context.Background(), &Invocation{Function: testFunction(t, 0), Reserved: &zero})
	var te *ThrottleError
	if !errors.As(err, &te) || te.Reason != ReasonReservedConcurrency {
		t.Fatalf("got %v", err)
	}
	select {
	case spec := <-sb.specs:
		t.Fatalf("an environment was started: %+v", spec)
	default:
	}
}
