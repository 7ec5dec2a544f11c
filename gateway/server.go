// Package gateway is furl's HTTP edge: it routes requests to the Lambda
// API and to function URLs, gives every answer a request id, and reports
// failures in AWS's error shapes.
package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/furl-dev/furl/authz"
	"github.com/furl-dev/furl/gateway/dashboard"
	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/urlconfig"
)

// Config configures a Server.
type Config struct {
	// Store is the account state. Required.
	Store *urlconfig.Store
	// Logger receives request logs. Nil means slog.Default().
	Logger *slog.Logger
	// Version is furl's version, reported by the health endpoint.
	Version string
	// Invoker runs functions. Nil leaves Invoke and function URLs
	// unsupported.
	Invoker invoker
	// URLPermissions is the permission model of NONE function URLs:
	// PermissionsAWS (the default when empty), PermissionsLegacy or
	// PermissionsOpen.
	URLPermissions string
	// APIEndpoint is furl's Lambda API address as clients reach it, for
	// the commands furl suggests in its logs. Empty means
	// http://127.0.0.1:4580.
	APIEndpoint string
	// StreamBandwidth is StreamUnshaped (the default when empty) or
	// StreamAWS, which holds streamed responses to AWS's bandwidth.
	StreamBandwidth string
	// Identities are the callers whose SigV4 signatures furl accepts. Nil
	// means only the account's root, test/test.
	Identities *authz.Identities
	// VerifyAPISignatures makes the Lambda API, too, refuse requests that
	// are not signed by a known identity, and authorizes every operation
	// with the caller's policies and the function's resource policy.
	VerifyAPISignatures bool
	// MaxConcurrentUploads bounds how many code uploads (CreateFunction
	// and UpdateFunctionCode requests over 1 MiB or of unknown length)
	// are read at once; the others wait their turn for as long as their
	// request lives. Zero means DefaultMaxConcurrentUploads.
	MaxConcurrentUploads int
	// SpoolDir is where a signed API request's body larger than 64 KiB is
	// kept while it is checked and read (an unlinked file, gone when the
	// request ends). Empty means os.TempDir().
	SpoolDir string
	// Events configures how queued Event invocations run (with an
	// Invoker); its zero value is AWS's timing with 10 workers.
	Events EventDispatch
	// AllowedHosts are the names, besides loopback addresses and
	// localhost, by which clients may reach the Lambda API and the path
	// form of function URLs, and which may follow
	// <url-id>.lambda-url.<region>. in a URL host: furl's listen host and
	// those the user allows. Nil means only loopback addresses and
	// localhost.
	AllowedHosts []string
	// Dashboard serves every request whose Host is furl.localhost (the
	// dashboard's own origin, see package dashboard), before anything
	// else; GET / and /_furl/ from a browser's navigation on furl's other
	// names are redirected to it. Nil leaves furl.localhost refused as a
	// foreign Host, and / answered as today.
	Dashboard http.Handler
	// Observe hears every function URL request once it is answered (an
	// Event of kind runtimeapi.EventURL). It must return at once. Nil
	// hears nothing.
	Observe func(runtimeapi.Event)
	// Feed is what furl's functions have been doing, for GET
	// /_furl/events (`furl logs`). Nil leaves that endpoint empty.
	Feed eventFeed
	// Metrics serves GET /_furl/metrics, unsigned as the health check is
	// (a Prometheus scraper cannot sign), closed to web pages as the
	// Lambda API is. Nil leaves it 404.
	Metrics http.Handler
	// RuntimeAdvice says why furl's sandbox would not run a function of
	// this runtime and package type as named, and what would; "" when it
	// would. CreateFunction and UpdateFunctionConfiguration log a warning
	// with it; the API's answer does not change, as AWS's would not. Nil
	// checks nothing.
	RuntimeAdvice func(runtime, packageType string) string
}

// The choices of Config.StreamBandwidth.
const (
	StreamUnshaped = "unshaped"
	StreamAWS      = "aws"
)

