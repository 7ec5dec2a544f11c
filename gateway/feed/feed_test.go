package feed

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/furl-dev/furl/runtimeapi"
)

func logEvent(fn string, i int) runtimeapi.Event {
	return runtimeapi.Event{Kind: runtimeapi.EventLog, Function: fn, Line: fmt.Sprint(i)}
}

func lines(evs []runtimeapi.Event) string {
	s := ""
	for _, ev := range evs {
		s += ev.Function + ":" + ev.Line + " "
	}
	return s
}

// Each function keeps its last events, in order; all functions' together
// come in the order they happened.
func TestRecentKeepsAWindowPerFunction(t *testing.T) {
	h := New(3, 0)
	for i := range 5 {
		h.Publish(logEvent("a", i))
		if i%2 == 0 {
			h.Publish(logEvent("b", i))
		}
	}
	for _, c := range []struct{ fn, want string }{
		{"a", "a:2 a:3 a:4 "},
		{"b", "b:0 b:2 b:4 "},
		{"", "b:0 a:2 b:2 a:3 a:4 b:4 "},
		{"nobody", ""},
	} {
		if got := lines(h.Recent(c.fn)); got != c.want {
			t.Errorf("Recent(%q) = %q, want %q", c.fn, got, c.want)
		}
	}
}

// A subscriber gets its backlog and then the live events of its function
// only; one that falls behind loses events, counted, and never blocks
// Publish; ending its context ends its channel.
func TestSubscribe(t *testing.T) {
	h := New(10, 2)
	h.Publish(logEvent("a", 0))
	ctx, cancel := context.WithCancel(context.Background())
	ch, backlog, dropped := h.Subscribe(ctx, "a", true)
	if got := lines(backlog); got != "a:0 " {
		t.Fatalf("backlog %q", got)
	}
	h.Publish(logEvent("b", 1))
	h.Publish(logEvent("a", 2))
	h.Publish(logEvent("a", 3))
	h.Publish(logEvent("a", 4)) // the queue holds two: this one is lost
	if got := lines([]runtimeapi.Event{<-ch, <-ch}); got != "a:2 a:3 " {
		t.Errorf("live events %q", got)
	}
	if dropped() != 1 {
		t.Errorf("dropped %d, want 1", dropped())
	}
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Error("an event after the subscription ended")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the channel stayed open after its context ended")
	}
	h.Publish(logEvent("a", 5)) // no subscriber: nothing to block on
}

// Close ends every subscription, and a subscription made after it is
// already over.
func TestClose(t *testing.T) {
	h := New(0, 0)
	ch, _, _ := h.Subscribe(context.Background(), "", false)
	h.Close()
	if _, ok := <-ch; ok {
		t.Error("an event after Close")
	}
	late, _, _ := h.Subscribe(context.Background(), "", false)
	if _, ok := <-late; ok {
		t.Error("a subscription after Close is open")
	}
	h.Publish(logEvent("a", 1))
	if len(h.Recent("")) != 0 {
		t.Error("an event kept after Close")
	}
}

// The number of functions kept is bounded: the quietest goes first.
func TestFunctionsBounded(t *testing.T) {
	h := New(1, 0)
	for i := range maxFunctions + 5 {
		h.Publish(logEvent(fmt.Sprint("f", i), i))
	}
	h.mu.Lock()
	n := len(h.byFn)
	_, first := h.byFn["f0"]
	_, last := h.byFn[fmt.Sprint("f", maxFunctions+4)]
	h.mu.Unlock()
	if n != maxFunctions || first || !last {
		t.Errorf("%d functions kept (first kept %v, last kept %v)", n, first, last)
	}
}

// A long line is cut in the feed; all windows together stay within their
// byte budget, the largest giving up its oldest events first.
func TestBytesBounded(t *testing.T) {
	h := New(0, 0)
	long := strings.Repeat("é", maxLine) // two bytes a rune: cut mid-rune
	for _, fn := range []string{"a", "b", "c"} {
		for range DefaultKeep {
			h.Publish(runtimeapi.Event{Kind: runtimeapi.EventLog, Function: fn, Line: long})
		}
	}
	h.mu.Lock()
	total, counted := h.bytes, 0
	for _, r := range h.byFn {
		counted += r.bytes
	}
	h.mu.Unlock()
	if total > maxBytes || total != counted {
		t.Errorf("windows hold %d bytes (their own count: %d), budget %d", total, counted, maxBytes)
	}
	c := h.Recent("c")
	if len(c) == 0 || len(h.Recent("a")) >= DefaultKeep {
		t.Errorf("kept %d of c's events and %d of a's", len(c), len(h.Recent("a")))
	}
	line := c[len(c)-1].Line
	if !strings.HasSuffix(line, truncatedMark) || len(line) > maxLine+len(truncatedMark) || !utf8.ValidString(line) {
		t.Errorf("a long line kept as %d bytes, valid UTF-8 %v, ending %q", len(line), utf8.ValidString(line), line[len(line)-60:])
	}
}

// BenchmarkPublishInvocation is what the feed costs one warm invocation:
// its start, its START/END/REPORT lines and its end, with one follower.
func BenchmarkPublishInvocation(b *testing.B) {
	h := New(0, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _, _ := h.Subscribe(ctx, "fn", false)
	go func() {
		for range ch {
		}
	}()
	events := []runtimeapi.Event{
		{Kind: runtimeapi.EventStart, Function: "fn", Version: "$LATEST", RequestID: "11111111-2222-3333-4444-555555555555"},
		{Kind: runtimeapi.EventLog, Function: "fn", Version: "$LATEST", Line: "START RequestId: 11111111-2222-3333-4444-555555555555 Version: $LATEST"},
		{Kind: runtimeapi.EventLog, Function: "fn", Version: "$LATEST", Line: "END RequestId: 11111111-2222-3333-4444-555555555555"},
		{Kind: runtimeapi.EventLog, Function: "fn", Version: "$LATEST", Line: "REPORT RequestId: 11111111-2222-3333-4444-555555555555\tDuration: 0.52 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 17 MB\t"},
		{Kind: runtimeapi.EventEnd, Function: "fn", Version: "$LATEST", RequestID: "11111111-2222-3333-4444-555555555555"},
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, ev := range events {
			h.Publish(ev)
		}
	}
}

// A deleted function's window goes, with its bytes; its followers hear it.
func TestDeletedFunctionsWindowGoes(t *testing.T) {
	h := New(0, 0)
	ch, _, _ := h.Subscribe(context.Background(), "gone", false)
	h.Publish(logEvent("gone", 1))
	h.Publish(logEvent("kept", 2))
	h.Publish(runtimeapi.Event{Kind: runtimeapi.EventDeleted, Function: "gone"})
	if got := lines(h.Recent("gone")); got != "" {
		t.Errorf("the deleted function's window holds %q", got)
	}
	if got := lines(h.Recent("")); got != "kept:2 " {
		t.Errorf("all windows hold %q", got)
	}
	h.mu.Lock()
	if want := size(entry{ev: logEvent("kept", 2)}); h.bytes != want {
		t.Errorf("the windows count %d bytes, want %d", h.bytes, want)
	}
	h.mu.Unlock()
	if ev := <-ch; ev.Kind != runtimeapi.EventLog {
		t.Fatalf("first event %v", ev.Kind)
	}
	if ev := <-ch; ev.Kind != runtimeapi.EventDeleted {
		t.Errorf("the follower heard %v, want the deletion", ev.Kind)
	}
}
