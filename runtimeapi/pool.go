package runtimeapi

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// initLimit is how long Lambda gives an on-demand function's init phase.
// Past it, init is tried again inside the first invocation (a suppressed
// init), under the function's timeout.
const initLimit = 10 * time.Second

// pool holds the execution environments of one function version. Every
// field, and the pool-facing fields of its environments (polling,
// claimed, initializing, retired, gone, idleGen, idleTimer), is guarded by
// mu.
type pool struct {
	m *Manager

	mu  sync.Mutex
	fn  Function // the newest configuration seen: new environments run it
	all map[*env]struct{}
	// idle environments, warmest last.
	idle []*env
	// launching counts starts not yet registered; initializing, registered
	// environments whose runtime has not yet polled /next. Together they
	// are the environments coming for the waiters.
	launching    int
	initializing int
	// returning counts environments whose runtime has answered its event
	// and is about to poll /next again: they too are coming for the
	// waiters, for a moment (returnGrace).
	returning int
	waiters   []*waiter
	closed    bool
	// hot tracks a hot-reload function's folder; it has its own lock,
	// since fingerprinting reads the file system.
	hot hotFolder
	// blocked says why waiters have no start coming: the pool's cap or
	// furl's memory for environments; "" when none is held back. announce
	// is set when that begins, for the next waiter to log.
	blocked  string
	announce bool
}

// waiter is an invocation waiting for an environment. Its channel gets
// exactly one value, always sent with the pool locked.
type waiter struct {
	ch chan acquired
}

type acquired struct {
	env  *env
	fail *initFailure // the environment started for this caller failed its init
	err  error
}

// acquire returns an environment whose runtime waits (or will wait) in
// /next, claimed for the caller: the warmest idle one, or the first to
// become ready, starting one when no start is under way for this caller.
// It waits as long as ctx allows, never refusing at once. With an init
// failure, the environment is returned dead, for its log.
func (p *pool) acquire(ctx context.Context, fn Function) (*env, *initFailure, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, nil, ErrClosed
	}
	var stale []*env
	if fn.CodeDir != "" && fn.hotBase == p.fn.hotBase && fn.hotGen < p.fn.hotGen {
		// This caller saw the folder before another caller saw it
		// change: run the newer code, never bring the older back.
		fn = p.fn
	}
	if fn.Fingerprint != p.fn.Fingerprint {
		p.fn = fn
		stale = p.retireLocked()
	}
	if n := len(p.idle); n > 0 {
		e := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.unidleLocked(e)
		e.claimed = true
		p.mu.Unlock()
		killAll(stale)
		return e, nil, nil
	}
	w := &waiter{ch: make(chan acquired, 1)}
	p.waiters = append(p.waiters, w)
	p.spawnLocked()
	blocked, announce := p.blocked, p.announce
	p.announce = false
	p.mu.Unlock()
	killAll(stale)
	if blocked != "" {
		// A caller hanging on a busy function is explained in the log:
		// when invocations start having to wait, and, in debug logs, for
		// each one.
		level := slog.LevelDebug
		if announce {
			level = slog.LevelInfo
		}
		p.m.log.Log(ctx, level, "invocation waits for an execution environment", "function", fn.Name, "version", fn.Version, "why", blocked)
		if blocked == blockedMemory {
			p.m.evictIdle()
		}
	}

	select {
	case a := <-w.ch:
		return a.env, a.fail, a.err
	case <-ctx.Done():
		p.mu.Lock()
		dropped := p.dropWaiterLocked(w)
		if p.coming() >= len(p.waiters) {
			p.setBlockedLocked("") // no waiter left without a start
		}
		p.mu.Unlock()
		if !dropped {
			// Handed over as ctx ended: it is in the channel; give it back.
			if a := <-w.ch; a.env != nil && a.fail == nil && a.err == nil {
				p.release(a.env)
			}
		}
		return nil, nil, ctx.Err()
	}
}

