package runtimeapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// env is one execution environment: a runtime process and the Runtime API
// it talks to, on a listener of its own.
type env struct {
	m    *Manager
	p    *pool
	id   string
	fn   Function
	ln   net.Listener
	srv  *http.Server
	proc Process
	out  *lineWriter
	// releaseCode gives back the extracted code and merged layers once the
	// process is gone.
	releaseCode func()
	// codeDir is the extracted code ("" for an image), read for hints.
	codeDir string

	// deliver hands a call to the runtime's waiting /next; it is
	// unbuffered, so a call is only ever handed to a runtime that polls.
	deliver chan *call
	// dying is closed when the process has exited.
	dying chan struct{}
	// dead is closed when the environment is fully torn down.
	dead chan struct{}

	// Guarded by the pool's mutex.
	owner        *waiter // the invocation it was started for
	replaced     bool    // its init ran past initLimit; another tries again
	idleSince    time.Time
	worked       bool // its runtime has had an event
	polling      bool // the runtime waits in /next
	claimed      bool // given to an invoker that has not yet delivered a call
	initializing bool // registered, not yet polled /next
	retired      bool // stale: end it when it is next free
	returning    bool // answered its event, not yet polling again
	returnGen    uint64
	returnTimer  *time.Timer // ends the returning grace
	gone         bool        // its process has ended
	idleGen      uint64
	idleTimer    *time.Timer

	mu         sync.Mutex
	cur        *call         // the call the runtime has, until its next /next
	responding bool          // a /response or /error for cur has begun
	answering  chan struct{} // closed when that handler returns
	// pollBegan, when a timeout waits for the runtime to come back
	// (runtimeBack), is closed by its next /next.
	pollBegan    chan struct{}
	initStart    time.Time
	initDuration time.Duration
	initDone     chan struct{} // closed when init succeeded or failed
	initOnce     sync.Once
	initErr      *initFailure
	initLog      invocationLog
	// initStartOnce writes the INIT_START line (writeInitStart).
	initStartOnce sync.Once
	reportInit    bool // the next REPORT carries Init Duration
	// suppressed, until its first call starts, is when the owner's
	// invocation took over this environment's init, the first having run
	// past initLimit: the call's timeout counts from then, and its REPORT
	// has no Init Duration.
	suppressed time.Time
	killed     bool
	polled     chan struct{} // a /next is under way until it closes

	// ext are the extensions registered through the Extensions API.
	ext extensions

	// held, while holding, collects the environment's log lines instead
	// of writing them: a call's last lines of output, its END and its
	// REPORT then reach furl's output in one write (holdOutput).
	heldMu  sync.Mutex
	holding bool
	held    []byte
}

// initFailure is why an environment never became ready.
type initFailure struct {
	typ     string
	payload []byte // as the runtime posted it, or nil
	exit    string // the process' exit, for Runtime.ExitError
}

// forRequest is the error an invoker waiting on this init sees.
func (f *initFailure) forRequest(requestID string) *FunctionError {
	if f.payload != nil {
		return &FunctionError{Type: f.typ, Payload: f.payload}
	}
	return newFunctionError(f.typ, fmt.Sprintf("RequestId: %s Error: %s", requestID, f.exit))
}

// Runtime API paths.
const (
	apiPrefix = "/2018-06-01"
	pathNext  = apiPrefix + "/runtime/invocation/next"
	// pathInvocation begins the path of an invocation's answer.
	pathInvocation = apiPrefix + "/runtime/invocation/"
)

