package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/furl-dev/furl/authz"
	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/urlconfig"
)

// maxURLEvent is the largest event a URL request may make (6 MB).
const maxURLEvent = 6291456

// urlHost matches a function URL host: <url-id>.lambda-url.<region>, then
// anything (.localhost, .on.aws); AWS also answers on cell hosts,
// <url-id>.cell-1-lambda-url.<region>.on.aws.
var urlHost = regexp.MustCompile(`^([a-z0-9]+)\.(?:[a-z0-9-]+-)?lambda-url\.([a-z0-9-]+)(?:\.|$)`)

// urlFor says whether a request is for a function URL: by its Host, or by
// the path form /lambda-url/<url-id>/<rest> for clients that cannot set a
// Host. It returns the url-id and the path the function sees, undecoded.
//
// Neither form answers on a name a web page could rebind to furl's address
// (a rebound page reads what it fetches from its own origin): a URL host
// must end in .localhost, .on.aws or an allowed name, and the path form
// needs a Host of furl's own. Other requests go on to the Lambda API, which
// refuses them.
func (s *Server) urlFor(r *http.Request) (id, rawPath string, ok bool) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	// The path as received, which is also the one a signature covers.
	raw := authz.RawPath(r)
	host = strings.ToLower(host)
	if m := urlHost.FindStringSubmatch(host); m != nil {
		if !s.hosts.urlHostSuffixOK(host[len(m[0]):]) {
			return "", "", false
		}
		return m[1], raw, true
	}
	if !s.hosts.own(r.Host) {
		return "", "", false
	}
	if rest, found := strings.CutPrefix(raw, "/lambda-url/"); found {
		id, tail, _ := strings.Cut(rest, "/")
		return id, "/" + tail, true
	}
	return "", "", false
}

// urlRegionOK reports whether a URL host names furl's region.
func (s *Server) urlRegionOK(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	m := urlHost.FindStringSubmatch(strings.ToLower(host))
	return m == nil || m[2] == s.store.Account().Region
}

// forbidden is AWS's answer to a URL request that is not authorized.
const forbidden = `{"Message":"Forbidden. For troubleshooting Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}`

