package gateway

// One invocation's walk through the gateway. Invoke, InvokeWithResponseStream,
// a function URL (buffered or streaming) and the dispatcher of queued Event
// invocations are doors onto one path. Each door reads and checks its own
// request and makes a runtimeapi.Invocation of it; from there every
// invocation visits these concerns once, in this order:
//
//  1. Limits (start). The invocation carries the function's reserved
//     concurrency and the share left to the others; runtimeapi draws on
//     the request rate of a reservation (not for asynchronous invocations,
//     which AWS queues instead) and then on the concurrency account, both
//     kept there side by side. A throttle is logged here, once, with its
//     reason.
//  2. Hand-off (start). The invoker gives the invocation to an execution
//     environment and returns as its response begins.
//  3. The body's lifetime (start, end). A streamed body is closed when the
//     client goes and when furl cuts streams at shutdown, so that a copy
//     never outlives either; the door defers end, which closes the body and
//     stops both watchers, so no goroutine outlives the request. A buffered
//     body has no watchers: furl's shutdown waits for buffered calls.
//  4. The result (read). A buffered door reads the body whole (runtimeapi
//     bounds it) and waits for the outcome; a streaming door relays the
//     body as it comes, then waits.
//  5. The log tail (tail), when the caller asked for it.
//  6. The answer. Only here do the doors part again: each turns a throttle,
//     a failure or the outcome into its own wire shape (an API error, an
//     event stream, a URL response, a retry of a queued event).

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/urlconfig"
)

// invocation is a started invocation: the runtime's result, and the
// stops of the watchers that close its body.
type invocation struct {
	*runtimeapi.Result
	stops []func() bool
}

// start runs inv within ver's limits, drawing on the request rate when
// rated, and hands it to an environment. A throttle is a
// *runtimeapi.ThrottleError. The caller ends the invocation it gets.
func (s *Server) start(ctx context.Context, ver *urlconfig.Version, inv *runtimeapi.Invocation, rated bool) (*invocation, error) {
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
	if err != nil {
		var te *runtimeapi.ThrottleError
		if errors.As(err, &te) {
			loggerFrom(ctx).Warn("invocation throttled (429)", "function", ver.FunctionName, "reason", te.Reason, "why", te.Why)
		}
		return nil, err
	}
	iv := &invocation{Result: res}
	if inv.Streaming {
		// A client that goes away, or a shutdown, ends the copy at once,
		// even while the function is quiet; the function itself runs on.
		closeBody := func() { res.Body.Close() }
		iv.stops = []func() bool{context.AfterFunc(ctx, closeBody), context.AfterFunc(s.shutdown(), closeBody)}
	}
	return iv, nil
}

// end stops the body's watchers and closes it.
func (iv *invocation) end() {
	for _, stop := range iv.stops {
		stop()
	}
	iv.Body.Close()
}

// wholeReader reads a body to its end into one slice of its size.
type wholeReader interface {
	ReadAll() ([]byte, error)
}

// read reads a buffered result whole and waits for the outcome.
func (iv *invocation) read() ([]byte, *runtimeapi.FunctionError, error) {
	var body []byte
	var err error
	if wr, ok := iv.Body.(wholeReader); ok {
		body, err = wr.ReadAll()
	} else {
		body, err = io.ReadAll(iv.Body)
	}
	if err != nil {
		return nil, nil, err
	}
	return body, iv.Wait(), nil
}

// tail is the end of the invocation's log as X-Amz-Log-Result and
// InvokeComplete's LogResult carry it, once the invocation is over.
func (iv *invocation) tail() string {
	return base64.StdEncoding.EncodeToString(iv.LogTail(tailBytes))
}

// startError is the Invoke APIs' answer to an invocation that did not
// start: 429 for a throttle, else the failure.
func startError(ver *urlconfig.Version, err error) error {
	var te *runtimeapi.ThrottleError
	if errors.As(err, &te) {
		e := newError(errTooManyRequests, "Rate Exceeded.")
		e.Reason = te.Reason
		return e
	}
	return fmt.Errorf("invoke %s: %w", ver.FunctionName, err)
}

// maxBodyPrealloc is the most of a request body set aside before it
// arrives.
const maxBodyPrealloc = 64 << 10

// readBody reads a request's body to its end, or to one byte past limit,
// as io.ReadAll(io.LimitReader(body, limit+1)) would; but when the request
// declares its length (within limit) it reads into one buffer of that
// size, where io.ReadAll would grow one from 512 bytes. Only the first
// maxBodyPrealloc bytes are set aside before they arrive: a client that
// declares 6 MB and sends nothing holds no more than that.
func readBody(body io.Reader, declared, limit int64) ([]byte, error) {
	if declared < 0 || declared > limit {
		return io.ReadAll(io.LimitReader(body, limit+1))
	}
	// One byte more than declared: the read that meets the end needs room,
	// and a body longer than it said (which net/http does not let through)
	// would still be read to its end, growing the buffer.
	buf := make([]byte, 0, min(declared+1, maxBodyPrealloc))
	src := io.LimitReader(body, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
