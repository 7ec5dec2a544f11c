package runtimeapi

import (
	"context"
	"sync"
	"time"
)

// minInitTimeout is how long init may take at least: Lambda gives init 10
// seconds, and a slow init another try within the function's timeout.
const minInitTimeout = 10 * time.Second

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
	waiters      []*waiter
	closed       bool
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
	p.mu.Unlock()
	killAll(stale)

	select {
	case a := <-w.ch:
		return a.env, a.fail, a.err
	case <-ctx.Done():
		p.mu.Lock()
		dropped := p.dropWaiterLocked(w)
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

// spawnLocked starts environments for the waiters none is coming for,
// within the cap.
func (p *pool) spawnLocked() {
	for !p.closed && p.launching+p.initializing < len(p.waiters) && len(p.all)+p.launching < p.m.maxEnvs {
		owner := p.waiters[p.launching+p.initializing]
		p.launching++
		go p.spawn(p.fn, owner)
	}
}

// spawn starts an environment for owner. When its runtime first polls
// /next it is offered to the waiters; if it fails first, owner learns why.
func (p *pool) spawn(fn Function, owner *waiter) {
	e := p.m.newEnv(p, fn)
	if err := p.register(e); err != nil {
		p.mu.Lock()
		p.failOwnerLocked(owner, acquired{err: err})
		p.mu.Unlock()
		return
	}
	if err := p.m.boot(e); err != nil {
		p.remove(e)
		close(e.dead)
		p.mu.Lock()
		p.failOwnerLocked(owner, acquired{err: err})
		p.mu.Unlock()
		return
	}
	bound := max(minInitTimeout, fn.Timeout)
	timer := time.NewTimer(bound)
	select {
	case <-e.initDone:
	case <-timer.C:
		// A no-op if init finished meanwhile.
		e.failInit(&initFailure{typ: "Sandbox.Timedout", exit: "Task timed out after " + formatSeconds(bound.Seconds()) + " seconds"})
	}
	timer.Stop()
	e.mu.Lock()
	fail := e.initErr
	e.mu.Unlock()
	if fail == nil {
		return
	}
	e.kill()
	p.mu.Lock()
	p.initDoneLocked(e)
	p.failOwnerLocked(owner, acquired{env: e, fail: fail})
	p.spawnLocked()
	p.mu.Unlock()
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
	e.polling = true
	var kill bool
	if !e.claimed && !e.gone {
		kill = p.offerLocked(e)
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
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		e.claimed = true
		w.ch <- acquired{env: e}
		return false
	}
	p.idle = append(p.idle, e)
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
	e.polling, e.claimed = false, false
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

// remove forgets an environment whose process has ended, and starts
// another if invocations are waiting.
func (p *pool) remove(e *env) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e.gone = true
	p.initDoneLocked(e)
	delete(p.all, e)
	p.removeIdleLocked(e)
	p.spawnLocked()
}

// retireLocked marks every environment stale and returns the idle ones,
// which the caller kills; busy ones go when they next become ready.
func (p *pool) retireLocked() []*env {
	for e := range p.all {
		e.retired = true
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