// writeURLError answers a URL request with one of Lambda's own errors.
func writeURLError(w http.ResponseWriter, status int, errType, body string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if errType != "" {
		setRaw(h, "x-amzn-ErrorType", errType)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// write502 is the answer to a function that failed or answered
// something a URL cannot send.
func write502(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", "21")
	w.WriteHeader(http.StatusBadGateway)
	io.WriteString(w, "Internal Server Error")
}

// serveURL answers a function URL request: it resolves the URL, checks
// the permission, builds the event, runs the function, and maps its result
// to the HTTP answer.
func (s *Server) serveURL(w http.ResponseWriter, r *http.Request, id, rawPath string) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	// The request's logger (which carries its id) is made only for a line
	// other than the access line below, which names the id itself.
	log := func() *slog.Logger { return loggerFrom(r.Context()) }
	// function and why say, when furl knows, whose URL this is and why it
	// answered as it did, so that a 403 is not a mystery.
	var function, why string
	var target *urlconfig.URLTarget
	defer func() {
		if s.observe != nil && target != nil {
			s.observe(runtimeapi.Event{Kind: runtimeapi.EventURL, Time: time.Now(), Function: target.FunctionName,
				Version: target.Qualifier, Status: strconv.Itoa(rec.status), Duration: time.Since(start), ResponseBytes: rec.written})
		}
		ctx := r.Context()
		if !s.log.Enabled(ctx, slog.LevelInfo) {
			return
		}
		attrs := make([]slog.Attr, 0, 10)
		attrs = append(attrs, slog.String("request_id", requestIDFrom(ctx)), slog.String("method", r.Method), slog.String("url_id", id),
			slog.String("host", r.Host), slog.String("path", rawPath), slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start).Round(time.Microsecond)))
		if function != "" {
			attrs = append(attrs, slog.String("function", function))
		}
		if why != "" {
			attrs = append(attrs, slog.String("why", why))
		}
		if cut := cutReason(ctx); cut != "" {
			attrs = append(attrs, slog.String("cut", cut))
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "url request", attrs...)
	}()
	w = rec

	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			log().Error("serving a function URL panicked", "panic", p)
			if rec.status == 0 {
				write502(w)
			}
		}
	}()
	t, err := s.store.ResolveURL(r.Context(), id)
	switch {
	case errors.Is(err, urlconfig.ErrURLOfDeletedAlias):
		// AWS answers so while it deletes the URL of a deleted alias.
		why = "the alias this URL belonged to was deleted"
		writeURLError(w, http.StatusForbidden, "AccessDeniedException", forbidden)
		return
	case err != nil || !s.urlRegionOK(r):
		if e, ok := urlconfig.AsError(err); err != nil && (!ok || e.Type != urlconfig.ErrNotFound) {
			log().Error("resolving a function URL failed", "url_id", id, "err", err)
			write502(w)
			return
		}
		if err != nil {
			why = "no function URL has this id: it was deleted, or made by a furl with another --data-dir; aws lambda list-function-url-configs --function-name NAME shows a function's URLs"
		} else {
			why = "the host names another region than furl's " + s.store.Account().Region
		}
		writeURLError(w, http.StatusForbidden, "AccessDeniedException", `{"Message":null}`)
		return
	}
	function, target = t.FunctionName, t
	if t.Qualifier != "" {
		function += ":" + t.Qualifier
	}
	if c := s.corsFor(t); c != nil {
		if isPreflight(r) {
			c.servePreflight(w, r, log())
			return
		}
		c.addHeaders(w, r)
	}
	// The event, not the body, has the limit; a larger body cannot fit.
	body, err := readBody(r.Body, r.ContentLength, maxURLEvent)
	if err != nil {
		log().Info("reading a URL request's body failed", "err", err)
		writeURLError(w, http.StatusBadRequest, "InvalidRequestContentException", `{"Message":"Could not read the request body."}`)
		return
	}
	var caller *urlIAM
	if t.AuthType == urlconfig.AuthTypeAWSIAM {
		sum := sha256.Sum256(body)
		id, serr := s.verifier.Verify(r.Context(), r, hex.EncodeToString(sum[:]), s.store.Account().Region, "lambda")
		if serr != nil {
			log().Warn("function URL request refused (403): its signature is not accepted", "function", t.FunctionName, "error_type", serr.Code, "why", serr.Reason)
			writeSigError(w, serr, true)
			return
		}
		if !s.authorizeIAM(r.Context(), t, id) {
			writeURLError(w, http.StatusForbidden, "AccessDeniedException", forbidden)
			return
		}
		caller = &urlIAM{AccessKey: id.AccessKeyID, AccountID: id.Account, CallerID: id.UserID, UserARN: id.ARN, UserID: id.UserID}
	} else if !s.authorizeURL(r.Context(), t) {
		writeURLError(w, http.StatusForbidden, "AccessDeniedException", forbidden)
		return
	}
	ev := &urlRequest{
		Method:    r.Method,
		RawPath:   rawPath,
		RawQuery:  r.URL.RawQuery,
		Header:    r.Header,
		Host:      r.Host,
		Body:      body,
		SourceIP:  sourceIP(r),
		Proto:     "http",
		Port:      localPort(r),
		URLID:     id,
		RequestID: requestIDFrom(r.Context()),
		TraceID:   urlTraceID(r.Header.Get("X-Amzn-Trace-Id")),
		Time:      start,
		IAM:       caller,
	}
	if r.TLS != nil {
		ev.Proto = "https"
		ev.TLSVersion, ev.TLSCipher = tlsNames(r)
	}
	event, err := buildURLEvent(ev)
	if err != nil {
		log().Error("building the URL event failed", "err", err)
		write502(w)
		return
	}
	if len(event) > maxURLEvent {
		writeURLError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException",
			fmt.Sprintf(`{"Message":"Request must be smaller than %d bytes for the InvokeFunction operation"}`, maxURLEvent))
		return
	}
	inv := &runtimeapi.Invocation{
		Function:   s.function(t.Version),
		InvokedARN: t.ARN,
		RequestID:  ev.RequestID,
		Payload:    event,
		TraceID:    traceID(ev.TraceID),
		Streaming:  t.InvokeMode == "RESPONSE_STREAM",
	}
	iv, err := s.start(r.Context(), t.Version, inv, true)
	var te *runtimeapi.ThrottleError
	if errors.As(err, &te) {
		writeURLError(w, http.StatusTooManyRequests, errTooManyRequests, `{"Message":"Rate Exceeded."}`)
		return
	}
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			log().Error("invoking a URL's function failed", "function", t.FunctionName, "err", err)
		}
		write502(w)
		return
	}
	defer iv.end()
	if inv.Streaming {
		s.serveStream(w, r, resultView{iv.Result}, log().With("function", t.FunctionName))
		return
	}
	result, fe, err := iv.read()
	if err != nil {
		write502(w)
		return
	}
	if fe != nil {
		log().Info("the function of a URL failed", "function", t.FunctionName, "error_type", fe.Type)
		write502(w)
		return
	}
	resp, err := urlResponseFrom(result)
	if err != nil {
		log().Info("a URL's function answered something a URL cannot send", "function", t.FunctionName, "err", err)
		write502(w)
		return
	}
	resp.write(w)
	// The answer goes out before its log line and metrics are made (in
	// the deferred function above): they are furl's bookkeeping, not the
	// client's wait. Only here: a stream furl cuts must not wait on a
	// client that does not read.
	http.NewResponseController(w).Flush()
}

