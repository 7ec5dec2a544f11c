package urlconfig

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"
)

// The asynchronous queue's defaults: bounds that keep a flood from filling
// the disk, far above what a developer's tests queue.
const (
	// DefaultEventQueueMaxBytes is 1 GiB of queued payloads.
	DefaultEventQueueMaxBytes = 1 << 30
	// DefaultEventQueueMaxEvents is 100,000 queued events.
	DefaultEventQueueMaxEvents = 100000
)

// QueuedEvent is one acknowledged asynchronous invocation waiting in the
// queue. Its payload stays on disk until it runs.
type QueuedEvent struct {
	// ID is the invocation's request id: the id the caller was answered
	// with, which every attempt keeps, as on AWS.
	ID string `json:"RequestId"`
	// FunctionName and Qualifier name what was invoked; Qualifier is ""
	// for an unqualified invocation.
	FunctionName string `json:"FunctionName"`
	Qualifier    string `json:"Qualifier,omitempty"`
	// TraceID is the X-Ray trace header of the invocation.
	TraceID string `json:"TraceId,omitempty"`
	// Enqueued is when the event was acknowledged; its age counts from
	// here.
	Enqueued time.Time `json:"Enqueued"`
	// Size is the payload's length in bytes.
	Size int64 `json:"Size"`
	// Attempts counts the attempts that ended in a function error. It is
	// kept in the file's name, so that it survives a restart.
	Attempts int `json:"-"`

	header int64 // length of the header line in the file
}

// QueueFullError is Enqueue's answer when the queue holds as much as it
// may.
type QueueFullError struct {
	Events, MaxEvents int
	Bytes, MaxBytes   int64
}

func (e *QueueFullError) Error() string {
	return fmt.Sprintf("the asynchronous invocation queue is full: it holds %d events (at most %d) and %d bytes of payloads (at most %d)",
		e.Events, e.MaxEvents, e.Bytes, e.MaxBytes)
}

// EventQueue keeps acknowledged asynchronous invocations on disk, one file
// per event, so that they outlive furl. A file is written in full and
// synced under a temporary name, then renamed into place and the directory
// synced, before Enqueue returns: after a crash at any point an event is
// either whole or absent, and Open removes what a crash left half-written.
// Payloads stay out of state.db, whose file never shrinks. The queue is
// bounded by a count and a total of payload bytes. It is safe for
// concurrent use; it does not schedule anything, its dispatcher does.
type EventQueue struct {
	dir       string
	maxBytes  int64
	maxEvents int
	log       *slog.Logger

	mu     sync.Mutex
	events map[string]*QueuedEvent // by ID
	bytes  int64
}

// eventFile names the file of an event: its id and attempts so far.
var eventFile = regexp.MustCompile(`^([0-9A-Za-z-]{1,64})\.([0-9]{1,4})\.event$`)

// maxEventHeader bounds the header line read back from an event file.
const maxEventHeader = 64 << 10

// openEventQueue opens the queue in dir, creating it if needed, and reads
// what is queued there. Temporary files (events whose Enqueue never
// returned) and files that do not hold a whole event are removed.
func openEventQueue(dir string, maxBytes int64, maxEvents int, log *slog.Logger) (*EventQueue, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("urlconfig: create the event queue: %w", err)
	}
	q := &EventQueue{dir: dir, maxBytes: maxBytes, maxEvents: maxEvents, log: log, events: map[string]*QueuedEvent{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("urlconfig: read the event queue: %w", err)
	}
	removed := 0
	for _, e := range entries {
		name := e.Name()
		ev, err := q.load(name)
		if err != nil {
			q.log.Warn("removing a file that holds no whole queued event", "file", filepath.Join(dir, name), "why", err)
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("urlconfig: clean the event queue: %w", err)
			}
			removed++
			continue
		}
		q.events[ev.ID] = ev
		q.bytes += ev.Size
	}
	if removed > 0 {
		if err := syncDir(dir); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// load reads the header of one file of the queue directory and checks that
// the file holds the whole event it describes.
func (q *EventQueue) load(name string) (*QueuedEvent, error) {
	m := eventFile.FindStringSubmatch(name)
	if m == nil {
		return nil, errors.New("not an event file (a temporary file left by a crash, or a stranger)")
	}
	f, err := os.Open(filepath.Join(q.dir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(io.LimitReader(f, maxEventHeader)).ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("no header line: %w", err)
	}
	var ev QueuedEvent
	if err := json.Unmarshal(line, &ev); err != nil {
		return nil, fmt.Errorf("bad header: %w", err)
	}
	ev.header = int64(len(line))
	ev.Attempts, _ = strconv.Atoi(m[2])
	switch {
	case ev.ID != m[1]:
		return nil, fmt.Errorf("the header names request %q", ev.ID)
	case ev.Size < 0 || fi.Size() != ev.header+ev.Size:
		return nil, fmt.Errorf("%d bytes, not the %d of its header and payload", fi.Size(), ev.header+ev.Size)
	}
	return &ev, nil
}

// Pending lists every queued event, oldest first: what a dispatcher
// resumes at start.
func (q *EventQueue) Pending() []*QueuedEvent {
	q.mu.Lock()
	out := make([]*QueuedEvent, 0, len(q.events))
	for _, ev := range q.events {
		out = append(out, ev)
	}
	q.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Enqueued.Before(out[j].Enqueued) })
	return out
}

