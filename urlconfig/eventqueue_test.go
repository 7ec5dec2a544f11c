package urlconfig

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openTestQueue(t *testing.T, dir string, maxBytes int64, maxEvents int) *EventQueue {
	t.Helper()
	q, err := openEventQueue(dir, maxBytes, maxEvents, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("openEventQueue: %v", err)
	}
	return q
}

func testEvent(id string) *QueuedEvent {
	return &QueuedEvent{ID: id, FunctionName: "fn", Qualifier: "live", TraceID: "Root=1-2-3", Enqueued: time.Now()}
}

func queueFiles(t *testing.T, dir string) []string {
	t.Helper()
	return dirNames(t, dir)
}

// An acknowledged event, and each later step of its life, is what a
// restart finds: its payload, what invoked it, and its failed attempts.
func TestEventQueueSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	q := openTestQueue(t, dir, 1<<20, 10)
	first, second := testEvent("a-1"), testEvent("b-2")
	second.Enqueued = first.Enqueued.Add(time.Millisecond)
	for _, ev := range []*QueuedEvent{second, first} {
		if err := q.Enqueue(ev, []byte(`{"n":"`+ev.ID+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.RecordAttempt(first); err != nil {
		t.Fatal(err)
	}

	q2 := openTestQueue(t, dir, 1<<20, 10)
	got := q2.Pending()
	if len(got) != 2 || got[0].ID != "a-1" || got[1].ID != "b-2" {
		t.Fatalf("reopened queue holds %v, want a-1 then b-2 (oldest first)", got)
	}
	if got[0].Attempts != 1 || got[1].Attempts != 0 || got[0].FunctionName != "fn" || got[0].Qualifier != "live" ||
		got[0].TraceID != "Root=1-2-3" || !got[0].Enqueued.Equal(first.Enqueued) {
		t.Fatalf("reopened event a-1: %+v", got[0])
	}
	payload, err := q2.Payload(got[0])
	if err != nil || string(payload) != `{"n":"a-1"}` {
		t.Fatalf("payload %q, %v", payload, err)
	}
	if n, size := q2.Len(); n != 2 || size != int64(2*len(`{"n":"a-1"}`)) {
		t.Fatalf("Len = %d, %d", n, size)
	}
	if err := q2.Remove(got[0]); err != nil {
		t.Fatal(err)
	}
	if left := openTestQueue(t, dir, 1<<20, 10).Pending(); len(left) != 1 || left[0].ID != "b-2" {
		t.Fatalf("after Remove a restart finds %v", left)
	}
}

// What a crash can leave at each step of Enqueue, and damage no step
// makes: Open keeps whole events only, and removes the rest.
func TestEventQueueCleansCrashLeftovers(t *testing.T) {
	whole := func(t *testing.T) []byte {
		// The bytes Enqueue writes for one event, taken from a real write.
		src := t.TempDir()
		q := openTestQueue(t, src, 1<<20, 10)
		ev := testEvent("tmpl")
		if err := q.Enqueue(ev, []byte(`{"pad":"xxxxxxxxxx"}`)); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(q.path(ev))
		if err != nil {
			t.Fatal(err)
		}
		return bytes.ReplaceAll(raw, []byte("tmpl"), []byte("lost"))
	}
	for _, tc := range []struct {
		name  string
		file  string
		bytes func(full []byte) []byte
	}{
		{"crash while writing the temporary file", "enqueue-123.tmp", func(full []byte) []byte { return full[:len(full)/2] }},
		{"crash after syncing, before the rename", "enqueue-456.tmp", func(full []byte) []byte { return full }},
		{"payload shorter than its header says", "lost.0.event", func(full []byte) []byte { return full[:len(full)-3] }},
		{"payload longer than its header says", "lost.0.event", func(full []byte) []byte { return append(full, "xyz"...) }},
		{"no header line", "lost.0.event", func([]byte) []byte { return []byte("garbage") }},
		{"header of another event", "other.0.event", func(full []byte) []byte { return full }},
		{"a stranger in the directory", "notes.txt", func(full []byte) []byte { return full }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			q := openTestQueue(t, dir, 1<<20, 10)
			kept := testEvent("kept")
			if err := q.Enqueue(kept, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, tc.file), tc.bytes(whole(t)), 0o600); err != nil {
				t.Fatal(err)
			}
			q2 := openTestQueue(t, dir, 1<<20, 10)
			if got := queueFiles(t, dir); len(got) != 1 || got[0] != "kept.0.event" {
				t.Fatalf("after Open the directory holds %v, want only kept.0.event", got)
			}
			if p := q2.Pending(); len(p) != 1 || p[0].ID != "kept" {
				t.Fatalf("Open found %v", p)
			}
		})
	}
}