func (e *env) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathNext, e.next)
	mux.HandleFunc("POST "+apiPrefix+"/runtime/invocation/{id}/response", e.response)
	mux.HandleFunc("POST "+apiPrefix+"/runtime/invocation/{id}/error", e.invocationError)
	mux.HandleFunc("POST "+apiPrefix+"/runtime/init/error", e.initError)
	e.extensionRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		renderError(w, http.StatusNotFound, "NotFound", "No Runtime API route answers "+r.Method+" "+r.URL.Path)
	})
	// A warm invocation is a /next and a /response: those two go straight
	// to their handlers, matched as the mux would match them (a path the
	// mux would clean first, with an empty, "." or ".." id, or one with an
	// escape, which the mux matches segment by segment, goes to it).
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawPath != "" {
			mux.ServeHTTP(w, r)
			return
		}
		switch p := r.URL.Path; r.Method {
		case http.MethodGet:
			if p == pathNext {
				e.next(w, r)
				return
			}
		case http.MethodPost:
			if id, ok := strings.CutPrefix(p, pathInvocation); ok {
				if id, ok = strings.CutSuffix(id, "/response"); ok && id != "" && id != "." && id != ".." && !strings.Contains(id, "/") {
					r.SetPathValue("id", id)
					e.response(w, r)
					return
				}
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// renderJSON writes a Runtime API answer as Lambda does: JSON with a
// trailing newline.
func renderJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func renderError(w http.ResponseWriter, status int, typ, msg string) {
	renderJSON(w, status, struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{msg, typ})
}

// flush sends what w holds: net/http's writers are Flushers, and the
// Runtime API's handlers get them unwrapped.
func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// accepted is the body of every 202 the Runtime API answers, as
// renderJSON would encode it: it is the same each time, so it is made once.
var accepted = []byte("{\"status\":\"OK\"}\n")

// acceptedHeader holds the 202's header values, made once: net/http
// copies a handler's header when it writes it, and never changes them.
var acceptedHeader = struct{ contentType, contentLength []string }{[]string{"application/json"}, []string{strconv.Itoa(len(accepted))}}

func renderAccepted(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = acceptedHeader.contentType
	h["Content-Length"] = acceptedHeader.contentLength
	w.WriteHeader(http.StatusAccepted)
	w.Write(accepted)
}

func renderInvalidState(w http.ResponseWriter, msg string) {
	renderError(w, http.StatusForbidden, "InvalidStateTransition", msg)
}

// next is the runtime's long poll for its next event. The first call ends
// init; every call returns the environment to its pool.
func (e *env) next(w http.ResponseWriter, r *http.Request) {
	release, ok := e.onePoll(r.Context())
	if !ok {
		// One runtime, one event at a time: a second poll would take a
		// second event, whose caller would wait in vain.
		renderInvalidState(w, "State transition from Ready to Ready failed for runtime. Error: State transition is not allowed")
		return
	}
	defer release()
	// A runtime still sending the body of its response (past the cap, say)
	// is still busy with its invocation, whose timeout goes on: it is not
	// ready until that handler is done.
	e.mu.Lock()
	answering := e.answering
	e.mu.Unlock()
	if answering != nil {
		select {
		case <-answering:
		case <-r.Context().Done():
			return
		}
	}
	// Init ends, and an invocation is over, only once every extension
	// waits for its next event too.
	if !e.settle(r.Context()) {
		return
	}
	e.mu.Lock()
	if e.cur != nil && !e.cur.responded.Load() {
		e.mu.Unlock()
		renderInvalidState(w, "State transition from Invoking to Ready failed: the runtime asked for the next event before answering this one")
		return
	}
	if e.initErr != nil {
		e.mu.Unlock()
		renderInvalidState(w, "State transition from InitError to Ready failed: init has failed")
		return
	}
	if e.killed {
		// Its process is being ended: no event for it.
		e.mu.Unlock()
		select {
		case <-e.dying:
		case <-r.Context().Done():
		}
		return
	}
	first := false
	e.initOnce.Do(func() {
		first = true
		e.ext.closeRegistration()
		e.initDuration = time.Since(e.initStart)
		// A suppressed init is not reported apart: its time is the
		// invocation's.
		e.reportInit = e.suppressed.IsZero()
	})
	if e.cur != nil {
		// Its runtime is back: the previous invocation is over.
		e.cur.disarm()
	}
	e.cur = nil
	e.mu.Unlock()
	if first {
		e.logExtensionsReady()
		close(e.initDone)
	}
	e.p.ready(e)

	select {
	case c := <-e.deliver:
		e.p.delivered(e)
		e.start(c)
		h := w.Header()
		inv := c.inv
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.RequestID)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(c.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", inv.InvokedARN)
		if inv.TraceID != "" {
			h.Set("Lambda-Runtime-Trace-Id", inv.TraceID)
		}
		if inv.ClientContext != "" {
			h.Set("Lambda-Runtime-Client-Context", inv.ClientContext)
		}
		if inv.CognitoIdentity != "" {
			h.Set("Lambda-Runtime-Cognito-Identity", inv.CognitoIdentity)
		}
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(inv.Payload)))
		w.WriteHeader(http.StatusOK)
		w.Write(inv.Payload)
		// The event goes out now; the START line follows it.
		flush(w)
		e.open(c)
	case <-r.Context().Done():
		// The runtime stopped waiting: no event for it until it polls again.
		e.p.withdraw(e)
	case <-e.dying:
	}
}

// pollGrace is how long a /next waits for an earlier one of the same
// runtime to end before it is refused as a second, concurrent poll: a
// runtime that gave up on a poll and polls again must not be refused
// while the server has yet to notice the first one's connection closed.
const pollGrace = 250 * time.Millisecond