// Len reports how many events are queued and their payloads' total size.
func (q *EventQueue) Len() (events int, bytes int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.events), q.bytes
}

// Enqueue stores an event durably. When it returns nil the event is on
// disk and synced; a *QueueFullError means the queue holds as much as it
// may and nothing was stored.
func (q *EventQueue) Enqueue(ev *QueuedEvent, payload []byte) error {
	ev.Size = int64(len(payload))
	ev.Attempts = 0
	if !eventFile.MatchString(ev.ID + ".0.event") {
		return fmt.Errorf("urlconfig: request id %q cannot name an event file", ev.ID)
	}
	if err := q.reserve(ev); err != nil {
		return err
	}
	if err := q.write(ev, payload); err != nil {
		q.release(ev)
		return err
	}
	return nil
}

// reserve counts an event against the bounds before it is written, so that
// concurrent writers cannot overshoot them together.
func (q *EventQueue) reserve(ev *QueuedEvent) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.events)+1 > q.maxEvents || q.bytes+ev.Size > q.maxBytes {
		return &QueueFullError{Events: len(q.events), MaxEvents: q.maxEvents, Bytes: q.bytes, MaxBytes: q.maxBytes}
	}
	if _, dup := q.events[ev.ID]; dup {
		return fmt.Errorf("urlconfig: event %s is already queued", ev.ID)
	}
	q.events[ev.ID] = ev
	q.bytes += ev.Size
	return nil
}

func (q *EventQueue) release(ev *QueuedEvent) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.events[ev.ID] == ev {
		delete(q.events, ev.ID)
		q.bytes -= ev.Size
	}
}

// write puts an event's header and payload in a synced temporary file and
// renames it into place, syncing the directory: the rename is the commit.
func (q *EventQueue) write(ev *QueuedEvent, payload []byte) error {
	header, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("urlconfig: encode event header: %w", err)
	}
	header = append(header, '\n')
	ev.header = int64(len(header))
	f, err := os.CreateTemp(q.dir, "enqueue-*.tmp")
	if err != nil {
		return fmt.Errorf("urlconfig: queue event: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(header)
	if err == nil {
		_, err = f.Write(payload)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, q.path(ev))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("urlconfig: queue event: %w", err)
	}
	return syncDir(q.dir)
}

func (q *EventQueue) path(ev *QueuedEvent) string {
	return filepath.Join(q.dir, ev.ID+"."+strconv.Itoa(ev.Attempts)+".event")
}

// Payload reads a queued event's payload back from disk.
func (q *EventQueue) Payload(ev *QueuedEvent) ([]byte, error) {
	raw, err := os.ReadFile(q.path(ev))
	if err != nil {
		return nil, fmt.Errorf("urlconfig: read queued event %s: %w", ev.ID, err)
	}
	if int64(len(raw)) != ev.header+ev.Size {
		return nil, fmt.Errorf("urlconfig: queued event %s has %d bytes, not %d", ev.ID, len(raw), ev.header+ev.Size)
	}
	return raw[ev.header:], nil
}

// RecordAttempt counts one more attempt that ended in a function error,
// durably: the file is renamed, which is atomic, and the directory synced.
func (q *EventQueue) RecordAttempt(ev *QueuedEvent) error {
	from := q.path(ev)
	next := *ev
	next.Attempts++
	if err := os.Rename(from, q.path(&next)); err != nil {
		return fmt.Errorf("urlconfig: count an attempt of event %s: %w", ev.ID, err)
	}
	ev.Attempts = next.Attempts
	return syncDir(q.dir)
}

// Remove takes an event out of the queue: it ran, failed for good or aged
// out. The directory is not synced: after a crash the event may come back
// and run again, which at-least-once delivery allows.
func (q *EventQueue) Remove(ev *QueuedEvent) error {
	if err := os.Remove(q.path(ev)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("urlconfig: remove queued event %s: %w", ev.ID, err)
	}
	q.release(ev)
	return nil
}