func (p *pool) dropWaiterLocked(w *waiter) bool {
	for i, x := range p.waiters {
		if x == w {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// Why a start is held back.
const (
	blockedCap    = "every environment the function version may have is busy"
	blockedMemory = "furl's environments already hold all the memory it may give them (--max-env-memory)"
)

// spawnLocked starts environments for the waiters none is coming for,
// within the pool's cap and furl's memory for environments. Beyond them,
// waiters wait for an environment to come free, as long as their callers
// do.
func (p *pool) spawnLocked() {
	for !p.closed && p.coming() < len(p.waiters) {
		if len(p.all)+p.launching >= p.m.maxEnvs {
			p.setBlockedLocked(blockedCap)
			return
		}
		if !p.m.mem.reserve(p, p.fn.MemoryMB) {
			p.setBlockedLocked(blockedMemory)
			return
		}
		owner := p.waiters[p.coming()]
		p.launching++
		go p.spawn(p.fn, owner)
	}
	p.setBlockedLocked("")
}

// coming is how many environments are on their way to the waiters:
// starting, initializing, or back from an event in a moment.
func (p *pool) coming() int { return p.launching + p.initializing + p.returning }

// returnGrace is how long an environment whose runtime has answered counts
// as coming back for a waiter. Runtimes poll /next again at once; a
// caller that invokes again as soon as it has its answer would otherwise
// start an environment each time (a container: half a second), where
// Lambda's round trip leaves the runtime time to poll first.
const returnGrace = 50 * time.Millisecond

// returned is called when an environment's runtime has answered its
// event: until it polls /next again, or returnGrace passes, it counts as
// coming for a waiter.
func (p *pool) returned(e *env) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || e.gone || e.polling || e.returning {
		return
	}
	if e.retired || e.fn.Fingerprint != p.fn.Fingerprint || (e.worked && p.m.mem.waitsBefore(p)) {
		// It ends when it polls (stale, or its memory goes to another
		// function): nothing to wait for.
		return
	}
	e.returning = true
	p.returning++
	e.returnGen++
	gen := e.returnGen
	e.returnTimer = time.AfterFunc(returnGrace, func() {
		p.mu.Lock()
		if e.returnGen != gen || !p.endReturnLocked(e) {
			p.mu.Unlock()
			return
		}
		p.spawnLocked()
		// The waiters it held are held back now: say so, as acquire does.
		blocked, announce, fn := p.blocked, p.announce, p.fn
		p.announce = false
		p.mu.Unlock()
		if blocked != "" && announce {
			p.m.log.Info("invocation waits for an execution environment", "function", fn.Name, "version", fn.Version, "why", blocked)
			if blocked == blockedMemory {
				p.m.evictIdle()
			}
		}
	})
}

// endReturnLocked ends an environment's count as returning; it reports
// whether it was.
func (p *pool) endReturnLocked(e *env) bool {
	if !e.returning {
		return false
	}
	e.returning = false
	p.returning--
	// Usually the runtime is back long before the grace ends.
	e.returnTimer.Stop()
	return true
}

// setBlockedLocked records why waiters have no start coming; a pool no
// longer held back by memory leaves the queue for it. While pools wait
// there, environments of others that finish their work end instead of
// taking more, to give them their memory.
func (p *pool) setBlockedLocked(why string) {
	if p.blocked == "" && why != "" {
		p.announce = true
	}
	if p.blocked == blockedMemory && why != blockedMemory {
		p.m.mem.leave(p)
	}
	p.blocked = why
}

// spawn starts an environment for owner, with the memory spawnLocked
// reserved for it. When its runtime first polls /next it is offered to the
// waiters; if it fails first, owner learns why.
func (p *pool) spawn(fn Function, owner *waiter) {
	p.spawnAttempt(fn, owner, time.Time{})
}

// spawnAttempt is spawn's one try: the init phase, bounded by initLimit,
// or, when suppressed is set (the time the owner's invocation took it
// over), the init tried again under the function's timeout.
func (p *pool) spawnAttempt(fn Function, owner *waiter, suppressed time.Time) {
	e := p.m.newEnv(p, fn)
	e.owner = owner
	e.suppressed = suppressed
	if err := p.register(e); err != nil {
		p.m.mem.release(fn.MemoryMB)
		p.mu.Lock()
		p.failOwnerLocked(owner, acquired{err: err})
		p.mu.Unlock()
		return
	}
	if err := p.m.boot(e); err != nil {
		p.mu.Lock()
		p.failOwnerLocked(owner, acquired{err: err})
		p.mu.Unlock()
		p.remove(e)
		close(e.dead)
		return
	}
	bound := initLimit
	if !suppressed.IsZero() {
		bound = fn.Timeout - time.Since(suppressed)
	}
	timer := time.NewTimer(bound)
	select {
	case <-e.initDone:
	case <-timer.C:
		timedOut := &initFailure{typ: "Sandbox.Timedout", exit: "Task timed out after " + formatSeconds(fn.Timeout.Seconds()) + " seconds"}
		// A no-op if init finished meanwhile.
		if e.failInit(timedOut) && suppressed.IsZero() && p.retryInit(e, fn, owner) {
			return
		}
	}
	timer.Stop()
	e.mu.Lock()
	fail := e.initErr
	e.mu.Unlock()
	if fail == nil {
		return
	}
	// The owner hears of the failure before the environment goes, so that
	// its end does not look like a waiter left without a start.
	p.mu.Lock()
	p.initFailedLocked(e, fail)
	p.spawnLocked()
	p.mu.Unlock()
	e.killFor("failure")
}

// retryInit replaces an environment whose init ran past initLimit with a
// fresh one, whose init is the owner's invocation's (a suppressed init):
// it has the function's timeout, from now, for init and handler together.
// The replacement is counted as launching and takes the memory of the one
// it replaces before that one goes, so that its end starts nothing else
// and fails no one. With no owner waiting any more, there is no
// invocation to retry in: it reports false, and the environment fails.
func (p *pool) retryInit(e *env, fn Function, owner *waiter) bool {
	p.mu.Lock()
	if p.closed || !slices.Contains(p.waiters, owner) {
		p.mu.Unlock()
		return false
	}
	e.replaced = true
	p.launching++
	p.m.mem.take(fn.MemoryMB)
	p.mu.Unlock()
	e.mu.Lock()
	initD := time.Since(e.initStart)
	e.mu.Unlock()
	line := fmt.Sprintf("INIT_REPORT Init Duration: %.2f ms\tPhase: init\tStatus: timeout", float64(initD.Microseconds())/1000)
	p.m.emit(fn, "", []byte(line))
	p.m.log.Info("function init ran past Lambda's 10 s; trying it again within the first invocation, under the function's timeout",
		"function", fn.Name, "version", fn.Version, "env", e.id)
	e.kill()
	p.spawnAttempt(fn, owner, time.Now())
	return true
}

// initFailedLocked stops counting an environment that failed its init as
// coming, and tells its owner, once, whoever learns of it first: spawn, or
// the environment's end.
func (p *pool) initFailedLocked(e *env, fail *initFailure) {
	if !e.initializing || e.replaced {
		p.initDoneLocked(e)
		return
	}
	p.initDoneLocked(e)
	p.failOwnerLocked(e.owner, acquired{env: e, fail: fail})
}

// initDoneLocked stops counting an environment as coming.
func (p *pool) initDoneLocked(e *env) {
	if e.initializing {
		e.initializing = false
		p.initializing--
	}
}

// failOwnerLocked tells a start's owner it failed, if it still waits.
func (p *pool) failOwnerLocked(owner *waiter, a acquired) {
	if p.dropWaiterLocked(owner) {
		owner.ch <- a
	}
}

// register records a new environment, whose launch it was.
func (p *pool) register(e *env) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.launching--
	if p.closed {
		return ErrClosed
	}
	p.all[e] = struct{}{}
	e.initializing = true
	p.initializing++
	return nil
}

// ready is called from /next: the runtime waits for work. The longest
// waiter gets the environment, or it goes idle until reaped.
func (p *pool) ready(e *env) {
	p.mu.Lock()
	p.initDoneLocked(e)
	p.endReturnLocked(e)
	e.polling = true
	var kill bool
	if !e.claimed && !e.gone {
		kill = p.offerLocked(e)
	}
	if kill && len(p.waiters) > 0 {
		// It was counted as coming for them until now.
		p.spawnLocked()
	}
	p.mu.Unlock()
	if kill {
		e.kill()
	}
}

// offerLocked hands a free, polling environment on; it reports whether the
// environment is stale and must go instead.
func (p *pool) offerLocked(e *env) bool {
	if p.closed || e.retired || e.fn.Fingerprint != p.fn.Fingerprint {
		return true
	}
	if e.worked && p.m.mem.waitsBefore(p) {
		// Another function waits for memory, ahead of this one: this
		// environment, done with its work, gives it its memory. (A new
		// one first serves the invocation it was started for.)
		return true
	}
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		e.claimed = true
		w.ch <- acquired{env: e}
		if p.coming() >= len(p.waiters) {
			// Every waiter left has a start coming, or there is none: the
			// pool no longer waits for memory. Staying at the head of the
			// queue would keep its environments, as they finish, from
			// giving their memory to a pool that queued behind it.
			p.setBlockedLocked("")
			return false
		}
		// Served by an environment of its own, a pool waiting for memory
		// takes its turn again at the end of the queue.
		p.m.mem.requeue(p)
		return false
	}
	p.idle = append(p.idle, e)
	e.idleSince = time.Now()
	e.idleGen++
	gen := e.idleGen
	e.idleTimer = time.AfterFunc(p.m.idleTimeout, func() { p.reap(e, gen) })
	return false
}