// onePoll makes the caller the environment's only /next until it calls
// release, as its handler returns (which a poll whose runtime went away
// soon does); it reports false when another stays under way.
func (e *env) onePoll(ctx context.Context) (release func(), ok bool) {
	var timer *time.Timer
	for {
		e.mu.Lock()
		other := e.polled
		if other == nil {
			mine := make(chan struct{})
			e.polled = mine
			if e.pollBegan != nil {
				close(e.pollBegan)
				e.pollBegan = nil
			}
			e.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return func() {
				e.mu.Lock()
				if e.polled == mine {
					e.polled = nil
				}
				e.mu.Unlock()
				close(mine)
			}, true
		}
		e.mu.Unlock()
		if timer == nil {
			// Only a second poll waits, and only so long.
			timer = time.NewTimer(pollGrace)
			defer timer.Stop()
		}
		select {
		case <-other:
		case <-timer.C:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
}

// start hands a call to the runtime: its clock starts, its log opens.
func (e *env) start(c *call) {
	began := time.Now()
	e.mu.Lock()
	if !e.suppressed.IsZero() {
		// The first invocation began with this environment's init.
		began = e.suppressed
		e.suppressed = time.Time{}
	}
	e.mu.Unlock()
	c.mu.Lock()
	c.env = e
	c.deliveredAt = began
	c.deadline = began.Add(c.inv.Function.Timeout)
	c.timer = time.AfterFunc(min(startLineWait, time.Until(c.deadline)), func() { e.tick(c) })
	c.mu.Unlock()
	e.mu.Lock()
	// What init printed (INIT_START first) went to the log stream; as on
	// Lambda, it is no part of the invocation's tail, which starts at
	// START. It is kept only to explain a failed init.
	e.initLog = invocationLog{}
	e.cur = c
	e.responding = false
	c.cold = e.reportInit
	e.mu.Unlock()
	// Only now do the extensions hear of it: a line one prints at once
	// belongs to this call, and would go to the init log, then be dropped
	// with it, were the call not yet current.
	e.deliverInvoke(c)
}

// open reports the call's start and gives it its START line, once,
// before any other line of the call. next opens the call once the event
// is on its way to the runtime (so that the work is not in the event's
// path); a line the function prints, or a closing line, that comes first
// opens it. The START line does not go out at once: it waits for the
// call's next line, which comes at the latest with its END and REPORT,
// and goes out in the same write, so that a quick call's lines reach
// furl's output in one write. A call that runs for startLineWait without
// printing gets its START line on its own (tick).
func (e *env) open(c *call) {
	c.openOnce.Do(func() {
		e.m.observe(Event{Kind: EventStart, Time: c.deliveredAt, Function: c.inv.Function.Name, Version: c.inv.Function.Version,
			RequestID: c.inv.RequestID, Environment: e.id, Cold: c.cold, Streaming: c.inv.Streaming})
		line := []byte("START RequestId: " + c.inv.RequestID + " Version: " + c.inv.Function.Version)
		c.log.add(line)
		e.deferLine(c.inv.RequestID, line)
		// The event took long to write (a big one, a slow reader): the
		// timer's look at START may have come before it was here.
		c.mu.Lock()
		waited := time.Since(c.deliveredAt)
		c.mu.Unlock()
		if waited >= startLineWait {
			e.flushDeferred()
		}
	})
}

// startLineWait is how long a START line may wait for company.
const startLineWait = 10 * time.Millisecond

// tick is the call's timer: at startLineWait it writes a START line still
// waiting and sets itself for the function's timeout, which it then
// enforces.
func (e *env) tick(c *call) {
	e.flushDeferred()
	c.mu.Lock()
	deadline := c.deadline.Add(c.heldFor)
	remaining := time.Until(deadline)
	if since := c.catchingUpSince; !since.IsZero() && since.Before(deadline) {
		// The runtime answered in time; its call ends once the reader
		// has caught up, within catchUpWait.
		remaining = max(remaining, catchUpWait)
	}
	if remaining > 0 {
		if !c.disarmed {
			c.timer.Reset(remaining)
		}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	e.timeout(c)
}

// current returns the call a Runtime API request names, refusing requests
// for any other id or for a call already answered.
func (e *env) current(w http.ResponseWriter, r *http.Request) *call {
	id := r.PathValue("id")
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.cur
	if c == nil || c.inv.RequestID != id {
		renderError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
		return nil
	}
	if c.responded.Load() || e.responding {
		renderInvalidState(w, "State transition from Responded to Responding failed: this invocation was already answered")
		return nil
	}
	e.responding = true
	e.answering = make(chan struct{})
	return c
}

// answered is the end of a /response or /error handler: a /next that
// came while it ran may go on.
func (e *env) answered() {
	e.mu.Lock()
	close(e.answering)
	e.answering = nil
	e.mu.Unlock()
}

// response relays the runtime's answer to the invoker as it arrives.
func (e *env) response(w http.ResponseWriter, r *http.Request) {
	c := e.current(w, r)
	if c == nil {
		return
	}
	defer e.answered()
	mode := r.Header.Get("Lambda-Runtime-Function-Response-Mode")
	if mode != "" && mode != "streaming" {
		e.finishCall(c, newFunctionError("Runtime.InvalidResponseModeHeader", "Invalid function response mode: "+mode))
		renderError(w, http.StatusBadRequest, "InvalidFunctionResponseMode", "Invalid function response mode")
		return
	}
	// Whether the response streams is the invocation's choice, not the
	// mode header's: aws-lambda-go never sends one.
	c.begin(r.Header.Get("Content-Type"))
	limit := c.maxResponse(e.m.streamCap)
	total, relayed, err := relay(c.body, r.Body, limit)
	c.sent.Store(relayed)
	switch {
	case total > limit && c.inv.Streaming:
		// A stream ends at its cap at once: its runtime may never stop
		// sending. What it sends on is read and dropped; the function runs
		// to its end.
		e.finishCall(c, newFunctionError("Function.ResponseSizeTooLarge",
			fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", limit)))
		io.Copy(io.Discard, r.Body)
		renderError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", limit))
		return
	case total > limit:
		// Count the rest, as Lambda's message gives the whole size.
		rest, _ := io.Copy(io.Discard, r.Body)
		e.finishCall(c, newFunctionError("Function.ResponseSizeTooLarge",
			fmt.Sprintf("Response payload size (%d bytes) exceeded maximum allowed payload size (%d bytes).", total+rest, limit)))
		renderError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", limit))
		return
	case err != nil:
		// A body cut off is most often its runtime dying. Then the exit
		// names the failure, Runtime.ExitError, as on Lambda: watch
		// finishes the call once this handler has returned.
		t := time.NewTimer(exitGrace)
		defer t.Stop()
		select {
		case <-e.dying:
			return
		case <-t.C:
		}
		e.finishCall(c, newFunctionError("Runtime.TruncatedResponse",
			fmt.Sprintf("RequestId: %s Error: the runtime's response was cut off after %d bytes: %v", c.inv.RequestID, relayed, err)))
		renderError(w, http.StatusBadRequest, "TruncatedHTTPRequest", "HTTP request detected as truncated")
		return
	}
	if c.inv.Streaming {
		// The stream's end reaches its reader before the call's closing
		// work (END, REPORT, events) competes with it for the CPU: the
		// last bytes go out first.
		c.endStream()
	}
	// Trailers are complete once the body has been read to its end.
	e.finishAccepted(w, c, trailerError(r.Trailer))
}

// catchUpWait bounds how long a stream's runtime waits for the reader to
// take its last bytes before its call ends: a slow client delays the
// runtime's next event by no more than this.
const catchUpWait = 10 * time.Millisecond

// trailerError is the mid-stream failure a runtime reports in its
// response's trailers: the error type verbatim, and the error body
// decoded from standard base64. A body that is missing or not base64
// still fails the invocation, with a payload furl writes.
func trailerError(trailer http.Header) *FunctionError {
	typ := trailer.Get("Lambda-Runtime-Function-Error-Type")
	if typ == "" {
		return nil
	}
	payload, err := base64.StdEncoding.DecodeString(trailer.Get("Lambda-Runtime-Function-Error-Body"))
	if err != nil || len(payload) == 0 {
		payload = errorPayload(typ, "the runtime reported an error of type "+typ)
	}
	return &FunctionError{Type: typ, Payload: payload}
}

// exitGrace is how long a cut-off response waits to learn whether its
// runtime died.
const exitGrace = 250 * time.Millisecond

// relay copies body into the invoker's pipe until EOF or limit. If the
// invoker has gone, it keeps reading (the function runs on) but stops
// keeping. It returns the bytes read, the bytes delivered, and a read
// error other than EOF. Past the limit, the bytes up to it are delivered:
// the stream ends where it was cut.
func relay(dst *bodyPipe, body io.Reader, limit int64) (total, relayed int64, err error) {
	var scratch *[]byte
	defer func() {
		if scratch != nil {
			relayBuffers.Put(scratch)
		}
	}()
	gone := false
	for {
		var n, kept int
		var rerr error
		read := false
		if !gone {
			// Read one byte past the limit, to see it crossed; the sums
			// stay in range whatever the limit.
			most, keep := maxPipeBuffer, maxPipeBuffer
			if left := limit - total; left < maxPipeBuffer {
				most, keep = int(left)+1, int(left)
			}
			n, kept, gone, rerr = dst.fill(body, most, keep)
			read = !gone || n > 0 || rerr != nil
		}
		if !read {
			if scratch == nil {
				scratch = relayBuffers.Get().(*[]byte)
			}
			n, rerr = body.Read(*scratch)
		}
		total += int64(n)
		relayed += int64(kept)
		if total > limit {
			return total, relayed, nil
		}
		if rerr == io.EOF {
			return total, relayed, nil
		}
		if rerr != nil {
			return total, relayed, rerr
		}
	}
}

// relayBuffers are the 32 KiB buffers relay drains a response with once
// its invoker is gone.
var relayBuffers = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}

// invocationError takes a function error the runtime reports.
func (e *env) invocationError(w http.ResponseWriter, r *http.Request) {
	c := e.current(w, r)
	if c == nil {
		return
	}
	defer e.answered()
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBufferedResponse+1))
	if err != nil {
		e.finishCall(c, newFunctionError("Runtime.TruncatedResponse", "RequestId: "+c.inv.RequestID+" Error: the runtime's error report was cut off"))
		renderError(w, http.StatusBadRequest, "TruncatedHTTPRequest", "HTTP request detected as truncated")
		return
	}
	if len(body) > MaxBufferedResponse {
		rest, _ := io.Copy(io.Discard, r.Body)
		e.finishCall(c, newFunctionError("Function.ResponseSizeTooLarge",
			fmt.Sprintf("Response payload size (%d bytes) exceeded maximum allowed payload size (%d bytes).", int64(len(body))+rest, MaxBufferedResponse)))
		renderError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", MaxBufferedResponse))
		return
	}
	e.finishAccepted(w, c, &FunctionError{Type: errorType(r.Header.Get("Lambda-Runtime-Function-Error-Type"), body), Payload: body})
}

// errorType is the type of a reported error: the header's, else the
// body's errorType, else Unhandled.
func errorType(header string, body []byte) string {
	if header != "" {
		return header
	}
	var b struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(body, &b) == nil && b.ErrorType != "" {
		return b.ErrorType
	}
	return "Unhandled"
}

// initError takes an init failure the runtime reports; the environment is
// then unusable.
func (e *env) initError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, MaxBufferedResponse))
	failed := false
	e.initOnce.Do(func() {
		failed = true
		typ := errorType(r.Header.Get("Lambda-Runtime-Function-Error-Type"), body)
		// furl's hint at the packaging mistake goes after the runtime's
		// own message: to the caller, into the function's log and into
		// furl's.
		if h := initHint(e.fn, e.codeDir, typ, body); h != "" {
			body = withHint(body, h)
			line := []byte("furl:" + strings.TrimSuffix(strings.TrimPrefix(h, " (furl:"), ")"))
			e.initLog.add(line)
			e.emit("", line)
			e.m.log.Warn("function init failed", "function", e.fn.Name, "version", e.fn.Version, "error_type", typ, "hint", strings.TrimSpace(h))
		}
		e.mu.Lock()
		e.initErr = &initFailure{typ: typ, payload: body}
		e.mu.Unlock()
	})
	if !failed {
		renderInvalidState(w, "State transition from Ready to InitError failed: init has already finished")
		return
	}
	renderAccepted(w)
	close(e.initDone)
}