// Server serves the Lambda API and furl's own endpoints.
type Server struct {
	store   *urlconfig.Store
	log     *slog.Logger
	version string
	mux     *http.ServeMux
	started time.Time
	invoker invoker
	advice  func(runtime, packageType string) string

	urlPermissions string
	apiEndpoint    string
	streamShaping  bool
	verifier       *authz.Verifier
	verifyAPI      bool
	spoolDir       string
	cors           corsCache
	// allowedURLs maps a url-id to the resolved target whose resource
	// policy was last found to let anyone invoke it (see authorizeURL).
	allowedURLs sync.Map
	uploads     chan struct{}        // a slot per code upload being read
	bodyLimits  map[string]bodyLimit // by route pattern

	// codeKey signs the code locations GetFunction hands out under
	// --verify-api-signatures; it lives as long as the server.
	codeKey [32]byte
	events  *Dispatcher
	hosts   hostNames

	dashboard http.Handler

	// cut is done once furl shuts down: streams end at once instead of
	// holding the shutdown for as long as their functions run.
	cut        context.Context
	cutStreams context.CancelFunc

	observe func(runtimeapi.Event)
	feed    eventFeed
	metrics http.Handler
}

// New builds a Server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.URLPermissions == "" {
		cfg.URLPermissions = PermissionsAWS
	}
	if cfg.APIEndpoint == "" {
		cfg.APIEndpoint = "http://127.0.0.1:4580"
	}
	if cfg.MaxConcurrentUploads <= 0 {
		cfg.MaxConcurrentUploads = DefaultMaxConcurrentUploads
	}
	s := &Server{advice: cfg.RuntimeAdvice, store: cfg.Store, log: cfg.Logger, version: cfg.Version, mux: http.NewServeMux(), started: time.Now(),
		invoker: cfg.Invoker, urlPermissions: cfg.URLPermissions, apiEndpoint: cfg.APIEndpoint,
		streamShaping: cfg.StreamBandwidth == StreamAWS, verifyAPI: cfg.VerifyAPISignatures, spoolDir: cfg.SpoolDir,
		uploads: make(chan struct{}, cfg.MaxConcurrentUploads), hosts: newHostNames(cfg.AllowedHosts),
		observe: cfg.Observe, feed: cfg.Feed, metrics: cfg.Metrics,
		dashboard: cfg.Dashboard}
	if cfg.Identities == nil {
		cfg.Identities = authz.NewIdentities(cfg.Store.Account().ID)
	}
	s.cut, s.cutStreams = context.WithCancel(context.Background())
	s.verifier = &authz.Verifier{Identities: cfg.Identities}
	rand.Read(s.codeKey[:])
	if s.invoker != nil {
		s.events = newDispatcher(s, cfg.Store.Events(), cfg.Events)
	}
	s.routes()
	return s
}

// CutStreams ends every streamed response now and any that starts later,
// as a cut (HTTP/1.1 without its last chunk, HTTP/2 reset): for a
// shutdown, which then waits only for buffered calls. The functions are
// not stopped here; closing their environments does that.
func (s *Server) CutStreams() { s.cutStreams() }

// shutdown is done once CutStreams was called; never for a Server not
// made by New (as tests make them).
func (s *Server) shutdown() context.Context {
	if s.cut == nil {
		return context.Background()
	}
	return s.cut
}

// Dispatcher is the runner of queued Event invocations, nil without an
// Invoker. Its owner starts it and shuts it down.
func (s *Server) Dispatcher() *Dispatcher { return s.events }

