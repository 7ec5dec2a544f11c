package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/urlconfig"
)

// invoker runs invocations; runtimeapi.Manager is the one furl uses.
type invoker interface {
	Invoke(ctx context.Context, inv *runtimeapi.Invocation) (*runtimeapi.Result, error)
	// Retire ends a function's environments after its code or
	// configuration changed.
	Retire(functionName string)
}

var _ invoker = (*runtimeapi.Manager)(nil)

// Invoke's limits.
const (
	// maxInvokePayload is the largest synchronous request payload.
	maxInvokePayload = 6291456
	// maxEventPayload is the largest asynchronous payload: 1 MB since
	// AWS raised it from 256 KB in 2025.
	maxEventPayload = 1 << 20
	// maxClientContext is the largest X-Amz-Client-Context, in bytes.
	maxClientContext = 3583
	// tailBytes is how much log X-Amz-Log-Result carries.
	tailBytes = 4096
)

// invoke is the Invoke operation: RequestResponse runs the function and
// answers its result, Event queues it and answers 202, DryRun only checks.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request) {
	if err := s.serveInvoke(w, r); err != nil {
		writeError(w, loggerFrom(r.Context()).With("op", "Invoke"), err)
	}
}

func (s *Server) serveInvoke(w http.ResponseWriter, r *http.Request) error {
	req, err := s.readInvoke(r, invokeTypes)
	if err != nil {
		return err
	}
	if req.invocationType == "DryRun" {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if req.invocationType == "Event" {
		return s.queueEvent(w, r, req)
	}
	inv := req.invocation(s, r)
	iv, err := s.start(r.Context(), req.ver, inv, true)
	if err != nil {
		return startError(req.ver, err)
	}
	defer iv.end()
	body, fe, err := iv.read()
	if err != nil {
		return fmt.Errorf("read the response of %s: %w", req.ver.FunctionName, err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amz-Executed-Version", iv.ExecutedVersion)
	h.Set("X-Amzn-Trace-Id", inv.TraceID)
	if fe != nil {
		h.Set("X-Amz-Function-Error", "Unhandled")
		body = fe.Payload
	}
	if req.logType == "Tail" {
		h.Set("X-Amz-Log-Result", iv.tail())
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return nil
}

// The invocation types each invoke operation accepts, in the order AWS's
// validation message lists them.
var (
	invokeTypes       = []string{"Event", "RequestResponse", "DryRun"}
	streamInvokeTypes = []string{"RequestResponse", "DryRun"}
)

// invokeRequest is what Invoke and InvokeWithResponseStream read from a
// request before running anything.
type invokeRequest struct {
	invocationType string
	logType        string
	clientContext  string
	payload        []byte
	ver            *urlconfig.Version
}

// readInvoke checks an invoke request's headers and payload and resolves
// the function version it names. Every failure is an API error, answered
// before anything runs.
func (s *Server) readInvoke(r *http.Request, types []string) (*invokeRequest, error) {
	req := &invokeRequest{invocationType: r.Header.Get("X-Amz-Invocation-Type"), logType: r.Header.Get("X-Amz-Log-Type")}
	if req.invocationType == "" {
		req.invocationType = "RequestResponse"
	}
	if req.logType == "" {
		req.logType = "None"
	}
	var v []string
	if !slices.Contains(types, req.invocationType) {
		v = append(v, fmt.Sprintf("Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [%s]", req.invocationType, strings.Join(types, ", ")))
	}
	if req.logType != "None" && req.logType != "Tail" {
		v = append(v, fmt.Sprintf("Value '%s' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]", req.logType))
	}
	if len(v) > 0 {
		return nil, newError(urlconfig.ErrValidation, fmt.Sprintf("%d validation error%s detected: %s", len(v), plural(len(v)), strings.Join(v, "; ")))
	}
	var err error
	if req.clientContext, err = decodeClientContext(r.Header.Get("X-Amz-Client-Context")); err != nil {
		return nil, err
	}
	payload, err := readPayload(r.Body, r.ContentLength, req.invocationType == "Event")
	if err != nil {
		return nil, err
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	if !json.Valid(payload) {
		var probe any
		err := json.Unmarshal(payload, &probe)
		return nil, newError(urlconfig.ErrInvalidRequest, "Could not parse request body into json: Could not parse payload into json: "+describeJSONError(err))
	}
	req.payload = payload
	if req.ver, err = s.store.ResolveVersion(r.Context(), r.PathValue("FunctionName"), query(r, "Qualifier")); err != nil {
		return nil, err
	}
	return req, nil
}

// invocation is the request as runtimeapi runs it.
func (req *invokeRequest) invocation(s *Server, r *http.Request) *runtimeapi.Invocation {
	return &runtimeapi.Invocation{
		Function:      s.function(req.ver),
		InvokedARN:    req.ver.InvokedARN,
		RequestID:     requestIDFrom(r.Context()),
		Payload:       req.payload,
		ClientContext: req.clientContext,
		TraceID:       traceID(r.Header.Get("X-Amzn-Trace-Id")),
	}
}

// readPayload reads an invoke request's payload within its limit: 6 MB,
// or 1 MB for an Event. An Event's payload is held in memory only up to
// its limit; the rest of a larger one is counted, for AWS's message, and
// dropped.
func readPayload(body io.Reader, declared int64, event bool) ([]byte, error) {
	limit := maxInvokePayload
	if event {
		limit = maxEventPayload
	}
	payload, err := readBody(body, declared, int64(limit))
	if err != nil {
		return nil, newError(urlconfig.ErrInvalidRequest, "Could not read the request body: "+err.Error())
	}
	size := int64(len(payload))
	if event && size > maxEventPayload {
		rest, err := io.Copy(io.Discard, io.LimitReader(body, maxInvokePayload+1-size))
		if err != nil {
			return nil, newError(urlconfig.ErrInvalidRequest, "Could not read the request body: "+err.Error())
		}
		if size += rest; size <= maxInvokePayload {
			return nil, newError(urlconfig.ErrRequestTooLarge, fmt.Sprintf("%d byte payload is too large for the Event invocation type (limit %d bytes)", size, maxEventPayload))
		}
	}
	if size > maxInvokePayload {
		return nil, newError(urlconfig.ErrRequestTooLarge, fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", maxInvokePayload))
	}
	return payload, nil
}

// queueEvent acknowledges an Event invocation once it is durably queued.
// A full queue is answered like a throttle, 429 TooManyRequestsException:
// it is AWS's answer when Lambda will not take an invocation now but may
// later, and the AWS SDKs retry it with backoff.
func (s *Server) queueEvent(w http.ResponseWriter, r *http.Request, req *invokeRequest) error {
	ev := &urlconfig.QueuedEvent{
		ID:           requestIDFrom(r.Context()),
		FunctionName: req.ver.FunctionName,
		Qualifier:    qualifierOf(s, req.ver),
		TraceID:      traceID(r.Header.Get("X-Amzn-Trace-Id")),
		Enqueued:     time.Now(),
	}
	err := s.events.add(ev, req.payload)
	var full *urlconfig.QueueFullError
	if errors.As(err, &full) {
		loggerFrom(r.Context()).Warn("asynchronous invocation refused (429): the queue is full", "function", ev.FunctionName, "why", full.Error())
		return newError(errTooManyRequests, fmt.Sprintf("furl's asynchronous invocation queue is full: it holds %d events (at most %d, --event-queue-max-events) and %d bytes of payloads (at most %d, --event-queue-max-bytes). Try again later.",
			full.Events, full.MaxEvents, full.Bytes, full.MaxBytes))
	}
	if err != nil {
		return fmt.Errorf("queue an asynchronous invocation of %s: %w", ev.FunctionName, err)
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// function turns a resolved version into what an environment runs.
func (s *Server) function(v *urlconfig.Version) runtimeapi.Function {
	a := s.store.Account()
	c := v.Config
	fn := runtimeapi.Function{
		Name:         v.FunctionName,
		Version:      v.Version,
		Region:       a.Region,
		AccountID:    a.ID,
		PackageType:  c.PackageType,
		MemoryMB:     c.MemorySize,
		Timeout:      time.Duration(c.Timeout) * time.Second,
		Architecture: "x86_64",
		Fingerprint:  v.Fingerprint,
	}
	if c.PackageType == "Image" {
		// The image is the code: no runtime, handler or zip. The sandbox
		// resolves the ImageUri itself; the digest pinned at create or
		// update is part of the fingerprint.
		fn.Image = runtimeapi.Image{URI: v.ImageURI}
		if ic := c.ImageConfigResponse; ic != nil && ic.ImageConfig != nil {
			fn.Image.EntryPoint = slices.Clone(ic.ImageConfig.EntryPoint)
			fn.Image.Command = slices.Clone(ic.ImageConfig.Command)
			fn.Image.WorkingDirectory = ic.ImageConfig.WorkingDirectory
		}
	} else {
		fn.Runtime, fn.Handler = c.Runtime, c.Handler
		fn.CodeHash, fn.CodePath, fn.CodeDir = v.CodeHash, v.CodePath, v.CodeDir
		for _, l := range v.Layers {
			fn.Layers = append(fn.Layers, runtimeapi.Layer{ARN: l.ARN, CodeHash: l.CodeHash, CodePath: l.CodePath})
		}
		if c.RuntimeVersionConfig != nil {
			fn.RuntimeVersionARN = c.RuntimeVersionConfig.RuntimeVersionArn
		}
	}
	if c.EphemeralStorage != nil && c.EphemeralStorage.Size != nil {
		fn.EphemeralStorageMB = *c.EphemeralStorage.Size
	}
	if c.Environment != nil {
		fn.Environment = c.Environment.Variables
	}
	if len(c.Architectures) == 1 {
		fn.Architecture = c.Architectures[0]
	}
	if c.LoggingConfig != nil {
		fn.LogGroup = c.LoggingConfig.LogGroup
	}
	return fn
}

// decodeClientContext checks and decodes X-Amz-Client-Context: base64 of a
// JSON object, at most 3583 bytes encoded.
func decodeClientContext(h string) (string, error) {
	if h == "" {
		return "", nil
	}
	bad := newError(urlconfig.ErrInvalidRequest, "Client context must be a valid Base64-encoded JSON object.")
	if len(h) > maxClientContext {
		return "", newError(urlconfig.ErrInvalidRequest, fmt.Sprintf("Client context must be at most %d bytes, Base64-encoded.", maxClientContext))
	}
	raw, err := base64.StdEncoding.DecodeString(h)
	if err != nil {
		return "", bad
	}
	var obj map[string]any
	if json.Unmarshal(raw, &obj) != nil {
		return "", bad
	}
	return string(raw), nil
}

// traceID makes the X-Ray trace header of an invocation, continuing the
// caller's trace when it sent one.
func traceID(incoming string) string {
	root := ""
	for _, part := range strings.Split(incoming, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "Root="); ok {
			root = v
		}
	}
	if root == "" {
		root = newTraceRoot()
	}
	var parent [8]byte
	rand.Read(parent[:])
	b := make([]byte, 0, len("Root=")+len(root)+len(";Parent=")+16+len(";Sampled=0"))
	b = append(b, "Root="...)
	b = append(b, root...)
	b = append(b, ";Parent="...)
	b = hex.AppendEncode(b, parent[:])
	b = append(b, ";Sampled=0"...)
	return string(b)
}

// newTraceRoot is a new X-Ray trace root: "1-", the time in seconds as 8
// hex digits, "-", then 96 random bits.
func newTraceRoot() string {
	var r [12]byte
	rand.Read(r[:])
	b := make([]byte, 0, 2+8+1+24)
	b = append(b, "1-"...)
	secs := strconv.AppendUint(nil, uint64(time.Now().Unix()), 16)
	for range 8 - len(secs) {
		b = append(b, '0')
	}
	b = append(b, secs...)
	b = append(b, '-')
	b = hex.AppendEncode(b, r[:])
	return string(b)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
