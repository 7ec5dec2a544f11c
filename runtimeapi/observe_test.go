package runtimeapi

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// eventLog collects what a Manager reports to its observer.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(ev Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
}

// of returns the events of some kinds, in order.
func (l *eventLog) of(kinds ...EventKind) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, ev := range l.events {
		for _, k := range kinds {
			if ev.Kind == k {
				out = append(out, ev)
			}
		}
	}
	return out
}

// The observer hears a cold invocation and a warm one in one
// environment, start and end, with what each sent and how it ended, and
// every log line with its request id; a throttled invocation is heard too.
func TestObserverHearsInvocations(t *testing.T) {
	sb := newFakeSandbox()
	var heard eventLog
	m, err := New(Config{DataDir: t.TempDir(), Sandbox: sb, Logger: slog.New(slog.DiscardHandler), Observe: heard.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	fn := testFunction(t, 5*time.Second)

	out, rt := startInvoke(t, m, sb, fn, `{}`)
	rt.do("GET", "/runtime/invocation/next", nil, nil)
	rt.do("POST", "/runtime/invocation/11111111-2222-3333-4444-555555555555/response", strings.NewReader("hello"), nil)
	wait(t, out)

	// The same environment, warm, and this time the function fails.
	warm := make(chan *FunctionError, 1)
	go func() {
		res, err := m.Invoke(context.Background(), &Invocation{Function: fn, RequestID: "22222222-2222-3333-4444-555555555555", Payload: []byte(`{}`)})
		if err != nil {
			t.Error(err)
			warm <- nil
			return
		}
		io.Copy(io.Discard, res.Body)
		fe := res.Wait()
		// The outcome comes first; the closing lines and the end event
		// follow it: LogTail waits for the invocation to be over.
		res.LogTail(0)
		warm <- fe
	}()
	rt.do("GET", "/runtime/invocation/next", nil, nil)
	rt.do("POST", "/runtime/invocation/22222222-2222-3333-4444-555555555555/error",
		strings.NewReader(`{"errorMessage":"no","errorType":"Oops"}`), map[string]string{"Lambda-Runtime-Function-Error-Type": "Oops"})
	if fe := <-warm; fe == nil || fe.Type != "Oops" {
		t.Fatalf("warm invocation ended with %v", fe)
	}

	// No executions left: a reserved concurrency of zero throttles.
	zero := 0
	if _, err := m.Invoke(context.Background(), &Invocation{Function: fn, RequestID: "33333333-2222-3333-4444-555555555555", Reserved: &zero}); err == nil {
		t.Fatal("an invocation with a reserved concurrency of zero ran")
	}

	calls := heard.of(EventStart, EventEnd, EventThrottle)
	if len(calls) != 5 {
		t.Fatalf("heard %d invocation events, want 5: %+v", len(calls), calls)
	}
	type seen struct {
		kind      EventKind
		id        string
		cold      bool
		bytes     int64
		errorType string
	}
	want := []seen{
		{EventStart, "11111111-2222-3333-4444-555555555555", true, 0, ""},
		{EventEnd, "11111111-2222-3333-4444-555555555555", true, 5, ""},
		{EventStart, "22222222-2222-3333-4444-555555555555", false, 0, ""},
		{EventEnd, "22222222-2222-3333-4444-555555555555", false, 0, "Oops"},
		{EventThrottle, "33333333-2222-3333-4444-555555555555", false, 0, ""},
	}
	for i, ev := range calls {
		got := seen{ev.Kind, ev.RequestID, ev.Cold, ev.ResponseBytes, ev.ErrorType}
		if got != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, got, want[i])
		}
		if ev.Function != "fn" || ev.Version != "$LATEST" || ev.Time.IsZero() {
			t.Errorf("event %d names %s:%s at %v", i, ev.Function, ev.Version, ev.Time)
		}
	}
	if calls[0].Environment == "" || calls[0].Environment != calls[2].Environment {
		t.Errorf("the two invocations ran in environments %q and %q, want one", calls[0].Environment, calls[2].Environment)
	}
	if calls[1].Duration <= 0 || calls[1].InitDuration <= 0 || calls[3].InitDuration != 0 {
		t.Errorf("durations: cold %v (init %v), warm init %v", calls[1].Duration, calls[1].InitDuration, calls[3].InitDuration)
	}

	// The log lines, each with its request id: Lambda's own for both.
	var lines []string
	for _, ev := range heard.of(EventLog) {
		if ev.RequestID != "" {
			lines = append(lines, ev.RequestID[:8]+" "+strings.Fields(ev.Line)[0])
		}
	}
	wantLines := []string{"11111111 START", "11111111 END", "11111111 REPORT", "22222222 START", "22222222 END", "22222222 REPORT"}
	if strings.Join(lines, ",") != strings.Join(wantLines, ",") {
		t.Errorf("log lines %q, want %q", lines, wantLines)
	}
}