func (s *Server) routes() {
	patterns := map[string]bool{}
	s.bodyLimits = map[string]bodyLimit{}
	for _, op := range s.operations() {
		s.mux.Handle(op.method+" "+op.path, s.serveAPI(op))
		patterns[op.method+" "+op.path] = true
		s.bodyLimits[op.method+" "+op.path] = bodyLimit{op.name, op.limit}
	}
	if s.invoker != nil {
		s.mux.HandleFunc("POST /2015-03-31/functions/{FunctionName}/invocations", s.authorized("Invoke", s.invoke))
		patterns["POST /2015-03-31/functions/{FunctionName}/invocations"] = true
		s.bodyLimits["POST /2015-03-31/functions/{FunctionName}/invocations"] = bodyLimit{"InvokeFunction", maxInvokePayload}
		s.mux.HandleFunc("POST /2021-11-15/functions/{FunctionName}/response-streaming-invocations", s.authorized("InvokeWithResponseStream", s.invokeWithResponseStream))
		patterns["POST /2021-11-15/functions/{FunctionName}/response-streaming-invocations"] = true
		s.bodyLimits["POST /2021-11-15/functions/{FunctionName}/response-streaming-invocations"] = bodyLimit{"InvokeWithResponseStream", maxInvokePayload}
	}
	for _, op := range unsupportedOperations {
		path, _, _ := strings.Cut(op.path, "?")
		pattern := op.method + " " + path
		if patterns[pattern] {
			continue // a query-selected variant of a pattern already routed
		}
		patterns[pattern] = true
		s.mux.Handle(pattern, s.notImplemented(path, op.method))
	}
	s.mux.HandleFunc("GET /_furl/health", s.health)
	s.mux.HandleFunc("GET /_furl/code/{file}", s.code)
	s.mux.HandleFunc("GET /_furl/environments", s.authorized("ListFunctions", s.environments))
	if s.metrics != nil {
		s.mux.Handle("GET /_furl/metrics", s.metrics)
	}
	s.mux.HandleFunc("GET /_furl/events", s.authorized("GetEveryFunctionsEvents", s.feedEvents))
	s.mux.HandleFunc("GET /_furl/events/{FunctionName}", s.authorized("GetFunction", s.feedEvents))
	s.mux.HandleFunc("/", s.unknownOperation)
}

// ServeHTTP gives the request an id, logs it, and routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.dashboard != nil && dashboard.IsHost(r.Host) {
		s.dashboard.ServeHTTP(w, r)
		return
	}
	id := uuid.NewString()
	setRaw(w.Header(), "x-amzn-RequestId", id)
	ctx := context.WithValue(r.Context(), requestKey{}, &requestInfo{id: id, log: s.log})
	rec := &statusRecorder{ResponseWriter: w}
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			loggerFrom(ctx).Error("handler panicked", "panic", p)
			if rec.status == 0 {
				writeError(rec, loggerFrom(ctx), fmt.Errorf("panic: %v", p))
			}
		}
		if s.log.Enabled(ctx, slog.LevelDebug) {
			attrs := []any{"method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start)}
			if why := cutReason(ctx); why != "" {
				attrs = append(attrs, "cut", why)
			}
			loggerFrom(ctx).Debug("request", attrs...)
		}
	}()
	r = r.WithContext(ctx)
	if s.log.Enabled(ctx, slog.LevelDebug) {
		// With its end logged below, this says which requests were under
		// way when something happened (a shutdown, a crash).
		loggerFrom(ctx).Debug("request started", "method", r.Method, "path", r.URL.Path)
	}
	if id, rawPath, ok := s.urlFor(r); ok && s.invoker != nil {
		s.serveURL(rec, r, id, rawPath)
		return
	}
	if s.toDashboard(rec, r) {
		return
	}
	// Health is read-only and says nothing secret: it stays open, for
	// probes. Everything else is the Lambda API and its code downloads.
	if r.URL.Path != "/_furl/health" {
		if why := s.browserRefusal(r); why != nil {
			s.refuseBrowser(rec, r, why)
			return
		}
	}
	// Health is open and a code location carries its own signature; the
	// rest of furl's own paths are signed as the Lambda API is.
	unsigned := strings.TrimSuffix(r.URL.Path, "/") == "/_furl/health" || strings.HasPrefix(r.URL.Path, "/_furl/code/") ||
		strings.TrimSuffix(r.URL.Path, "/") == "/_furl/metrics"
	if s.verifyAPI && !unsigned && !s.verifyAPIRequest(rec, r) {
		return
	}
	trimTrailingSlash(r)
	s.mux.ServeHTTP(rec, r)
}