// unidleLocked stops an environment's idle clock.
func (p *pool) unidleLocked(e *env) {
	e.idleGen++
	if e.idleTimer != nil {
		e.idleTimer.Stop()
		e.idleTimer = nil
	}
}

func (p *pool) removeIdleLocked(e *env) bool {
	for i, x := range p.idle {
		if x == e {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			p.unidleLocked(e)
			return true
		}
	}
	return false
}

// withdraw is called when a /next ends without an event: the runtime no
// longer waits, so the environment cannot be given work until it polls
// again. A claimed environment stays claimed: its call waits for that poll.
func (p *pool) withdraw(e *env) {
	p.mu.Lock()
	e.polling = false
	p.removeIdleLocked(e)
	p.mu.Unlock()
}

// delivered is called when /next hands the runtime its event.
func (p *pool) delivered(e *env) {
	p.mu.Lock()
	e.polling, e.claimed, e.worked = false, false, true
	p.mu.Unlock()
}

// release returns a claimed environment that was not given work.
func (p *pool) release(e *env) {
	p.mu.Lock()
	e.claimed = false
	var kill bool
	if e.polling && !e.gone {
		kill = p.offerLocked(e)
	}
	p.mu.Unlock()
	if kill {
		e.kill()
	}
}

// reap ends an environment that stayed idle too long; gen says which idle
// spell the timer was for.
func (p *pool) reap(e *env, gen uint64) {
	p.mu.Lock()
	ok := e.idleGen == gen && p.removeIdleLocked(e)
	p.mu.Unlock()
	if ok {
		p.m.log.Debug("reaping idle execution environment", "function", e.fn.Name, "version", e.fn.Version, "env", e.id)
		e.kill()
	}
}

