package gateway

import (
	"container/heap"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/urlconfig"
)

// EventDispatch configures how queued Event invocations run.
type EventDispatch struct {
	// Workers is how many queued events run at once. Zero means 10.
	Workers int
	// TimeScale multiplies every wait of the queue: the delays before
	// retrying a function error (AWS's 1 and 2 minutes), the backoff after
	// a throttle or a failure of furl's own (1 s doubling up to 5 minutes)
	// and each event's maximum age. Zero means 1, AWS's timing; tests make
	// it small.
	TimeScale float64
}

// AWS's timing of asynchronous invocations.
var (
	// functionErrorDelays are the waits before the first and the second
	// retry of an event whose function failed.
	functionErrorDelays = []time.Duration{time.Minute, 2 * time.Minute}
	// backoffFirst and backoffMax bound the wait after a throttle or a
	// failure of the service: it doubles from the first to the most.
	backoffFirst = time.Second
	backoffMax   = 5 * time.Minute
)

// Dispatcher runs the asynchronous queue: a fixed set of workers takes
// the events that are due, runs each through the same invocation path as
// Invoke, and retries as the function's event invoke config says. Each
// function's events run oldest first, and a free worker serves the
// function with the fewest running, so one function's backlog does not
// hold back the others' for longer than a worker is busy. Its owner starts
// it with Start and ends it with Shutdown, then Wait once the execution
// environments are gone.
type Dispatcher struct {
	s       *Server
	q       *urlconfig.EventQueue
	workers int
	scale   float64
	log     *slog.Logger

	mu       sync.Mutex
	fns      map[string]*fnEvents // by function name
	seq      uint64
	changed  chan struct{} // closed and replaced when an event is added
	stopping bool
	running  int
	idle     chan struct{} // closed and replaced when running drops

	// abandonCtx ends when the shutdown grace is over: running events are
	// then interrupted, and whatever they report leaves them queued.
	abandonCtx context.Context
	abandon    context.CancelFunc
	wg         sync.WaitGroup
}

// pending is a queued event the dispatcher holds: when it is due, and how
// many throttles in a row it met (for the backoff; a restart forgets them).
type pending struct {
	ev        *urlconfig.QueuedEvent
	at        time.Time
	seq       uint64
	throttles int
}

// fnEvents are one function's waiting events and how many of its events
// run.
type fnEvents struct {
	due     dueHeap
	running int
}

func newDispatcher(s *Server, q *urlconfig.EventQueue, cfg EventDispatch) *Dispatcher {
	if cfg.Workers <= 0 {
		cfg.Workers = 10
	}
	if cfg.TimeScale <= 0 {
		cfg.TimeScale = 1
	}
	d := &Dispatcher{s: s, q: q, workers: cfg.Workers, scale: cfg.TimeScale, log: s.log,
		fns: map[string]*fnEvents{}, changed: make(chan struct{}), idle: make(chan struct{})}
	d.abandonCtx, d.abandon = context.WithCancel(context.Background())
	for _, ev := range q.Pending() {
		d.push(&pending{ev: ev, at: ev.Enqueued})
	}
	return d
}

// Start starts the workers, which resume what was queued before.
func (d *Dispatcher) Start() {
	if n, _ := d.q.Len(); n > 0 {
		d.log.Info("resuming queued asynchronous invocations", "count", n)
	}
	for range d.workers {
		d.wg.Add(1)
		go d.work()
	}
}

// Shutdown stops taking events and gives those running until ctx ends to
// finish. Those still running then are interrupted when the environments
// are closed, and stay queued, never reported as their function's failure.
func (d *Dispatcher) Shutdown(ctx context.Context) {
	d.mu.Lock()
	d.stopping = true
	d.broadcastLocked()
	d.mu.Unlock()
	for {
		d.mu.Lock()
		running, idle := d.running, d.idle
		d.mu.Unlock()
		if running == 0 {
			d.abandon()
			return
		}
		select {
		case <-idle:
		case <-ctx.Done():
			d.abandon()
			d.log.Warn("asynchronous invocations still running at the end of the shutdown grace; they stay queued", "count", running)
			return
		}
	}
}

// Wait waits for the workers to end. Call it after Shutdown and after the
// environments are closed, which ends the invocations that were running.
func (d *Dispatcher) Wait() { d.wg.Wait() }

// add queues an acknowledged event: durably first, then for a worker.
func (d *Dispatcher) add(ev *urlconfig.QueuedEvent, payload []byte) error {
	if err := d.q.Enqueue(ev, payload); err != nil {
		return err
	}
	d.mu.Lock()
	d.push(&pending{ev: ev, at: ev.Enqueued})
	d.mu.Unlock()
	return nil
}