// timeout ends a call that ran past the function's timeout, and its
// environment with it. A call already answered whose runtime has not
// asked for its next event by then ends its environment too: a runtime
// that streams past its response cap, or answers and never polls again,
// must not hold a process (and the executions it is counted in) forever.
func (e *env) timeout(c *call) {
	secs := c.inv.Function.Timeout.Seconds()
	fe := newFunctionError("Sandbox.Timedout", fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", c.inv.RequestID, secs))
	if e.finishCallStatus(c, fe, "timeout", false, nil) {
		e.killFor("timeout")
		return
	}
	if !e.runtimeBack(c) {
		e.m.log.Warn("execution environment did not ask for its next event within the function's timeout after answering; ending it",
			"function", e.fn.Name, "version", e.fn.Version, "env", e.id, "request_id", c.inv.RequestID, "timeout", c.inv.Function.Timeout)
		e.platformLine(c, fmt.Sprintf("%s %s Task timed out after %.2f seconds",
			time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), c.inv.RequestID, secs))
		e.proc.Kill()
	}
}

// runtimeBack reports whether the runtime of an answered call c is back
// for its next event, or on its way. A runtime that has its 202 polls at
// once, most often on the same connection, which the server reads only
// once the /response handler has returned, and that handler may still be
// writing the call's closing lines past the timeout: such a runtime must
// not be taken for one that never came back. So the runtime is given
// backGrace for its handler to return (a handler still under way then is
// a runtime still sending, past its cap, say), and backGrace after that
// to begin its poll.
func (e *env) runtimeBack(c *call) bool {
	e.mu.Lock()
	back, answering := e.cur != c, e.answering
	e.mu.Unlock()
	if back {
		return true
	}
	// A poll does not count while the runtime still sends its answer.
	t := time.NewTimer(backGrace)
	defer t.Stop()
	if answering != nil {
		select {
		case <-answering:
		case <-e.dying:
			return true
		case <-t.C:
			e.mu.Lock()
			e.killed = true
			e.mu.Unlock()
			return false
		}
		t.Reset(backGrace)
	}
	e.mu.Lock()
	if e.cur != c || e.polled != nil {
		e.mu.Unlock()
		return true
	}
	if e.pollBegan == nil {
		e.pollBegan = make(chan struct{})
	}
	began := e.pollBegan
	e.mu.Unlock()
	select {
	case <-began:
		return true
	case <-e.dying:
		return true
	case <-t.C:
	}
	// A poll that begins now either is seen here or, once killed is set,
	// takes no event (next).
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur != c || e.polled != nil {
		return true
	}
	e.killed = true
	return false
}

