package runtimeapi

import (
	"testing"
	"testing/synctest"
	"time"
)

// A function with reserved concurrency n gets 10·n requests a second, as
// Lambda allows: a full second's worth at once, then one every 1/(10·n)
// s. Run in a synctest bubble, the refill is exact.
func TestReservedRateRefills(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l rateLimits
		two := 2
		for i := range 20 {
			if !l.allow("f", &two) {
				t.Fatalf("request %d of the first second refused, want 20 allowed", i+1)
			}
		}
		if l.allow("f", &two) {
			t.Fatal("a 21st request in the same instant allowed")
		}
		// Another function has a bucket of its own; none without a
		// reservation.
		if !l.allow("g", &two) || !l.allow("h", nil) {
			t.Fatal("a full bucket of another function, or none, refused")
		}
		// (x/time/rate rounds its wait to the nanosecond: test to the
		// millisecond.)
		time.Sleep(49 * time.Millisecond)
		if l.allow("f", &two) {
			t.Fatal("a request allowed before a 20th of a second refilled one")
		}
		time.Sleep(time.Millisecond)
		if !l.allow("f", &two) || l.allow("f", &two) {
			t.Fatal("a 20th of a second did not refill exactly one request")
		}
		// A changed reservation starts a bucket of its own size.
		three := 3
		for i := range 30 {
			if !l.allow("f", &three) {
				t.Fatalf("request %d after the reservation became 3 refused", i+1)
			}
		}
		if l.allow("f", &three) {
			t.Fatal("a 31st request allowed at a reservation of 3")
		}
	})
}
