package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"golang.org/x/time/rate"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/urlconfig"
)

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

// invokeLimited runs an invocation within its function's limits: the
// request rate of a reservation, then the concurrency account (in
// runtimeapi). A throttle is a *runtimeapi.ThrottleError, logged with why.
func (s *Server) invokeLimited(ctx context.Context, ver *urlconfig.Version, inv *runtimeapi.Invocation) (*runtimeapi.Result, error) {
	return s.invokeWithin(ctx, ver, inv, true)
}

// invokeWithin is invokeLimited, with or without the request rate (which
// asynchronous invocations, queued on AWS, do not draw on).
func (s *Server) invokeWithin(ctx context.Context, ver *urlconfig.Version, inv *runtimeapi.Invocation, rated bool) (*runtimeapi.Result, error) {
	inv.Reserved = ver.ReservedConcurrency
	unreserved, err := s.store.UnreservedConcurrency(ctx)
	if err != nil {
		return nil, err
	}
	// A limit lowered below the reservations leaves the others nothing
	// (runtimeapi reads zero as "no share given").
	inv.Unreserved = unreserved
	if unreserved <= 0 {
		inv.Unreserved = -1
	}
	if rated && !s.rates.allow(ver.FunctionName, ver.ReservedConcurrency) {
		err = &runtimeapi.ThrottleError{Reason: runtimeapi.ReasonReservedRate,
			Why: fmt.Sprintf("%s has a reserved concurrency of %d, which allows %d requests a second", ver.FunctionName, *ver.ReservedConcurrency, 10**ver.ReservedConcurrency)}
	} else {
		var res *runtimeapi.Result
		if res, err = s.invoker.Invoke(ctx, inv); err == nil {
			return res, nil
		}
	}
	var te *runtimeapi.ThrottleError
	if errors.As(err, &te) {
		loggerFrom(ctx).Warn("invocation throttled (429)", "function", ver.FunctionName, "reason", te.Reason, "why", te.Why)
	}
	return nil, err
}

// throttled is the Invoke APIs' answer to a throttle.
func throttled(te *runtimeapi.ThrottleError) *awsError {
	e := newError(errTooManyRequests, "Rate Exceeded.")
	e.Reason = te.Reason
	return e
}

// writeURLThrottled is a function URL's answer to a throttle.
func writeURLThrottled(w http.ResponseWriter) {
	writeURLError(w, http.StatusTooManyRequests, errTooManyRequests, `{"Message":"Rate Exceeded."}`)
}