// backGrace is how long a timeout waits for an answered call's runtime to
// finish sending its answer, and then to ask for its next event.
const backGrace = 250 * time.Millisecond

// finishAccepted ends a call the runtime answered as the Runtime API
// expects, and accepts the answer: the 202 goes out as soon as the
// outcome is settled, before the closing log lines, so that the runtime's
// next poll is on its way while they are written (next waits for them).
func (e *env) finishAccepted(w http.ResponseWriter, c *call, fe *FunctionError) {
	acked := false
	e.finishCallAck(c, fe, func() {
		renderAccepted(w)
		flush(w)
		acked = true
	})
	if !acked {
		// Another outcome (the timeout) ended the call first.
		renderAccepted(w)
	}
}

// finishCall ends a call with its closing log lines, after everything the
// function printed for it has been read.
func (e *env) finishCall(c *call, fe *FunctionError) bool {
	return e.finishCallAck(c, fe, nil)
}

// finishCallAck is finishCall, running ack (when not nil) once the
// outcome is settled and before the closing log lines, if this outcome is
// the call's.
func (e *env) finishCallAck(c *call, fe *FunctionError, ack func()) bool {
	select {
	case <-e.dying:
	default:
		// The runtime has answered and polls again next: before the
		// invoker has the answer (and may invoke again), the pool counts
		// this environment as coming back.
		e.p.returned(e)
	}
	status := ""
	if fe != nil && isPlatformError(fe.Type) {
		status = "error"
	}
	return e.finishCallStatus(c, fe, status, true, ack)
}

