// Package feed keeps what furl's functions have been doing lately and
// hands it, live, to whoever watches: `furl logs`, the dashboard. It
// holds a bounded window of recent events per function and fans new
// ones out to subscribers, each with a bounded queue: a slow watcher
// loses events (and is told how many), it never slows an invocation.
package feed

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/furl-dev/furl/runtimeapi"
)

// Default bounds.
const (
	// DefaultKeep is how many recent events a Hub keeps per function.
	DefaultKeep = 1000
	// DefaultQueue is how many events a subscriber may fall behind by
	// before it loses some.
	DefaultQueue = 256
	// maxFunctions bounds how many functions' windows a Hub keeps; past
	// it, the quietest function's window goes.
	maxFunctions = 1000
	// maxBytes bounds what all windows hold together; past it, the
	// largest window loses its oldest events.
	maxBytes = 32 << 20
	// maxLine is how much of a log line the feed keeps: a function may
	// print lines of 256 KB, and the feed is for reading along, not an
	// archive (furl's standard output has every line whole).
	maxLine = 16 << 10
	// entryOverhead is what an event costs besides its line, roughly.
	entryOverhead = 256
)

// truncatedMark ends a line the feed cut at maxLine.
const truncatedMark = " [... furl's feed keeps the first 16 KiB of a line]"

// Hub is the feed. Its zero value is not usable; make one with New.
type Hub struct {
	keep  int
	queue int

	mu     sync.Mutex
	seq    uint64
	bytes  int // held by all windows
	byFn   map[string]*ring
	subs   map[*subscriber]struct{}
	closed bool
}

// New makes a Hub that keeps keep events per function and lets a
// subscriber fall behind by queue events; zero means the default.
func New(keep, queue int) *Hub {
	if keep <= 0 {
		keep = DefaultKeep
	}
	if queue <= 0 {
		queue = DefaultQueue
	}
	return &Hub{keep: keep, queue: queue, byFn: map[string]*ring{}, subs: map[*subscriber]struct{}{}}
}

type subscriber struct {
	fn      string // "" for all functions
	ch      chan runtimeapi.Event
	dropped atomic.Uint64
}

// Publish records an event and hands it to the subscribers that want
// it. It never blocks.
func (h *Hub) Publish(ev runtimeapi.Event) {
	if len(ev.Line) > maxLine {
		ev.Line = strings.ToValidUTF8(ev.Line[:maxLine], "") + truncatedMark
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.seq++
	if ev.Kind == runtimeapi.EventDeleted {
		// The function's window goes; its followers hear that it went.
		if r := h.byFn[ev.Function]; r != nil {
			h.bytes -= r.bytes
			delete(h.byFn, ev.Function)
		}
		h.fanOutLocked(ev)
		return
	}
	r := h.byFn[ev.Function]
	if r == nil {
		if len(h.byFn) >= maxFunctions {
			h.forgetQuietestLocked()
		}
		r = &ring{}
		h.byFn[ev.Function] = r
	}
	h.bytes += r.add(entry{seq: h.seq, ev: ev}, h.keep)
	for h.bytes > maxBytes {
		h.bytes -= h.largestLocked().dropOldest()
	}
	h.fanOutLocked(ev)
}

// fanOutLocked hands an event to the subscribers that want it.
func (h *Hub) fanOutLocked(ev runtimeapi.Event) {
	for s := range h.subs {
		if s.fn != "" && s.fn != ev.Function {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			s.dropped.Add(1)
		}
	}
}

// largestLocked is the window that holds the most bytes.
func (h *Hub) largestLocked() *ring {
	var big *ring
	for _, r := range h.byFn {
		if big == nil || r.bytes > big.bytes {
			big = r
		}
	}
	return big
}

// forgetQuietestLocked drops the window of the function whose last
// event is the oldest.
func (h *Hub) forgetQuietestLocked() {
	var quiet string
	var oldest uint64
	for name, r := range h.byFn {
		if last := r.last(); quiet == "" || last < oldest {
			quiet, oldest = name, last
		}
	}
	h.bytes -= h.byFn[quiet].bytes
	delete(h.byFn, quiet)
}

// Recent returns the events kept for a function, or for all functions
// when fn is "", oldest first.
func (h *Hub) Recent(fn string) []runtimeapi.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.recentLocked(fn)
}

func (h *Hub) recentLocked(fn string) []runtimeapi.Event {
	var entries []entry
	if fn != "" {
		if r := h.byFn[fn]; r != nil {
			entries = r.ordered()
		}
	} else {
		for _, r := range h.byFn {
			entries = append(entries, r.ordered()...)
		}
		slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.seq, b.seq) })
	}
	out := make([]runtimeapi.Event, len(entries))
	for i, e := range entries {
		out[i] = e.ev
	}
	return out
}

// Subscribe returns the events published from now on for a function, or
// all functions when fn is "", and how many were dropped because the
// reader fell behind. The channel closes when ctx ends or the Hub
// closes. With recent, the events already kept come first, with no gap
// and no repeat between them and the live ones.
func (h *Hub) Subscribe(ctx context.Context, fn string, recent bool) (events <-chan runtimeapi.Event, backlog []runtimeapi.Event, dropped func() uint64) {
	s := &subscriber{fn: fn, ch: make(chan runtimeapi.Event, h.queue)}
	h.mu.Lock()
	if recent {
		backlog = h.recentLocked(fn)
	}
	if h.closed {
		h.mu.Unlock()
		close(s.ch)
		return s.ch, backlog, s.dropped.Load
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	// The subscription's owner is its ctx: when it ends, so does this.
	context.AfterFunc(ctx, func() { h.unsubscribe(s) })
	return s.ch, backlog, s.dropped.Load
}

func (h *Hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
}

// Close ends every subscription; later events are not kept.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		delete(h.subs, s)
		close(s.ch)
	}
}

// entry is an event with its place in the order of all events.
type entry struct {
	seq uint64
	ev  runtimeapi.Event
}

// ring is one function's window of recent events, oldest first from
// head.
type ring struct {
	buf   []entry
	head  int // the oldest entry
	n     int // how many entries the window holds
	bytes int
}

func size(e entry) int { return entryOverhead + len(e.ev.Line) }

// add appends an entry, dropping the oldest when keep are held, and
// returns by how many bytes the window grew.
func (r *ring) add(e entry, keep int) int {
	grew := 0
	if r.n == keep {
		grew -= r.dropOldest()
	}
	if r.n == len(r.buf) {
		// Grow, oldest first again: windows of quiet functions stay small.
		grown := make([]entry, 0, min(max(2*len(r.buf), 16), keep))
		grown = append(grown, r.ordered()...)
		r.buf, r.head = grown[:cap(grown)], 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = e
	r.n++
	r.bytes += size(e)
	return grew + size(e)
}

// dropOldest drops the oldest entry and returns the bytes it held.
func (r *ring) dropOldest() int {
	if r.n == 0 {
		return 0
	}
	freed := size(r.buf[r.head])
	r.buf[r.head] = entry{}
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	r.bytes -= freed
	return freed
}

func (r *ring) ordered() []entry {
	out := make([]entry, 0, r.n)
	for i := range r.n {
		out = append(out, r.buf[(r.head+i)%len(r.buf)])
	}
	return out
}

func (r *ring) last() uint64 {
	if r.n == 0 {
		return 0
	}
	return r.buf[(r.head+r.n-1)%len(r.buf)].seq
}
