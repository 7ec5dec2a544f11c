// Package relay is the benchmarks' yardstick: the least a function URL
// gateway can do on furl's architecture. It starts n copies of a function's
// bootstrap, each pointed at the relay's own minimal Runtime API, and
// serves HTTP by building a payload-2.0 event, handing it to whichever
// runtime asks for the next invocation, and mapping the runtime's answer
// back. There is no store, no log capture, no authorization and no limit.
//
// It is used only by the benchmarks in package e2e.
package relay

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// Mode is what the relay's HTTP side speaks.
type Mode int

const (
	// URL serves a BUFFERED function URL: the request becomes a payload-2.0
	// event and the function's structured result becomes the response.
	URL Mode = iota
	// Stream serves a RESPONSE_STREAM function URL: the runtime's
	// http-integration-response prelude becomes the status and headers,
	// and the body is copied to the client, flushed, as it arrives.
	Stream
	// Invoke is the Invoke API's equivalent: the request body is the event
	// and the response body is the function's result, as is.
	Invoke
	// InvokeStream is InvokeWithResponseStream's equivalent: the request
	// body is the event, and the runtime's response goes out as it comes,
	// each read as a PayloadChunk event, then an InvokeComplete.
	InvokeStream
)

// Relay is n warm environments of one function behind an HTTP handler.
// Close stops the runtimes and the Runtime API server.
type Relay struct {
	mode    Mode
	pending chan *invocation // handed to the next GET /next
	mu      sync.Mutex
	running map[string]*invocation // by request id
	seq     atomic.Uint64
	rapi    *http.Server
	cmds    []*exec.Cmd
	served  chan struct{} // closed when rapi.Serve returns
}

// invocation is one request on its way through a runtime.
type invocation struct {
	id      string
	payload []byte
	// trace is the X-Ray trace header Lambda's Runtime API always sends
	// (Lambda-Runtime-Trace-Id), whose root a URL event also carries.
	trace string
	// done receives the buffered result; stream receives the streaming
	// response's body, whose reader closes copied when it is finished.
	done   chan result
	stream chan io.ReadCloser
}

type result struct {
	body  []byte
	error bool
}

// Start starts n copies of bootstrap (an aws-lambda-go executable) with
// env added to this process's environment and AWS_LAMBDA_RUNTIME_API set
// to the relay's Runtime API on 127.0.0.1.
func Start(bootstrap string, n int, mode Mode, env ...string) (*Relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("relay runtime api: %w", err)
	}
	r := &Relay{mode: mode, pending: make(chan *invocation), running: map[string]*invocation{}, served: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", r.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", r.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", r.fail)
	r.rapi = &http.Server{Handler: mux}
	go func() {
		defer close(r.served)
		_ = r.rapi.Serve(ln)
	}()
	for range n {
		cmd := exec.Command(bootstrap)
		cmd.Env = append(append(os.Environ(), env...), "AWS_LAMBDA_RUNTIME_API="+ln.Addr().String(),
			"AWS_LAMBDA_FUNCTION_NAME=relay", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128")
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			r.Close()
			return nil, fmt.Errorf("relay start %s: %w", bootstrap, err)
		}
		r.cmds = append(r.cmds, cmd)
	}
	return r, nil
}

// Close kills the runtimes, waits for them, and stops the Runtime API.
func (r *Relay) Close() error {
	for _, cmd := range r.cmds {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	err := r.rapi.Close()
	<-r.served
	return err
}

// ServeHTTP hands the request to a runtime and writes its answer.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	inv := &invocation{id: strconv.FormatUint(r.seq.Add(1), 10), payload: body, trace: traceHeader()}
	if r.mode == URL || r.mode == Stream {
		inv.payload = event(req, body, inv.trace)
	}
	if r.mode == Stream || r.mode == InvokeStream {
		inv.stream = make(chan io.ReadCloser, 1)
	} else {
		inv.done = make(chan result, 1)
	}
	r.mu.Lock()
	r.running[inv.id] = inv
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.running, inv.id)
		// A stream handed over after the client left is closed here, so
		// that its runtime's POST ends.
		select {
		case rc := <-inv.stream:
			rc.Close()
		default:
		}
		r.mu.Unlock()
	}()
	ctx := req.Context()
	select {
	case r.pending <- inv:
	case <-ctx.Done():
		return
	}
	if r.mode == Stream || r.mode == InvokeStream {
		select {
		case rc := <-inv.stream:
			defer rc.Close()
			if r.mode == InvokeStream {
				relayEvents(w, rc)
			} else {
				relayStream(w, rc)
			}
		case <-ctx.Done():
		}
		return
	}
	select {
	case res := <-inv.done:
		if r.mode == Invoke {
			w.Header().Set("Content-Type", "application/json")
			if res.error {
				w.Header().Set("X-Amz-Function-Error", "Unhandled")
			}
			w.Write(res.body)
			return
		}
		writeResult(w, res)
	case <-ctx.Done():
	}
}

