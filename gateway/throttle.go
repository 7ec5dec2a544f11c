package gateway

import (
	"context"
	"errors"
	"net/http"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/urlconfig"
)

// invokeLimited runs an invocation within its function's limits, which
// runtimeapi keeps in one place: the request rate of a reservation, then
// the concurrency account. A throttle is a *runtimeapi.ThrottleError,
// logged with why.
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
	inv.Rated = rated
	res, err := s.invoker.Invoke(ctx, inv)
	if err == nil {
		return res, nil
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
