package runtimeapi

import (
	"testing"
	"testing/synctest"
)

// The first outcome of a call wins; a later one waits for its closing
// work and loses. A closing that panics (a handler's panic, which net/http
// recovers) still ends the call: the outcomes that lost do not wait
// forever.
func TestFinishOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCall(&Invocation{RequestID: "r"})
		closing, release := make(chan struct{}), make(chan struct{})
		won := make(chan bool, 1)
		go func() {
			defer func() { recover() }()
			won <- c.finish(nil, func() {
				close(closing)
				<-release
				panic("observer")
			})
		}()
		<-closing
		lost := make(chan bool, 1)
		go func() { lost <- c.finish(newFunctionError("Sandbox.Timedout", "late"), nil) }()
		synctest.Wait()
		select {
		case <-lost:
			t.Fatal("a losing outcome returned before the winner's closing work was done")
		default:
		}
		close(release)
		if <-lost {
			t.Fatal("a second outcome won")
		}
		if !c.finished() {
			t.Fatal("the call is not over after its closing work panicked")
		}
		if c.err != nil {
			t.Fatalf("the outcome is %+v, want the first (success)", c.err)
		}
		select {
		case <-won:
			t.Fatal("the panicking closing returned")
		default:
		}
	})
}