// bodyLimit is the largest body an operation takes, and its name for the
// error past it.
type bodyLimit struct {
	op    string
	bytes int64
}

// signedBodyLimit is how much of a signed request's body furl reads to
// check its signature: what its operation takes, or, for a request no
// operation would read a body of, what stays in memory.
func (s *Server) signedBodyLimit(r *http.Request) bodyLimit {
	_, pattern := s.mux.Handler(r)
	if l, ok := s.bodyLimits[pattern]; ok && l.bytes > 0 {
		return l
	}
	return bodyLimit{"this", spoolThreshold}
}

// spoolThreshold is the largest signed body furl keeps in memory while it
// hashes it; a larger one goes to a file the operation then reads.
const spoolThreshold = 64 << 10

// verifyAPIRequest checks a Lambda API request's SigV4 signature
// (--verify-api-signatures) and keeps the caller for authorization. The
// body is hashed as it is read and given back to the operation. A refusal
// is answered and logged.
func (s *Server) verifyAPIRequest(w http.ResponseWriter, r *http.Request) bool {
	log := loggerFrom(r.Context())
	region := s.store.Account().Region
	// Who signed is known before the body: an unknown caller costs no read.
	if serr := s.verifier.Check(r, region, "lambda"); serr != nil {
		log.Warn("Lambda API request refused: its signature is not accepted", "method", r.Method, "path", r.URL.Path, "error_type", serr.Code, "why", serr.Reason)
		writeSigError(w, serr, false)
		return false
	}
	body, hash, err := s.spoolBody(r, s.signedBodyLimit(r))
	if err != nil {
		writeError(w, log, err)
		return false
	}
	r.Body = body
	id, serr := s.verifier.Verify(r.Context(), r, hash, region, "lambda")
	if serr != nil {
		log.Warn("Lambda API request refused: its signature is not accepted", "method", r.Method, "path", r.URL.Path, "error_type", serr.Code, "why", serr.Reason)
		writeSigError(w, serr, false)
		return false
	}
	if ri, ok := r.Context().Value(requestKey{}).(*requestInfo); ok {
		ri.caller = id
	}
	return true
}

// spoolBody reads a request's body whole, up to its operation's limit,
// hashing it as it goes, and returns a body that reads it again and its
// hex SHA-256. Up to spoolThreshold stays in memory; the rest goes to an
// unlinked temporary file in the spool directory, closed (and so freed)
// when the request ends. A body that may go to disk first waits for an
// upload slot, which it holds until the request ends: spooled bodies are
// bounded as uploads are, signed or not.
func (s *Server) spoolBody(r *http.Request, limit bodyLimit) (io.ReadCloser, string, error) {
	if r.ContentLength < 0 || r.ContentLength > spoolThreshold {
		release, err := s.uploadSlot(r.Context())
		if err != nil {
			return nil, "", newError(urlconfig.ErrInvalidRequest, "Could not read the request body: "+err.Error())
		}
		context.AfterFunc(r.Context(), release)
		if ri, ok := r.Context().Value(requestKey{}).(*requestInfo); ok {
			ri.holdsUploadSlot = true
		}
	}
	tooLarge := newError(urlconfig.ErrRequestTooLarge, fmt.Sprintf("Request must be smaller than %d bytes for the %s operation", limit.bytes, limit.op))
	if r.ContentLength > limit.bytes {
		return nil, "", tooLarge
	}
	h := sha256.New()
	src := io.TeeReader(io.LimitReader(r.Body, limit.bytes+1), h)
	head, err := io.ReadAll(io.LimitReader(src, spoolThreshold+1))
	if err != nil {
		return nil, "", newError(urlconfig.ErrInvalidRequest, "Could not read the request body: "+err.Error())
	}
	if int64(len(head)) > limit.bytes {
		return nil, "", tooLarge
	}
	if len(head) <= spoolThreshold {
		return io.NopCloser(bytes.NewReader(head)), hex.EncodeToString(h.Sum(nil)), nil
	}
	f, err := os.CreateTemp(s.spoolDir, "furl-body-")
	if err != nil {
		return nil, "", fmt.Errorf("spool a request body: %w", err)
	}
	// Unlinked at once, the file needs no cleanup after a crash; the
	// descriptor keeps it until the request's end closes it.
	os.Remove(f.Name())
	context.AfterFunc(r.Context(), func() { f.Close() })
	rest := &readRecorder{r: src}
	n, err := f.Write(head)
	if err == nil {
		var m int64
		m, err = io.Copy(f, rest)
		n += int(m)
	}
	switch {
	case rest.err != nil:
		return nil, "", newError(urlconfig.ErrInvalidRequest, "Could not read the request body: "+rest.err.Error())
	case err != nil:
		return nil, "", fmt.Errorf("spool a request body: %w", err)
	case int64(n) > limit.bytes:
		return nil, "", tooLarge
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, "", fmt.Errorf("spool a request body: %w", err)
	}
	return io.NopCloser(f), hex.EncodeToString(h.Sum(nil)), nil
}