// A crash after the rename but before anything else is a whole event:
// the file Enqueue commits is complete as soon as it has its name.
func TestEventQueueRenamedFileIsWhole(t *testing.T) {
	src, dir := t.TempDir(), t.TempDir()
	q := openTestQueue(t, src, 1<<20, 10)
	ev := testEvent("copied")
	if err := q.Enqueue(ev, []byte(`[1,2,3]`)); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(q.path(ev))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "copied.2.event"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	got := openTestQueue(t, dir, 1<<20, 10).Pending()
	if len(got) != 1 || got[0].Attempts != 2 {
		t.Fatalf("Open found %+v", got)
	}
}

// The bounds hold: past either, Enqueue refuses and writes nothing; a
// removed event frees its room.
func TestEventQueueBounds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		maxBytes  int64
		maxEvents int
		sizes     []int
		accepted  int
	}{
		{"count", 1 << 20, 2, []int{1, 1, 1}, 2},
		{"bytes", 100, 10, []int{60, 40, 1}, 2},
		{"one over the bytes", 100, 10, []int{101}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			q := openTestQueue(t, dir, tc.maxBytes, tc.maxEvents)
			var evs []*QueuedEvent
			for i, size := range tc.sizes {
				ev := testEvent(fmt.Sprintf("e%d", i))
				err := q.Enqueue(ev, bytes.Repeat([]byte("1"), size))
				var full *QueueFullError
				switch {
				case i < tc.accepted && err != nil:
					t.Fatalf("event %d refused: %v", i, err)
				case i >= tc.accepted && !errors.As(err, &full):
					t.Fatalf("event %d: %v, want QueueFullError", i, err)
				case err == nil:
					evs = append(evs, ev)
				}
			}
			if got := queueFiles(t, dir); len(got) != tc.accepted {
				t.Fatalf("the queue directory holds %v after refusals", got)
			}
			if len(evs) == 0 {
				return
			}
			if err := q.Remove(evs[0]); err != nil {
				t.Fatal(err)
			}
			if err := q.Enqueue(testEvent("after"), bytes.Repeat([]byte("1"), tc.sizes[0])); err != nil {
				t.Fatalf("no room after a removal: %v", err)
			}
		})
	}
}

// Writers racing for the last places never overshoot the bound.
func TestEventQueueBoundUnderConcurrency(t *testing.T) {
	dir := t.TempDir()
	q := openTestQueue(t, dir, 1<<20, 10)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if q.Enqueue(testEvent(fmt.Sprintf("c%d", i)), []byte(`{}`)) == nil {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n, _ := q.Len(); accepted != 10 || n != 10 || len(queueFiles(t, dir)) != 10 {
		t.Fatalf("accepted %d, Len %d, files %d; want 10 each", accepted, n, len(queueFiles(t, dir)))
	}
}

// A queue reopened with lower bounds keeps what it holds and takes no
// more until it drains below them.
func TestEventQueueReopenedOverItsBounds(t *testing.T) {
	dir := t.TempDir()
	q := openTestQueue(t, dir, 1<<20, 10)
	for i := range 3 {
		if err := q.Enqueue(testEvent(fmt.Sprintf("o%d", i)), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	small := openTestQueue(t, dir, 1<<20, 2)
	if n, _ := small.Len(); n != 3 {
		t.Fatalf("reopened with 3 events over a bound of 2: Len %d", n)
	}
	var full *QueueFullError
	if err := small.Enqueue(testEvent("more"), []byte(`{}`)); !errors.As(err, &full) {
		t.Fatalf("Enqueue over the bound: %v", err)
	}
}

// Whatever bytes an event file holds, Open keeps it only as a whole event
// whose payload reads back, and removes it otherwise.
func FuzzEventFile(f *testing.F) {
	f.Add([]byte("{\"RequestId\":\"x\",\"FunctionName\":\"fn\",\"Enqueued\":\"2026-03-14T15:09:26Z\",\"Size\":2}\n{}"))
	f.Add([]byte("{\"RequestId\":\"x\",\"Size\":-1}\n"))
	f.Add([]byte("{}\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "x.0.event"), raw, 0o600); err != nil {
			t.Fatal(err)
		}
		q := openTestQueue(t, dir, 1<<20, 10)
		got := q.Pending()
		files := queueFiles(t, dir)
		switch {
		case len(got) == 0 && len(files) != 0:
			t.Fatalf("a refused file stayed: %v", files)
		case len(got) == 1:
			payload, err := q.Payload(got[0])
			if err != nil || int64(len(payload)) != got[0].Size || !bytes.HasSuffix(raw, payload) {
				t.Fatalf("kept an event whose payload does not read back: %v", err)
			}
		}
	})
}