// push puts an event among those waiting and wakes the workers. The
// caller holds mu, or is the constructor.
func (d *Dispatcher) push(p *pending) {
	d.seq++
	p.seq = d.seq
	fe := d.fns[p.ev.FunctionName]
	if fe == nil {
		fe = &fnEvents{}
		d.fns[p.ev.FunctionName] = fe
	}
	heap.Push(&fe.due, p)
	d.broadcastLocked()
}

func (d *Dispatcher) broadcastLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// work is one worker: it runs due events until the dispatcher stops.
func (d *Dispatcher) work() {
	defer d.wg.Done()
	for {
		p := d.next()
		if p == nil {
			return
		}
		d.handle(p)
		d.mu.Lock()
		d.running--
		fe := d.fns[p.ev.FunctionName]
		if fe.running--; fe.running == 0 && len(fe.due) == 0 {
			delete(d.fns, p.ev.FunctionName)
		}
		close(d.idle)
		d.idle = make(chan struct{})
		d.mu.Unlock()
	}
}

// next waits for an event that is due, or returns nil once the dispatcher
// stops. The wait is on a timer for the next due event and on additions.
func (d *Dispatcher) next() *pending {
	for {
		d.mu.Lock()
		if d.stopping {
			d.mu.Unlock()
			return nil
		}
		p, wait := d.takeLocked(time.Now())
		if p != nil {
			d.mu.Unlock()
			return p
		}
		changed := d.changed
		d.mu.Unlock()
		if wait < 0 {
			<-changed
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// takeLocked takes the due event of the function with the fewest events
// running (the oldest, among equals), and counts it as running. When none
// is due it says how long until one is, or -1 when none waits.
func (d *Dispatcher) takeLocked(now time.Time) (*pending, time.Duration) {
	var best *fnEvents
	wait := time.Duration(-1)
	for _, fe := range d.fns {
		if len(fe.due) == 0 {
			continue
		}
		top := fe.due[0]
		if w := top.at.Sub(now); w > 0 {
			if wait < 0 || w < wait {
				wait = w
			}
			continue
		}
		if best == nil || fe.running < best.running || (fe.running == best.running && earlier(top, best.due[0])) {
			best = fe
		}
	}
	if best == nil {
		return nil, wait
	}
	p := heap.Pop(&best.due).(*pending)
	best.running++
	d.running++
	return p, 0
}

// retry puts an event back, due after wait.
func (d *Dispatcher) retry(p *pending, wait time.Duration) {
	p.at = time.Now().Add(wait)
	d.mu.Lock()
	d.push(p)
	d.mu.Unlock()
}

// abandoned reports whether the shutdown grace is over.
func (d *Dispatcher) abandoned() bool { return d.abandonCtx.Err() != nil }

// scaled is one of AWS's waits on the dispatcher's clock.
func (d *Dispatcher) scaled(w time.Duration) time.Duration {
	return time.Duration(float64(w) * d.scale)
}

// handle runs one event once and decides what becomes of it: gone (it
// ran, failed for good or aged out), back in the queue for a retry, or
// left as it is (interrupted by the shutdown).
func (d *Dispatcher) handle(p *pending) {
	ev := p.ev
	log := d.log.With("function", ev.FunctionName, "qualifier", ev.Qualifier, "request_id", ev.ID)
	ctx := context.WithValue(d.abandonCtx, requestKey{}, &requestInfo{id: ev.ID, log: d.log})
	pol, err := d.s.store.EventPolicy(ctx, ev.FunctionName, ev.Qualifier)
	if err != nil {
		d.unrunnable(p, log, err)
		return
	}
	if age, maxAge := time.Since(ev.Enqueued), d.scaled(pol.MaximumEventAge); age >= maxAge {
		log.Warn("asynchronous invocation dropped: older than its MaximumEventAgeInSeconds", "age", age.Round(time.Millisecond), "maximum", maxAge, "attempts", ev.Attempts)
		d.discard(p, log, pol.OnFailure, "EventAgeExceeded")
		return
	}
	ver, err := d.s.store.ResolveVersion(ctx, ev.FunctionName, qualifierParam(ev.Qualifier))
	if err != nil {
		d.unrunnable(p, log, err)
		return
	}
	payload, err := d.q.Payload(ev)
	if err != nil {
		log.Error("asynchronous invocation dropped: its queued payload cannot be read", "err", err)
		d.remove(p, log)
		return
	}
	inv := &runtimeapi.Invocation{Function: d.s.function(ver), InvokedARN: ver.InvokedARN, RequestID: ev.ID, Payload: payload, TraceID: ev.TraceID}
	iv, err := d.s.start(ctx, ver, inv, false)
	var te *runtimeapi.ThrottleError
	switch {
	case err != nil && d.abandoned():
		return
	case errors.As(err, &te):
		d.backoff(p, log, pol, "asynchronous invocation throttled; trying again", "reason", te.Reason)
	case err != nil:
		d.backoff(p, log, pol, "asynchronous invocation failed in furl; trying again", "err", err)
	default:
		d.finish(p, log, pol, iv)
	}
}

// finish reads an invocation's result to its end and acts on it.
func (d *Dispatcher) finish(p *pending, log *slog.Logger, pol urlconfig.EventPolicy, iv *invocation) {
	// Nobody reads the result: it is drained, not held.
	io.Copy(io.Discard, iv.Body)
	iv.end()
	fe := iv.Wait()
	switch {
	case fe == nil:
		log.Debug("asynchronous invocation succeeded", "version", iv.ExecutedVersion, "attempts", p.ev.Attempts+1)
		if pol.OnSuccess != "" {
			logRecord(log, pol.OnSuccess, "Success", p.ev.Attempts+1)
		}
		d.remove(p, log)
	case d.abandoned():
		// The environment was ended under it by the shutdown: not the
		// function's failure. The event runs again at the next start.
	case p.ev.Attempts >= pol.MaximumRetryAttempts:
		log.Warn("asynchronous invocation failed; no retries left", "error_type", fe.Type, "attempts", p.ev.Attempts+1, "maximum_retry_attempts", pol.MaximumRetryAttempts)
		d.discard(p, log, pol.OnFailure, "RetriesExhausted")
	default:
		if err := d.q.RecordAttempt(p.ev); err != nil {
			d.backoff(p, log, pol, "counting a failed attempt of an asynchronous invocation failed; trying again", "err", err)
			return
		}
		wait := d.scaled(functionErrorDelays[min(p.ev.Attempts, len(functionErrorDelays))-1])
		log.Info("asynchronous invocation ended in a function error; retrying", "error_type", fe.Type, "attempts", p.ev.Attempts, "in", wait)
		d.retry(p, wait)
	}
}

// backoff retries an event that did not run (a throttle, a failure of
// furl's own), waiting longer each time in a row, but never past the
// event's maximum age, when it is dropped.
func (d *Dispatcher) backoff(p *pending, log *slog.Logger, pol urlconfig.EventPolicy, msg string, attrs ...any) {
	wait := d.backoffWait(p.throttles, d.scaled(pol.MaximumEventAge)-time.Since(p.ev.Enqueued))
	p.throttles++
	log.Info(msg, append(attrs, "in", wait)...)
	d.retry(p, wait)
}

// backoffWait is the wait after n throttles in a row: 1 s doubling up to
// 5 minutes on the dispatcher's clock, and no longer than the event has
// left to live.
func (d *Dispatcher) backoffWait(n int, left time.Duration) time.Duration {
	wait := min(d.scaled(backoffFirst<<min(n, 16)), d.scaled(backoffMax))
	return max(min(wait, left), 0)
}

// unrunnable handles an event whose function, version or alias cannot be
// resolved: gone for good when it was deleted (AWS discards such events),
// retried when the failure is furl's own.
func (d *Dispatcher) unrunnable(p *pending, log *slog.Logger, err error) {
	if e, ok := urlconfig.AsError(err); ok && e.Type == urlconfig.ErrNotFound {
		log.Warn("asynchronous invocation dropped: what it invokes no longer exists", "why", e.Message)
		d.remove(p, log)
		return
	}
	d.backoff(p, log, urlconfig.EventPolicy{MaximumEventAge: urlconfig.DefaultMaximumEventAgeInSeconds * time.Second},
		"asynchronous invocation could not be started; trying again", "err", err)
}

// discard drops an event that failed for good or aged out, saying what an
// on-failure destination would have received.
func (d *Dispatcher) discard(p *pending, log *slog.Logger, destination, condition string) {
	if destination != "" {
		logRecord(log, destination, condition, p.ev.Attempts+1)
	}
	d.remove(p, log)
}

func (d *Dispatcher) remove(p *pending, log *slog.Logger) {
	if err := d.q.Remove(p.ev); err != nil {
		log.Error("removing an asynchronous invocation from the queue failed", "err", err)
	}
}

// logRecord says what AWS would send a destination; furl delivers to none.
func logRecord(log *slog.Logger, destination, condition string, attempts int) {
	log.Info("asynchronous invocation record not delivered: furl does not deliver to destinations",
		"destination", destination, "condition", condition, "approximate_invoke_count", attempts)
}

// qualifierParam is a queued event's qualifier as ResolveVersion takes it.
func qualifierParam(q string) *string {
	if q == "" {
		return nil
	}
	return &q
}

// qualifierOf is the qualifier an invocation named, "" for none.
func qualifierOf(s *Server, ver *urlconfig.Version) string {
	q, _ := strings.CutPrefix(ver.InvokedARN, s.store.Account().FunctionARN(ver.FunctionName))
	return strings.TrimPrefix(q, ":")
}

// earlier orders waiting events by when they are due, then by arrival.
func earlier(a, b *pending) bool {
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return a.seq < b.seq
}

// dueHeap is one function's waiting events, the earliest first.
type dueHeap []*pending

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return earlier(h[i], h[j]) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(*pending)) }
func (h *dueHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return p
}