func isPlatformError(typ string) bool {
	switch typ {
	case "Runtime.ExitError", "Runtime.TruncatedResponse", "Runtime.InvalidResponseModeHeader", "Function.ResponseSizeTooLarge":
		return true
	}
	return false
}

func (e *env) finishCallStatus(c *call, fe *FunctionError, status string, quiet bool, ack func()) bool {
	won := c.finish(fe, func() {
		if ack != nil {
			ack()
		}
		// The call is over once its extensions are done with it too, and
		// what they printed for it is part of its log.
		if status != "timeout" && !e.waitExtensions(c) {
			status = "timeout"
		}
		// What the function printed before it answered, its END and its
		// REPORT go out together.
		e.holdOutput()
		defer e.releaseOutput()
		if quiet {
			e.proc.Quiet(100 * time.Millisecond)
		}
		e.out.flushPartial()
		c.responded.Store(true)
		c.mu.Lock()
		d := time.Since(c.deliveredAt) - c.heldFor
		c.mu.Unlock()
		if status == "timeout" {
			e.platformLine(c, fmt.Sprintf("%s %s Task timed out after %.2f seconds",
				time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), c.inv.RequestID, c.inv.Function.Timeout.Seconds()))
		}
		e.mu.Lock()
		withInit, initD := e.reportInit, e.initDuration
		e.reportInit = false
		e.mu.Unlock()
		e.platformLine(c, "END RequestId: "+c.inv.RequestID,
			reportLine(c.inv.RequestID, d, c.inv.Function.MemoryMB, e.proc.MaxMemoryMB(), withInit, initD, status, fe))
		ev := Event{Kind: EventEnd, Time: time.Now(), Function: c.inv.Function.Name, Version: c.inv.Function.Version,
			RequestID: c.inv.RequestID, Environment: e.id, Cold: withInit, Streaming: c.inv.Streaming,
			Duration: d, ResponseBytes: c.sent.Load(), Status: status}
		if withInit {
			ev.InitDuration = initD
		}
		if fe != nil {
			ev.ErrorType = fe.Type
		}
		e.m.observe(ev)
	})
	return won
}