// event builds the payload-2.0 event of a function URL request, with
// the fields Lambda always adds (the trace and x-forwarded-* headers, a
// request id, the 32-character URL id), so that the function decodes and
// answers as large an event as it would on AWS.
func event(req *http.Request, body []byte, trace string) []byte {
	headers := make(map[string]string, len(req.Header)+5)
	for k, v := range req.Header {
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	_, port, _ := net.SplitHostPort(req.Host)
	source, _, _ := net.SplitHostPort(req.RemoteAddr)
	headers["host"] = req.Host
	headers["x-amzn-trace-id"], _, _ = strings.Cut(trace, ";")
	headers["x-forwarded-for"] = source
	headers["x-forwarded-port"] = port
	headers["x-forwarded-proto"] = "http"
	var query map[string]string
	if req.URL.RawQuery != "" {
		query = map[string]string{}
		for k, v := range req.URL.Query() {
			query[k] = strings.Join(v, ",")
		}
	}
	ev := map[string]any{
		"version": "2.0", "routeKey": "$default", "rawPath": req.URL.Path, "rawQueryString": req.URL.RawQuery,
		"headers": headers, "queryStringParameters": query, "isBase64Encoded": true,
		"body": base64.StdEncoding.EncodeToString(body),
		"requestContext": map[string]any{
			"accountId": "anonymous", "apiId": urlID, "domainName": req.Host, "domainPrefix": urlID,
			"requestId": requestID(), "routeKey": "$default", "stage": "$default",
			"time": time.Now().UTC().Format("02/Jan/2006:15:04:05 -0700"), "timeEpoch": time.Now().UnixMilli(),
			"http": map[string]any{"method": req.Method, "path": req.URL.Path, "protocol": req.Proto,
				"sourceIp": source, "userAgent": req.UserAgent()},
		},
	}
	raw, _ := json.Marshal(ev)
	return raw
}

// urlID stands for a function URL's id, which is 32 characters long.
const urlID = "relay0relay0relay0relay0relay0re"

// requestID is a random request id in a UUID's form, as Lambda's are.
func requestID() string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// traceHeader is a new X-Ray trace header as Lambda's Runtime API sends
// it: a root (1-, the time in 8 hex digits, 96 random bits), a parent, and
// not sampled.
func traceHeader() string {
	var b [20]byte
	rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%x;Parent=%x;Sampled=0", time.Now().Unix(), b[:12], b[12:])
}

// writeResult maps a buffered function URL result to the response: a
// structured result with a statusCode, or anything else as a 200 JSON body.
func writeResult(w http.ResponseWriter, res result) {
	if res.error {
		http.Error(w, "Internal Server Error", http.StatusBadGateway)
		return
	}
	var out struct {
		StatusCode      int               `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Cookies         []string          `json:"cookies"`
		Body            string            `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(res.body, &out); err != nil || out.StatusCode == 0 {
		w.Header().Set("Content-Type", "application/json")
		w.Write(res.body)
		return
	}
	for k, v := range out.Headers {
		if !strings.EqualFold(k, "Content-Length") {
			w.Header().Set(k, v)
		}
	}
	for _, c := range out.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(out.Body)
	if out.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(out.Body); err != nil {
			http.Error(w, "Internal Server Error", http.StatusBadGateway)
			return
		}
	}
	w.WriteHeader(out.StatusCode)
	w.Write(body)
}

// relayStream writes a lambdaurl response: the prelude JSON up to eight
// null bytes gives the status and headers, the rest is copied and flushed
// as it comes. A function error after the first byte cuts the stream.
func relayStream(w http.ResponseWriter, body io.Reader) {
	buf := make([]byte, 32<<10)
	var head []byte
	sep := []byte{0, 0, 0, 0, 0, 0, 0, 0}
	for {
		n, err := body.Read(buf)
		head = append(head, buf[:n]...)
		if i := bytes.Index(head, sep); i >= 0 {
			var prelude struct {
				StatusCode int               `json:"statusCode"`
				Headers    map[string]string `json:"headers"`
				Cookies    []string          `json:"cookies"`
			}
			if json.Unmarshal(head[:i], &prelude) != nil || prelude.StatusCode == 0 {
				prelude.StatusCode = http.StatusOK
			}
			for k, v := range prelude.Headers {
				// The body's length is the stream's, whatever the
				// function says.
				if !strings.EqualFold(k, "Content-Length") {
					w.Header().Set(k, v)
				}
			}
			for _, c := range prelude.Cookies {
				w.Header().Add("Set-Cookie", c)
			}
			w.WriteHeader(prelude.StatusCode)
			if rest := head[i+len(sep):]; len(rest) > 0 {
				w.Write(rest)
			}
			break
		}
		if err != nil {
			http.Error(w, "Internal Server Error", http.StatusBadGateway)
			return
		}
		if len(head) > 1<<20 {
			http.Error(w, "prelude too long", http.StatusBadGateway)
			return
		}
	}
	rc := http.NewResponseController(w)
	rc.Flush()
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				panic(http.ErrAbortHandler)
			}
			rc.Flush()
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			panic(http.ErrAbortHandler)
		}
	}
}