// remove forgets an environment whose process has ended, gives back its
// memory, and starts others if invocations are waiting, here or in other
// pools held back by memory.
func (p *pool) remove(e *env) {
	e.mu.Lock()
	fail := e.initErr
	e.mu.Unlock()
	p.mu.Lock()
	e.gone = true
	p.endReturnLocked(e)
	if fail != nil {
		p.initFailedLocked(e, fail)
	}
	p.initDoneLocked(e)
	delete(p.all, e)
	p.removeIdleLocked(e)
	p.m.mem.release(e.fn.MemoryMB)
	p.spawnLocked()
	p.mu.Unlock()
	p.m.nudge()
}

// spawnWaiting starts environments for waiting invocations, if any may.
func (p *pool) spawnWaiting() {
	p.mu.Lock()
	if p.blocked == blockedMemory {
		p.spawnLocked()
	}
	p.mu.Unlock()
}

// oldestIdle is the pool's longest idle environment, and since when.
func (p *pool) oldestIdle() (*env, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) == 0 {
		return nil, time.Time{}
	}
	e := p.idle[0]
	return e, e.idleSince
}

// evict ends an idle environment to give its memory to another, unless it
// was taken meanwhile.
func (p *pool) evict(e *env) bool {
	p.mu.Lock()
	ok := p.removeIdleLocked(e)
	p.mu.Unlock()
	if ok {
		p.m.log.Debug("ending an idle execution environment to make room", "function", e.fn.Name, "version", e.fn.Version, "env", e.id)
		e.kill()
	}
	return ok
}

// retireLocked marks every environment stale and returns the idle ones,
// which the caller kills; busy ones go when they next become ready.
func (p *pool) retireLocked() []*env {
	ended := false
	for e := range p.all {
		e.retired = true
		ended = p.endReturnLocked(e) || ended
	}
	if ended {
		p.spawnLocked()
	}
	idle := p.idle
	for _, e := range idle {
		p.unidleLocked(e)
	}
	p.idle = nil
	return idle
}

// retire ends the pool's environments, idle ones at once.
func (p *pool) retire() {
	p.mu.Lock()
	stale := p.retireLocked()
	p.mu.Unlock()
	killAll(stale)
}

// close fails the waiters and returns every environment, for killing.
func (p *pool) close() []*env {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.setBlockedLocked("")
	for _, w := range p.waiters {
		w.ch <- acquired{err: ErrClosed}
	}
	p.waiters = nil
	envs := make([]*env, 0, len(p.all))
	for e := range p.all {
		envs = append(envs, e)
	}
	for _, e := range p.idle {
		p.unidleLocked(e)
	}
	p.idle = nil
	return envs
}

// size reports how many environments the pool has and how many are idle.
func (p *pool) size() (total, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all), len(p.idle)
}

func killAll(envs []*env) {
	for _, e := range envs {
		e.kill()
	}
}