// reportLine is Lambda's REPORT line: tab-separated fields, each ending in
// a tab. Billed duration rounds up to the millisecond and, since AWS bills
// the init phase too, includes init.
func reportLine(requestID string, d time.Duration, memoryMB, maxUsedMB int, withInit bool, initD time.Duration, status string, fe *FunctionError) string {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	billed := d
	if withInit {
		billed += initD
	}
	billedUnits := (billed + time.Millisecond - 1) / time.Millisecond
	// Appended rather than formatted: one is written per invocation.
	b := make([]byte, 0, 192+len(requestID))
	b = append(b, "REPORT RequestId: "...)
	b = append(b, requestID...)
	b = append(b, "\tDuration: "...)
	b = strconv.AppendFloat(b, ms(d), 'f', 2, 64)
	b = append(b, " ms\tBilled Duration: "...)
	b = strconv.AppendInt(b, int64(billedUnits), 10)
	b = append(b, " ms\tMemory Size: "...)
	b = strconv.AppendInt(b, int64(memoryMB), 10)
	b = append(b, " MB\tMax Memory Used: "...)
	b = strconv.AppendInt(b, int64(maxUsedMB), 10)
	b = append(b, " MB\t"...)
	if withInit {
		b = append(b, "Init Duration: "...)
		b = strconv.AppendFloat(b, ms(initD), 'f', 2, 64)
		b = append(b, " ms\t"...)
	}
	if status != "" {
		b = append(b, "Status: "+status+"\t"...)
		if status == "error" && fe != nil {
			b = append(b, "Error Type: "+fe.Type+"\t"...)
		}
	}
	return string(b)
}

// platformLine writes Lambda's own log lines for a call, after its START.
func (e *env) platformLine(c *call, lines ...string) {
	e.open(c)
	e.emitLines(c, lines...)
}

// emitLines adds lines to the call's log and writes them out.
func (e *env) emitLines(c *call, lines ...string) {
	raw := make([][]byte, len(lines))
	for i, l := range lines {
		raw[i] = []byte(l)
		c.log.add(raw[i])
	}
	e.emit(c.inv.RequestID, raw...)
}

// emit writes the environment's log lines to furl's output, after a
// START line waiting for them and in the same write, or, while its output
// is held, adds them to what will be written.
func (e *env) emit(requestID string, lines ...[]byte) { e.add(requestID, lines, true) }

// deferLine adds a line to what the environment's next write carries,
// without writing it yet (open).
func (e *env) deferLine(requestID string, line []byte) { e.add(requestID, [][]byte{line}, false) }

// add appends lines to the held output and, if write, writes it unless
// it is held. Held output is bounded: a function that prints fast while
// its call closes has it written in pieces, in order, as it comes.
func (e *env) add(requestID string, lines [][]byte, write bool) {
	e.heldMu.Lock()
	e.held = appendLogLines(e.held, e.fn, requestID, lines)
	if (write && !e.holding) || len(e.held) >= maxHeld {
		e.writeHeldLocked()
	}
	e.heldMu.Unlock()
	e.m.observeLines(e.fn, requestID, lines)
}

// flushDeferred writes a line left waiting by deferLine, unless the
// output is held (its release writes it).
func (e *env) flushDeferred() {
	e.heldMu.Lock()
	if !e.holding {
		e.writeHeldLocked()
	}
	e.heldMu.Unlock()
}

// writeHeldLocked writes what held has, in one write, with heldMu held.
func (e *env) writeHeldLocked() {
	if len(e.held) > 0 {
		e.m.write(e.held)
	}
	if cap(e.held) > maxHeldReuse {
		e.held = nil
	} else {
		e.held = e.held[:0]
	}
}

// holdOutput holds the environment's log lines back until releaseOutput
// writes them all at once; lines from any goroutine wait, in order.
func (e *env) holdOutput() {
	e.heldMu.Lock()
	e.holding = true
	e.heldMu.Unlock()
}

// releaseOutput writes what holdOutput held back, in one write, and lets
// lines through again. Lines emitted meanwhile wait for the write, so
// that none overtakes the held ones.
func (e *env) releaseOutput() {
	e.heldMu.Lock()
	e.holding = false
	e.writeHeldLocked()
	e.heldMu.Unlock()
}

// maxHeld is the most output an environment holds back before it writes
// it anyway.
const maxHeld = 256 << 10

// maxHeldReuse is the most held-output buffer an environment keeps for
// its next call; a call that printed more gets a fresh one.
const maxHeldReuse = 16 << 10

// line takes one line the function printed.
func (e *env) line(b []byte) {
	e.writeInitStart("")
	e.mu.Lock()
	c := e.cur
	if c != nil && c.finished() {
		c = nil
	}
	if c == nil {
		e.initLog.add(b)
	}
	e.mu.Unlock()
	if c != nil {
		e.open(c)
		c.log.add(b)
		e.emit(c.inv.RequestID, b)
		return
	}
	e.emit("", b)
}

