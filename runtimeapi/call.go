package runtimeapi

import (
	"sync"
	"sync/atomic"
	"time"
)

// Response size limits.
const (
	// MaxBufferedResponse is the largest buffered response (6 MB + 100
	// bytes, Lambda's MaxPayloadSize).
	MaxBufferedResponse = 6291556
	// DefaultMaxStreamedResponse is the default cap on a streamed response.
	DefaultMaxStreamedResponse = 200 << 20
)

// call is one invocation's way through an environment.
type call struct {
	inv      *Invocation
	env      *env
	deadline time.Time

	// body carries the response from the Runtime API to the invoker.
	body *bodyPipe

	log invocationLog

	mu          sync.Mutex
	contentType string
	deliveredAt time.Time
	// catchingUpSince is when the call began to wait for its reader
	// (endStream), zero when it is not waiting, and heldFor is how long it
	// has waited: the reader's time, not the function's, it counts neither
	// in the call's duration nor against its timeout.
	catchingUpSince time.Time
	heldFor         time.Duration
	// cold says the call is its environment's first: its REPORT and
	// events carry the init duration.
	cold bool
	// openOnce writes the START line once (env.open).
	openOnce sync.Once
	// timer first writes the call's START line if nothing else has by
	// startLineWait, then ends the call at the function's timeout, and its
	// environment if the runtime has not asked for its next event by then
	// (env.tick). disarmed, under mu, keeps it from being set again.
	timer     *time.Timer
	disarmed  bool
	started   chan struct{} // closed when the response begins, or at the end
	startOnce sync.Once
	// settled is closed when the outcome is known: the response has ended
	// and err is set. done follows once the closing log lines are out.
	settled chan struct{}
	done    chan struct{} // closed when the invocation is over, its log complete
	// claimed is set by the first outcome (finish); a later one waits on
	// done, a channel, so that a bubble's fake clock sees it blocked.
	claimed atomic.Bool
	// onDone runs when the invocation is over: it gives back its
	// execution.
	onDone func()
	err    *FunctionError
	// responded is set when the runtime has sent its whole response or
	// error, so the next /next is a legal transition.
	responded atomic.Bool
	// sent is how many response bytes the runtime delivered.
	sent atomic.Int64
}

func newCall(inv *Invocation) *call {
	body := newBodyPipe()
	body.whole = !inv.Streaming
	return &call{inv: inv, body: body, started: make(chan struct{}), settled: make(chan struct{}), done: make(chan struct{})}
}

// begin marks the start of the response: its content type is known.
func (c *call) begin(contentType string) {
	c.mu.Lock()
	c.contentType = contentType
	c.mu.Unlock()
	c.startOnce.Do(func() { close(c.started) })
}

// endStream ends a streamed response for its reader, then waits, at most
// catchUpWait, until the reader has taken the end (or left it) or the call
// has settled.
func (c *call) endStream() {
	c.mu.Lock()
	start := time.Now()
	c.catchingUpSince = start
	c.mu.Unlock()
	c.body.closeWriter()
	t := time.NewTimer(catchUpWait)
	select {
	case <-c.body.caughtUp:
	case <-c.settled:
	case <-t.C:
	}
	t.Stop()
	c.mu.Lock()
	c.catchingUpSince = time.Time{}
	c.heldFor += time.Since(start)
	c.mu.Unlock()
}

// finished reports whether the call is over.
func (c *call) finished() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// finish ends the call once: the first outcome wins. fe is nil for
// success. The response body ends for its reader and the outcome settles;
// then the environment writes the call's closing log lines (waiting for
// the function's output to be read, formatting REPORT, metering memory)
// before done closes. The invoker does not wait for them unless it asks
// for the log. An outcome that loses returns false once the winner's
// closing work is done.
func (c *call) finish(fe *FunctionError, closing func()) bool {
	if !c.claimed.CompareAndSwap(false, true) {
		<-c.done
		return false
	}
	// Even if the closing work panics (net/http recovers a handler's
	// panic), the outcomes that lost and LogTail must not wait forever.
	defer close(c.done)
	c.mu.Lock()
	c.err = fe
	c.mu.Unlock()
	c.body.closeWriter()
	c.startOnce.Do(func() { close(c.started) })
	// The execution is given back before anyone learns the outcome, so
	// that a caller's next request finds it free.
	if c.onDone != nil {
		c.onDone()
	}
	close(c.settled)
	if closing != nil {
		closing()
	}
	return true
}

// disarm stops the call's timeout: its runtime has asked for its next
// event, or its environment is gone. Until then the timeout applies even
// to a call already answered, to a runtime that never comes back.
func (c *call) disarm() {
	c.mu.Lock()
	c.disarmed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
}

// result is the invoker's view of the call.
func (c *call) result() *Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &Result{
		ContentType:     c.contentType,
		ExecutedVersion: c.inv.Function.Version,
		Body:            c.body,
		call:            c,
	}
}

// maxResponse is the call's response size cap.
func (c *call) maxResponse(streamCap int64) int64 {
	if c.inv.Streaming {
		return streamCap
	}
	return MaxBufferedResponse
}
