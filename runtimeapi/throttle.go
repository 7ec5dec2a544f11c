package runtimeapi

import (
	"fmt"
	"sync"

	"golang.org/x/time/rate"
)

// Throttle reasons, as the Invoke API reports them in
// TooManyRequestsException.
const (
	ReasonReservedConcurrency = "ReservedFunctionConcurrentInvocationLimitExceeded"
	ReasonReservedRate        = "ReservedFunctionInvocationRateLimitExceeded"
	ReasonAccountConcurrency  = "ConcurrentInvocationLimitExceeded"
)

// ThrottleError is an invocation refused because its function, or the
// account, runs as many executions as it may. Nothing was started.
type ThrottleError struct {
	Reason string
	// Why words the limit for furl's log.
	Why string
}

func (e *ThrottleError) Error() string { return "throttled: " + e.Reason + ": " + e.Why }

// concurrency counts the executions in flight, per function (all its
// versions together, as a reservation covers them all) and for the
// functions without a reservation, which share what the account has not
// reserved.
type concurrency struct {
	mu         sync.Mutex
	byFunction map[string]int
	unreserved int
}

// take claims an execution for inv, or says why it cannot. release gives
// it back; it is safe to call more than once.
func (c *concurrency) take(inv *Invocation, accountLimit int) (release func(), err *ThrottleError) {
	name := inv.Function.Name
	pool := inv.Unreserved
	if pool == 0 {
		pool = accountLimit
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byFunction == nil {
		c.byFunction = map[string]int{}
	}
	shared := inv.Reserved == nil
	switch {
	case !shared && c.byFunction[name] >= *inv.Reserved:
		return nil, &ThrottleError{Reason: ReasonReservedConcurrency,
			Why: fmt.Sprintf("%s has a reserved concurrency of %d and runs %d executions", name, *inv.Reserved, c.byFunction[name])}
	case shared && c.unreserved >= pool:
		return nil, &ThrottleError{Reason: ReasonAccountConcurrency,
			Why: fmt.Sprintf("functions without a reservation share %d executions (the account limit less all reservations) and run %d", pool, c.unreserved)}
	}
	c.byFunction[name]++
	if shared {
		c.unreserved++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.byFunction[name]--; c.byFunction[name] == 0 {
				delete(c.byFunction, name)
			}
			if shared {
				c.unreserved--
			}
		})
	}, nil
}

// rateLimits holds the request-rate buckets of functions with reserved
// concurrency: 10 requests a second per reserved execution, as Lambda
// allows, rebuilt when the reservation changes.
type rateLimits struct {
	mu   sync.Mutex
	byFn map[string]*fnRate
}

type fnRate struct {
	reserved int
	lim      *rate.Limiter
}

// allow takes a request from a function's bucket. Functions without a
// reservation, or with 0 (which the concurrency account refuses), have
// none here.
func (l *rateLimits) allow(name string, reserved *int) bool {
	if reserved == nil || *reserved == 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.byFn[name]
	if r == nil || r.reserved != *reserved {
		perSecond := 10 * *reserved
		r = &fnRate{reserved: *reserved, lim: rate.NewLimiter(rate.Limit(perSecond), perSecond)}
		if l.byFn == nil {
			l.byFn = map[string]*fnRate{}
		}
		l.byFn[name] = r
	}
	return r.lim.Allow()
}

// rateThrottle is the refusal of an invocation past its function's
// reserved rate.
func rateThrottle(name string, reserved int) *ThrottleError {
	return &ThrottleError{Reason: ReasonReservedRate,
		Why: fmt.Sprintf("%s has a reserved concurrency of %d, which allows %d requests a second", name, reserved, 10*reserved)}
}
