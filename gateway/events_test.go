package gateway

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/furl-dev/furl/urlconfig"
)

// A free worker serves the function with the fewest events running, each
// function's events oldest first; what is not yet due waits.
func TestDispatcherTakesFairly(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	type ev struct {
		fn  string
		age int // seconds before now; negative: due later
	}
	for _, tc := range []struct {
		name    string
		queued  []ev
		running map[string]int
		want    []string // the events taken, in order, until none is due
		wait    time.Duration
	}{
		{"oldest first in one function", []ev{{"a", 1}, {"a", 3}, {"a", 2}}, nil, []string{"a:3", "a:2", "a:1"}, -1},
		{"a backlog does not hold back another function", []ev{{"slow", 9}, {"slow", 8}, {"slow", 7}, {"fast", 1}},
			map[string]int{"slow": 4}, []string{"fast:1", "slow:9", "slow:8", "slow:7"}, -1},
		{"taken events count as running", []ev{{"a", 9}, {"a", 8}, {"b", 2}, {"b", 1}}, nil, []string{"a:9", "b:2", "a:8", "b:1"}, -1},
		{"not due yet", []ev{{"a", -3}, {"b", 1}, {"a", -2}}, nil, []string{"b:1"}, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Dispatcher{fns: map[string]*fnEvents{}, changed: make(chan struct{})}
			for fn, n := range tc.running {
				d.fns[fn] = &fnEvents{running: n}
			}
			for _, e := range tc.queued {
				id := fmt.Sprintf("%s:%d", e.fn, e.age)
				d.push(&pending{ev: &urlconfig.QueuedEvent{ID: id, FunctionName: e.fn}, at: now.Add(-time.Duration(e.age) * time.Second)})
			}
			var got []string
			for {
				p, wait := d.takeLocked(now)
				if p == nil {
					if wait != tc.wait {
						t.Errorf("wait %s, want %s", wait, tc.wait)
					}
					break
				}
				got = append(got, p.ev.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("took %v, want %v", got, tc.want)
			}
		})
	}
}

// The backoff after throttles doubles from 1 s to 5 minutes, on the
// dispatcher's clock, and never outlives the event.
func TestDispatcherBackoff(t *testing.T) {
	for _, tc := range []struct {
		scale float64
		n     int
		left  time.Duration
		want  time.Duration
	}{
		{1, 0, time.Hour, time.Second},
		{1, 1, time.Hour, 2 * time.Second},
		{1, 8, time.Hour, 256 * time.Second},
		{1, 9, time.Hour, 5 * time.Minute},
		{1, 1000, time.Hour, 5 * time.Minute},
		{1, 3, 5 * time.Second, 5 * time.Second},
		{1, 0, -time.Second, 0},
		{0.01, 2, time.Hour, 40 * time.Millisecond},
	} {
		d := &Dispatcher{scale: tc.scale}
		if got := d.backoffWait(tc.n, tc.left); got != tc.want {
			t.Errorf("scale %g, %d throttles, %s left: wait %s, want %s", tc.scale, tc.n, tc.left, got, tc.want)
		}
	}
}

// A worker waits for the next event to be due, on a timer, and no longer:
// in a synctest bubble, it takes a retry exactly when it is due, and an
// event added meanwhile that is due at once wakes it at once.
func TestDispatcherWaitsUntilDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &Dispatcher{fns: map[string]*fnEvents{}, changed: make(chan struct{})}
		start := time.Now()
		d.mu.Lock()
		d.push(&pending{ev: &urlconfig.QueuedEvent{ID: "retry", FunctionName: "a"}, at: start.Add(2 * time.Second)})
		d.mu.Unlock()
		type took struct {
			id    string
			after time.Duration
		}
		got := make(chan took, 2)
		go func() {
			for range 2 {
				p := d.next()
				got <- took{p.ev.ID, time.Since(start)}
			}
		}()
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		if len(got) != 0 {
			t.Fatalf("an event was taken before it was due: %+v", <-got)
		}
		d.mu.Lock()
		d.push(&pending{ev: &urlconfig.QueuedEvent{ID: "new", FunctionName: "b"}, at: time.Now()})
		d.mu.Unlock()
		for _, want := range []took{{"new", 500 * time.Millisecond}, {"retry", 2 * time.Second}} {
			if g := <-got; g != want {
				t.Fatalf("took %s after %s, want %s after %s", g.id, g.after, want.id, want.after)
			}
		}
		// Stopping ends the wait of a worker with nothing due.
		stopped := make(chan *pending)
		go func() { stopped <- d.next() }()
		synctest.Wait()
		d.mu.Lock()
		d.stopping = true
		d.broadcastLocked()
		d.mu.Unlock()
		if p := <-stopped; p != nil {
			t.Fatalf("a stopping dispatcher gave %s", p.ev.ID)
		}
	})
}