// readRecorder keeps the error of the reader it wraps, to tell a client
// that failed to send from a disk that failed to keep.
type readRecorder struct {
	r   io.Reader
	err error
}

func (rr *readRecorder) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	if err != nil && err != io.EOF {
		rr.err = err
	}
	return n, err
}

// trimTrailingSlash drops a path's final slash: older AWS SDK models spell
// some paths with one (/2016-08-19/account-settings/), newer ones without,
// and both must reach the same operation.
func trimTrailingSlash(r *http.Request) {
	if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
		r.URL.Path = strings.TrimSuffix(p, "/")
		r.URL.RawPath = strings.TrimSuffix(r.URL.RawPath, "/")
	}
}

// statusRecorder remembers the status written, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	// written counts the body bytes written through the recorder.
	written int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.written += int64(n)
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// requestInfo is what a request carries through the gateway: its id and
// the logger to which its logs go, with the id attached when used.
type requestInfo struct {
	id  string
	log *slog.Logger
	// withID is log with the request id, made once by logger: a With
	// formats its attributes, and a request asks for its logger often.
	withID     *slog.Logger
	withIDOnce sync.Once
	// caller is who signed an API request, once its signature is
	// verified (--verify-api-signatures); nil otherwise.
	caller *authz.Identity
	// holdsUploadSlot says the request took an upload slot to spool its
	// body, which serves for its upload too.
	holdsUploadSlot bool
	// cut says why furl cut the response after its head was sent, for
	// the request's log line, whose status cannot say so; "" when it did
	// not.
	cut string
}

// markCut notes that furl cut the request's response, and why.
func markCut(ctx context.Context, why string) {
	if ri, ok := ctx.Value(requestKey{}).(*requestInfo); ok {
		ri.cut = why
	}
}

// cutReason is why furl cut the request's response, or "".
func cutReason(ctx context.Context) string {
	if ri, ok := ctx.Value(requestKey{}).(*requestInfo); ok {
		return ri.cut
	}
	return ""
}

type requestKey struct{}

// requestIDFrom is the request's id, which an invocation takes as its
// Lambda request id.
func requestIDFrom(ctx context.Context) string {
	if ri, ok := ctx.Value(requestKey{}).(*requestInfo); ok {
		return ri.id
	}
	return ""
}

// loggerFrom returns the request's logger, or the default one.
func loggerFrom(ctx context.Context) *slog.Logger {
	if ctx != nil {
		if ri, ok := ctx.Value(requestKey{}).(*requestInfo); ok {
			return ri.logger()
		}
	}
	return slog.Default()
}

// logger is the request's logger: log with the request id.
func (ri *requestInfo) logger() *slog.Logger {
	ri.withIDOnce.Do(func() { ri.withID = ri.log.With("request_id", ri.id) })
	return ri.withID
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	a := s.store.Account()
	writeJSON(w, http.StatusOK, map[string]any{
		"status":    "ok",
		"version":   s.version,
		"region":    a.Region,
		"accountId": a.ID,
		"uptimeMs":  time.Since(s.started).Milliseconds(),
	})
}

var codeFile = regexp.MustCompile(`^([0-9a-f]{64})\.zip$`)

