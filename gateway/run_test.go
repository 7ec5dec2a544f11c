package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/urlconfig"
)

// scriptedInvoker records the invocation it is given and answers with a
// result whose body counts its closes, or with err.
type scriptedInvoker struct {
	err  error
	got  *runtimeapi.Invocation
	body *countingBody
}

func (f *scriptedInvoker) Invoke(_ context.Context, inv *runtimeapi.Invocation) (*runtimeapi.Result, error) {
	f.got = inv
	if f.err != nil {
		return nil, f.err
	}
	f.body = &countingBody{Reader: strings.NewReader("{}"), closed: make(chan struct{})}
	return &runtimeapi.Result{ExecutedVersion: "$LATEST", Body: f.body}, nil
}

func (*scriptedInvoker) Retire(string) {}

// countingBody is a result's body that counts its closes.
type countingBody struct {
	io.Reader
	closes atomic.Int32
	closed chan struct{} // closed at the first close
}

func (b *countingBody) Close() error {
	if b.closes.Add(1) == 1 {
		close(b.closed)
	}
	return nil
}

// waitClosed waits for the body's first close; the watchers close it from
// their own goroutine.
func waitClosed(t *testing.T, b *countingBody) {
	t.Helper()
	select {
	case <-b.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the body was never closed")
	}
}

// startServer is a Server whose invoker is inv.
func startServer(t *testing.T, inv *scriptedInvoker) *Server {
	s := newTestServer(t)
	s.invoker = inv
	return s
}

// TestStartLimits checks that start hands the invoker the invocation with
// its limits: the function's reservation, the unreserved share, and
// whether it draws on the request rate.
func TestStartLimits(t *testing.T) {
	five := 5
	for _, tc := range []struct {
		name     string
		reserved *int
		rated    bool
	}{
		{"unreserved, rated", nil, true},
		{"reserved, rated", &five, true},
		{"asynchronous: not rated", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &scriptedInvoker{}
			s := startServer(t, fake)
			iv, err := s.start(t.Context(), &urlconfig.Version{FunctionName: "fn", ReservedConcurrency: tc.reserved}, &runtimeapi.Invocation{}, tc.rated)
			if err != nil {
				t.Fatal(err)
			}
			iv.end()
			want, err := s.store.UnreservedConcurrency(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got := fake.got; got.Reserved != tc.reserved || got.Unreserved != want || got.Rated != tc.rated {
				t.Errorf("invocation: Reserved %v Unreserved %d Rated %v; want %v %d %v", got.Reserved, got.Unreserved, got.Rated, tc.reserved, want, tc.rated)
			}
		})
	}
}

// TestStartThrottle checks that a throttle is logged once, with its
// reason, and answered by the Invoke APIs as 429 with that reason.
func TestStartThrottle(t *testing.T) {
	te := &runtimeapi.ThrottleError{Reason: "ReservedFunctionConcurrentInvocationLimitExceeded", Why: "5 of 5 running"}
	s := startServer(t, &scriptedInvoker{err: te})
	var logged strings.Builder
	ctx := context.WithValue(t.Context(), requestKey{}, &requestInfo{id: "r", log: slog.New(slog.NewTextHandler(&logged, nil))})
	ver := &urlconfig.Version{FunctionName: "fn"}
	_, err := s.start(ctx, ver, &runtimeapi.Invocation{}, true)
	if !errors.Is(err, te) {
		t.Fatalf("start: %v, want the throttle", err)
	}
	if n := strings.Count(logged.String(), "invocation throttled"); n != 1 || !strings.Contains(logged.String(), "reason="+te.Reason) {
		t.Errorf("logged %d throttles, want 1 with its reason:\n%s", n, logged.String())
	}
	var ae *awsError
	if !errors.As(startError(ver, err), &ae) || ae.Status != http.StatusTooManyRequests || ae.Reason != te.Reason {
		t.Errorf("startError: %#v, want 429 with reason %s", ae, te.Reason)
	}
	other := errors.New("no environment")
	if err := startError(ver, other); !errors.Is(err, other) || errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests {
		t.Errorf("startError of a failure: %v, want it wrapped, not a throttle", err)
	}
}

// TestStartStreamBody checks the body's lifetime: a streamed body is
// closed when the client goes or furl cuts streams, and end stops both
// watchers; a buffered body has none, since the shutdown waits for it.
func TestStartStreamBody(t *testing.T) {
	ver := &urlconfig.Version{FunctionName: "fn"}
	for _, tc := range []struct {
		name string
		gone func(s *Server, cancel context.CancelFunc)
	}{
		{"client gone", func(_ *Server, cancel context.CancelFunc) { cancel() }},
		{"furl shuts down", func(s *Server, _ context.CancelFunc) { s.CutStreams() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &scriptedInvoker{}
			s := startServer(t, fake)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			iv, err := s.start(ctx, ver, &runtimeapi.Invocation{Streaming: true}, true)
			if err != nil {
				t.Fatal(err)
			}
			tc.gone(s, cancel)
			waitClosed(t, fake.body)
			iv.end()
		})
	}
	t.Run("end stops the watchers", func(t *testing.T) {
		fake := &scriptedInvoker{}
		s := startServer(t, fake)
		iv, err := s.start(t.Context(), ver, &runtimeapi.Invocation{Streaming: true}, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(iv.stops) != 2 {
			t.Fatalf("%d watchers, want 2 (the client, the shutdown)", len(iv.stops))
		}
		iv.end()
		if n := fake.body.closes.Load(); n != 1 {
			t.Errorf("end closed the body %d times, want 1", n)
		}
		for i, stop := range iv.stops {
			if stop() {
				t.Errorf("watcher %d was still registered after end", i)
			}
		}
	})
	t.Run("buffered", func(t *testing.T) {
		fake := &scriptedInvoker{}
		s := startServer(t, fake)
		iv, err := s.start(t.Context(), ver, &runtimeapi.Invocation{}, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(iv.stops) != 0 {
			t.Errorf("%d watchers on a buffered body, want none", len(iv.stops))
		}
		iv.end()
		if n := fake.body.closes.Load(); n != 1 {
			t.Errorf("end closed the body %d times, want 1", n)
		}
	})
}
