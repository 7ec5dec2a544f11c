package runtimeapi

import (
	"context"
	"sync"
	"time"
)

// pool holds the execution environments of one function version.
type pool struct {
	m    *Manager
	name string // function name
	ver  string

	mu          sync.Mutex
	fingerprint string
	all         map[*env]struct{}
	idle        []*env // most recently used last: the warmest is reused first
	starting    int
	waiters     []*waiter
}

// waiter is an invocation waiting for an environment.
type waiter struct {
	ch chan acquired // one result, never blocks the sender
}

type acquired struct {
	env  *env
	fail *initFailure
	err  error
}

// acquire returns a ready environment: a warm one if any is idle,
// otherwise the first that becomes ready, starting a new one when no
// start is already under way for this waiter. It waits as long as ctx
// allows, never refusing at once. fail is an init failure of the
// environment started for this caller, which is then returned dead, for
// its log.
func (p *pool) acquire(ctx context.Context, fn Function) (*env, *initFailure, error) {
	p.mu.Lock()
	if fn.Fingerprint != p.fingerprint {
		p.retireLocked()
		p.fingerprint = fn.Fingerprint
	}
	for len(p.idle) > 0 {
		e := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if e.idleTimer != nil {
			e.idleTimer.Stop()
		}
		p.mu.Unlock()
		return e, nil, nil
	}
	w := &waiter{ch: make(chan acquired, 1)}
	p.waiters = append(p.waiters, w)
	if p.starting < len(p.waiters) && len(p.all)+p.starting < p.m.maxEnvs {
		p.starting++
		go p.spawn(fn, w)
	}
	p.mu.Unlock()

	select {
	case a := <-w.ch:
		return a.env, a.fail, a.err
	case <-ctx.Done():
		p.mu.Lock()
		p.dropWaiterLocked(w)
		p.mu.Unlock()
		// An environment handed over as ctx ended goes back.
		select {
		case a := <-w.ch:
			if a.env != nil && a.fail == nil && a.err == nil {
				p.ready(a.env)
			}
		default:
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

// spawn starts an environment for owner. When it is ready its first /next
// hands it out; if it fails, owner learns why.
func (p *pool) spawn(fn Function, owner *waiter) {
	e, err := p.m.startEnv(p, fn)
	var fail *initFailure
	if err == nil {
		// Init is bounded by the function's timeout: Lambda runs a slow init
		// again as part of the first invocation, with that timeout.
		timer := time.NewTimer(fn.Timeout)
		select {
		case <-e.initDone:
		case <-timer.C:
			e.failInit(&initFailure{typ: "Sandbox.Timedout", exit: "Task timed out after " + secondsText(fn.Timeout) + " seconds (during init)"})
			e.kill()
		}
		timer.Stop()
		e.mu.Lock()
		fail = e.initErr
		e.mu.Unlock()
		if fail != nil {
			e.kill()
		}
	}
	p.mu.Lock()
	p.starting--
	if err != nil || fail != nil {
		if p.dropWaiterLocked(owner) {
			owner.ch <- acquired{env: e, fail: fail, err: err}
		}
		p.spawnForWaitersLocked(fn)
	}
	p.mu.Unlock()
}

// spawnForWaitersLocked starts environments for waiters no start is under
// way for.
func (p *pool) spawnForWaitersLocked(fn Function) {
	for i := p.starting; i < len(p.waiters) && len(p.all)+p.starting < p.m.maxEnvs; i++ {
		p.starting++
		go p.spawn(fn, p.waiters[i])
	}
}

// ready takes an environment whose runtime is waiting for work: the
// longest waiter gets it, or it goes idle until reaped.
func (p *pool) ready(e *env) {
	p.mu.Lock()
	if e.retired || e.fn.Fingerprint != p.fingerprint {
		p.mu.Unlock()
		e.kill()
		return
	}
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.mu.Unlock()
		w.ch <- acquired{env: e}
		return
	}
	p.idle = append(p.idle, e)
	e.idleTimer = time.AfterFunc(p.m.idleTimeout, func() { p.reap(e) })
	p.mu.Unlock()
}

// reap ends an environment that stayed idle too long.
func (p *pool) reap(e *env) {
	p.mu.Lock()
	for i, x := range p.idle {
		if x == e {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			p.mu.Unlock()
			p.m.log.Debug("reaping idle execution environment", "function", e.fn.Name, "version", e.fn.Version, "env", e.id)
			e.kill()
			return
		}
	}
	p.mu.Unlock()
}

// add records a started environment.
func (p *pool) add(e *env) {
	p.mu.Lock()
	p.all[e] = struct{}{}
	p.mu.Unlock()
}

// remove forgets an environment whose process has ended, and starts
// another if invocations are waiting.
func (p *pool) remove(e *env) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.all, e)
	for i, x := range p.idle {
		if x == e {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			break
		}
	}
	if e.idleTimer != nil {
		e.idleTimer.Stop()
	}
	if len(p.waiters) > 0 {
		p.spawnForWaitersLocked(e.fn)
	}
}

// retireLocked ends idle environments now and busy ones when their
// invocation is over.
func (p *pool) retireLocked() {
	for e := range p.all {
		e.retired = true
	}
	for _, e := range p.idle {
		if e.idleTimer != nil {
			e.idleTimer.Stop()
		}
		go e.kill()
	}
	p.idle = nil
}

// size reports how many environments the pool has and how many are idle.
func (p *pool) size() (total, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all), len(p.idle)
}

func secondsText(d time.Duration) string {
	return formatSeconds(d.Seconds())
}