// sourceIP is the TCP peer's address.
func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// localPort is the port the client connected to.
func localPort(r *http.Request) string {
	a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if t, isTCP := a.(*net.TCPAddr); isTCP {
		return strconv.Itoa(t.Port)
	}
	if ok {
		if _, port, err := net.SplitHostPort(a.String()); err == nil {
			return port
		}
	}
	return ""
}

// tlsNames names a TLS connection's version and cipher suite the way
// x-amzn-tls-version and x-amzn-tls-cipher-suite do: OpenSSL's names
// (TLSv1.3, ECDHE-RSA-AES128-GCM-SHA256), which for TLS 1.3's suites are
// the IANA names Go uses too.
func tlsNames(r *http.Request) (version, cipher string) {
	switch r.TLS.Version {
	case tls.VersionTLS13:
		version = "TLSv1.3"
	case tls.VersionTLS12:
		version = "TLSv1.2"
	default:
		version = tls.VersionName(r.TLS.Version)
	}
	if name, ok := opensslCiphers[r.TLS.CipherSuite]; ok {
		return version, name
	}
	return version, tls.CipherSuiteName(r.TLS.CipherSuite)
}

// opensslCiphers are OpenSSL's names of the TLS 1.2 suites Go can
// negotiate with forward secrecy.
var opensslCiphers = map[uint16]string{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       "ECDHE-ECDSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       "ECDHE-ECDSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-ECDSA-CHACHA20-POLY1305",
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         "ECDHE-RSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         "ECDHE-RSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   "ECDHE-RSA-CHACHA20-POLY1305",
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA:          "ECDHE-ECDSA-AES128-SHA",
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA:          "ECDHE-ECDSA-AES256-SHA",
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA:            "ECDHE-RSA-AES128-SHA",
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:            "ECDHE-RSA-AES256-SHA",
}

// urlTraceID is the x-amzn-trace-id Lambda adds: a new root, or the
// caller's trace with this hop as Self.
func urlTraceID(incoming string) string {
	root := newTraceRoot()
	if incoming == "" {
		return "Root=" + root
	}
	return "Self=" + root + ";" + incoming
}