// watch tears the environment down when its process exits.
func (e *env) watch() {
	<-e.proc.Done()
	close(e.dying)
	if e.srv != nil {
		// Let Runtime API requests under way end first: a runtime that
		// posts an error and then exits must be heard out.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if e.srv.Shutdown(ctx) != nil {
			e.srv.Close()
		}
		cancel()
	}
	exit := describeExit(e.proc.Err())

	e.mu.Lock()
	c := e.cur
	e.mu.Unlock()
	if c != nil {
		c.disarm()
	}
	if c != nil && !c.finished() {
		msg := fmt.Sprintf("RequestId: %s Error: %s", c.inv.RequestID, exit)
		e.platformLine(c, msg, "Runtime.ExitError")
		e.finishCall(c, newFunctionError("Runtime.ExitError", msg))
	}
	e.failInit(&initFailure{typ: "Runtime.ExitError", exit: exit})
	if e.releaseCode != nil {
		e.releaseCode()
	}
	e.p.remove(e)
	e.m.log.Debug("execution environment ended", "function", e.fn.Name, "version", e.fn.Version, "env", e.id, "exit", exit)
	close(e.dead)
}

// failInit records an init failure unless init already ended; it reports
// whether it did.
func (e *env) failInit(f *initFailure) bool {
	failed := false
	e.initOnce.Do(func() {
		failed = true
		e.mu.Lock()
		e.initErr = f
		e.mu.Unlock()
		close(e.initDone)
	})
	return failed
}

// describeExit words a process exit as Lambda does.
func describeExit(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "Runtime exited without providing a reason"
	case errors.As(err, &ee):
		return "Runtime exited with error: " + ee.ProcessState.String()
	default:
		return "Runtime exited with error: " + err.Error()
	}
}

// kill ends the environment; its watch tears it down. Killing one still
// booting takes effect as soon as its process exists. Extensions
// registered for SHUTDOWN hear of it first, and have shutdownDeadline.
func (e *env) kill() { e.killFor("spindown") }

// killFor is kill, telling extensions why: spindown, timeout or failure.
func (e *env) killFor(reason string) {
	e.mu.Lock()
	e.killed = true
	p := e.proc
	e.mu.Unlock()
	if p == nil {
		return
	}
	switch e.ext.beginShutdown() {
	case killNow:
		p.Kill()
	case killAfterShutdown:
		go func() {
			e.shutdownExtensions(reason)
			p.Kill()
		}()
	}
}

// setProc records the environment's process, killing it at once if the
// environment was killed while booting.
func (e *env) setProc(p Process) {
	e.mu.Lock()
	e.proc = p
	killed := e.killed
	e.mu.Unlock()
	if killed {
		p.Kill()
	}
}

// assign gives the call to the environment's runtime once it polls
// /next. It reports false when the environment ended first, or its runtime
// stopped polling for as long as the function's timeout: the call was
// never delivered and may go to another environment.
func (e *env) assign(c *call) bool {
	// A warm environment is picked because its runtime is polling: the
	// hand-off is then immediate, and needs no timer.
	select {
	case e.deliver <- c:
		return true
	default:
	}
	t := time.NewTimer(c.inv.Function.Timeout)
	defer t.Stop()
	select {
	case e.deliver <- c:
		return true
	case <-e.dying:
		return false
	case <-t.C:
		e.m.log.Warn("execution environment stopped polling for events; replacing it", "function", e.fn.Name, "env", e.id)
		e.kill()
		return false
	}
}

// peerCheck is whether one connection to a Runtime API comes from the
// environment, decided at its first request.
type peerCheck struct {
	conn net.Conn
	once sync.Once
	err  error
}

type peerCheckKey struct{}

// withPeerCheck gives each connection its check, for the handler to run:
// the server's accept loop must not wait for it.
func withPeerCheck(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, peerCheckKey{}, &peerCheck{conn: c})
}

// guard answers only the environment's own processes. Any other process
// that finds the port (they are listed in /proc/net/tcp) gets a 403 and
// its connection closed, and changes nothing.
func (e *env) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pc, _ := r.Context().Value(peerCheckKey{}).(*peerCheck)
		if pc == nil {
			renderError(w, http.StatusForbidden, "AccessDenied", "furl cannot tell who sent this request")
			return
		}
		pc.once.Do(func() {
			pc.err = e.proc.Peer(pc.conn)
			if pc.err != nil {
				e.m.log.Warn("refused a connection to an execution environment's Runtime API: it does not come from the environment",
					"function", e.fn.Name, "version", e.fn.Version, "env", e.id, "why", pc.err)
			}
		})
		if pc.err != nil {
			w.Header().Set("Connection", "close")
			renderError(w, http.StatusForbidden, "AccessDenied", "This Runtime API answers only its execution environment's runtime.")
			return
		}
		h.ServeHTTP(w, r)
	})
}