// relayEvents writes a response as InvokeWithResponseStream does: each
// read of the runtime's body as a PayloadChunk event, flushed, then an
// InvokeComplete; a body cut off ends with an InvokeComplete that says so.
func relayEvents(w http.ResponseWriter, body io.Reader) {
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := eventstream.NewEncoder()
	send := func(typ string, payload []byte) error {
		return enc.Encode(w, eventstream.Message{Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue(typ)},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
			{Name: ":content-type", Value: eventstream.StringValue("application/octet-stream")},
		}, Payload: payload})
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if send("PayloadChunk", buf[:n]) != nil {
				return
			}
			rc.Flush()
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			send("InvokeComplete", []byte(`{"ErrorCode":"Unhandled"}`))
			return
		}
	}
	send("InvokeComplete", []byte("{}"))
	rc.Flush()
}

// next answers a runtime's GET /next with the next invocation.
func (r *Relay) next(w http.ResponseWriter, req *http.Request) {
	select {
	case inv := <-r.pending:
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:relay")
		h.Set("Lambda-Runtime-Trace-Id", inv.trace)
		h.Set("Content-Type", "application/json")
		w.Write(inv.payload)
	case <-req.Context().Done():
	}
}

// hand gives the invocation id a streaming body, under the lock that
// ServeHTTP's cleanup takes, so that a body is never left unread.
func (r *Relay) hand(id string, body io.ReadCloser) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	inv := r.running[id]
	if inv == nil || inv.stream == nil {
		return false
	}
	inv.stream <- body
	return true
}

func (r *Relay) lookup(id string) *invocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[id]
}

// response takes a runtime's result: buffered, or a stream whose body the
// client's handler copies while this handler waits for it to finish.
func (r *Relay) response(w http.ResponseWriter, req *http.Request) {
	inv := r.lookup(req.PathValue("id"))
	if inv == nil {
		http.Error(w, "unknown request id", http.StatusBadRequest)
		return
	}
	if inv.stream != nil {
		body := &doneReader{req: req, done: make(chan struct{})}
		if !r.hand(inv.id, body) {
			http.Error(w, "unknown request id", http.StatusBadRequest)
			return
		}
		select {
		case <-body.done:
		case <-req.Context().Done():
		}
		w.WriteHeader(http.StatusAccepted)
		return
	}
	raw, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	inv.done <- result{body: raw}
	w.WriteHeader(http.StatusAccepted)
}

// fail takes a runtime's function error.
func (r *Relay) fail(w http.ResponseWriter, req *http.Request) {
	inv := r.lookup(req.PathValue("id"))
	if inv == nil {
		http.Error(w, "unknown request id", http.StatusBadRequest)
		return
	}
	raw, _ := io.ReadAll(req.Body)
	if inv.stream != nil {
		r.hand(inv.id, io.NopCloser(errReader{}))
	} else {
		inv.done <- result{body: raw, error: true}
	}
	w.WriteHeader(http.StatusAccepted)
}

// doneReader is a streaming response's body; Close tells the Runtime API
// handler that the client's handler is done with it. A function error the
// runtime reports in the trailers after the body is an error at its end.
type doneReader struct {
	req  *http.Request
	once sync.Once
	done chan struct{}
}

func (d *doneReader) Read(p []byte) (int, error) {
	n, err := d.req.Body.Read(p)
	if errors.Is(err, io.EOF) && d.req.Trailer.Get("Lambda-Runtime-Function-Error-Type") != "" {
		return n, errors.New("function error after the first byte: " + d.req.Trailer.Get("Lambda-Runtime-Function-Error-Type"))
	}
	return n, err
}

func (d *doneReader) Close() error {
	d.once.Do(func() { close(d.done) })
	return nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("function error") }