// codeURLLifetime is how long a code location stays valid under
// --verify-api-signatures: AWS's presigned Code.Location lasts 10 minutes.
const codeURLLifetime = 10 * time.Minute

// code serves a deployment package: GetFunction's Code.Location points
// here. Under --verify-api-signatures the location is presigned, as AWS's
// is: it carries an expiry and furl's signature over the archive and the
// expiry, so only a caller that lambda:GetFunction allowed (and whoever
// it hands the address to, until it expires) can fetch the code; the
// archive's SHA-256, which other operations disclose, is not enough.
func (s *Server) code(w http.ResponseWriter, r *http.Request) {
	m := codeFile.FindStringSubmatch(r.PathValue("file"))
	if m == nil {
		writeError(w, loggerFrom(r.Context()), newError(urlconfig.ErrNotFound, "No such code archive."))
		return
	}
	if s.verifyAPI {
		if why := s.checkCodeSignature(r, m[1]); why != "" {
			loggerFrom(r.Context()).Warn("code archive request refused (403)", "why", why)
			msg := "The code location is not valid: " + why + ". Call GetFunction for a new one."
			writeError(w, loggerFrom(r.Context()), &awsError{Status: http.StatusForbidden, Type: urlconfig.ErrAccessDenied, Message: &msg, MessageKey: "Message"})
			return
		}
	}
	path, ok := s.store.CodePath(m[1])
	if !ok {
		writeError(w, loggerFrom(r.Context()), newError(urlconfig.ErrNotFound, "No such code archive."))
		return
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		// Deleted since the reference was checked.
		writeError(w, loggerFrom(r.Context()), newError(urlconfig.ErrNotFound, "No such code archive."))
		return
	}
	if err != nil {
		writeError(w, loggerFrom(r.Context()), fmt.Errorf("open code archive: %w", err))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeError(w, loggerFrom(r.Context()), fmt.Errorf("stat code archive: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	http.ServeContent(w, r, m[1]+".zip", fi.ModTime(), f)
}

// codeLocation is the address GetFunction gives for a version's code: on
// this server, as the caller reached it; presigned under
// --verify-api-signatures.
func (s *Server) codeLocation(r *http.Request, hexSum string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	loc := scheme + "://" + r.Host + "/_furl/code/" + hexSum + ".zip"
	if !s.verifyAPI {
		return loc
	}
	expires := strconv.FormatInt(time.Now().Add(codeURLLifetime).Unix(), 10)
	return loc + "?Expires=" + expires + "&Signature=" + s.codeSignature(hexSum, expires)
}

// codeSignature is furl's signature of a code location: an HMAC-SHA256
// of the archive's hash and the expiry.
func (s *Server) codeSignature(hexSum, expires string) string {
	mac := hmac.New(sha256.New, s.codeKey[:])
	io.WriteString(mac, hexSum+"\n"+expires)
	return hex.EncodeToString(mac.Sum(nil))
}

// checkCodeSignature says what is wrong with a presigned code location,
// or "" when nothing is.
func (s *Server) checkCodeSignature(r *http.Request, hexSum string) string {
	q := r.URL.Query()
	expires, sig := q.Get("Expires"), q.Get("Signature")
	if expires == "" || sig == "" {
		return "it is not signed"
	}
	if !hmac.Equal([]byte(sig), []byte(s.codeSignature(hexSum, expires))) {
		return "its signature does not match"
	}
	at, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || time.Now().Unix() > at {
		return "it has expired"
	}
	return ""
}

func (s *Server) notImplemented(path, method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := unsupportedName(method, path, r)
		writeError(w, loggerFrom(r.Context()), newError(errNotImplemented,
			fmt.Sprintf("furl does not support the Lambda operation %s yet.", name)))
	}
}

func (s *Server) unknownOperation(w http.ResponseWriter, r *http.Request) {
	writeError(w, loggerFrom(r.Context()), newError(errUnknownOperation,
		fmt.Sprintf("No Lambda API operation answers %s %s.", r.Method, r.URL.Path)))
}
