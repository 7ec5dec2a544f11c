package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/furl-dev/furl/urlconfig"
)

// MaxSendBody bounds the body of a request the send form sends.
const MaxSendBody = 1 << 20

// maxSendRequest bounds the send form's own JSON request: the body, as a
// JSON string, plus the rest.
const maxSendRequest = 6*MaxSendBody + 64<<10

// sendRequest is what the send form posts.
type sendRequest struct {
	Function  string            `json:"function"`
	Qualifier string            `json:"qualifier"`
	Method    string            `json:"method"`
	Path      string            `json:"path"`
	Headers   map[string]string `json:"headers"`
	Body      string            `json:"body"`
}

// sendHead is the first line of the send form's answer: the function
// URL's status and headers. The function's body follows it as it comes.
type sendHead struct {
	Status  int                 `json:"status"`
	Headers map[string][]string `json:"headers"`
}

// credentialHeaders are what a browser could not send on its own: the
// send form grants nothing an unsigned browser request would not get.
var credentialHeaders = []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256", "Cookie"}

// send forwards the form's request to a function URL, in-process and
// unsigned, and streams the answer back: a JSON line with the status and
// headers, then the body as the function writes it.
func (h *Handler) send(w http.ResponseWriter, r *http.Request) {
	if h.cfg.URLs == nil {
		http.Error(w, "furl runs no functions here", http.StatusServiceUnavailable)
		return
	}
	var in sendRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSendRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		code := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			code = http.StatusRequestEntityTooLarge
		}
		http.Error(w, "the send form's request is not valid: "+err.Error(), code)
		return
	}
	if len(in.Body) > MaxSendBody {
		http.Error(w, fmt.Sprintf("the body is over %d bytes", MaxSendBody), http.StatusRequestEntityTooLarge)
		return
	}
	target, err := h.urlOf(r, in.Function, in.Qualifier)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if in.Method == "" {
		in.Method = http.MethodGet
	}
	if !validMethod(in.Method) {
		http.Error(w, fmt.Sprintf("%q is not an HTTP method", in.Method), http.StatusBadRequest)
		return
	}
	path := in.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	ref, err := url.Parse(path)
	if err != nil || ref.Host != "" || ref.Scheme != "" {
		http.Error(w, fmt.Sprintf("%q is not a path", in.Path), http.StatusBadRequest)
		return
	}
	// The request is built anew on the function URL's host: nothing of
	// the dashboard's own request (its cookies, its Origin) goes along.
	out, err := http.NewRequestWithContext(r.Context(), in.Method, "http://"+target.Host+path, strings.NewReader(in.Body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for k, v := range in.Headers {
		k = strings.TrimSpace(k)
		if k == "" || strings.EqualFold(k, "Host") || strings.EqualFold(k, "Content-Length") {
			continue
		}
		out.Header.Set(k, v)
	}
	for _, k := range credentialHeaders {
		out.Header.Del(k)
	}
	out.RemoteAddr = r.RemoteAddr
	out.RequestURI = out.URL.RequestURI()
	out.Proto, out.ProtoMajor, out.ProtoMinor = "HTTP/1.1", 1, 1
	out.TLS = nil
	h.log.Info("dashboard sends a request", "function", in.Function, "qualifier", in.Qualifier, "method", in.Method, "path", path)

	w.Header().Set("Content-Type", "application/octet-stream")
	rl := &relay{w: w}
	h.cfg.URLs.ServeHTTP(rl, out)
	if !rl.wrote {
		rl.WriteHeader(http.StatusOK)
	}
}

// urlOf is the function URL of a function and qualifier, as configured:
// the send form reaches only URLs that exist.
func (h *Handler) urlOf(r *http.Request, fn, qualifier string) (*url.URL, error) {
	urls, err := h.cfg.Store.ListFunctionURLConfigs(r.Context(), fn, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("no function %q: %w", fn, err)
	}
	for _, u := range urls.FunctionUrlConfigs {
		q := urlconfig.LatestVersion
		if _, rest, ok := strings.Cut(u.FunctionArn, ":function:"); ok {
			if _, qual, ok := strings.Cut(rest, ":"); ok {
				q = qual
			}
		}
		if q == qualifier || (qualifier == "" && q == urlconfig.LatestVersion) {
			return url.Parse(u.FunctionUrl)
		}
	}
	return nil, fmt.Errorf("function %q has no URL for %q", fn, qualifier)
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if !strings.ContainsRune("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", c) {
			return false
		}
	}
	return true
}

// relay is the ResponseWriter the function URL writes to: its status and
// headers become the first line of the dashboard's answer, its body
// follows, each flush passed on so the page sees bytes as they come.
type relay struct {
	w      http.ResponseWriter
	header http.Header
	wrote  bool
}

func (rl *relay) Header() http.Header {
	if rl.header == nil {
		rl.header = http.Header{}
	}
	return rl.header
}

func (rl *relay) WriteHeader(code int) {
	if rl.wrote || code < 200 {
		return
	}
	rl.wrote = true
	head, _ := json.Marshal(sendHead{Status: code, Headers: rl.Header()})
	rl.w.WriteHeader(http.StatusOK)
	rl.w.Write(append(head, '\n'))
}

func (rl *relay) Write(p []byte) (int, error) {
	if !rl.wrote {
		rl.WriteHeader(http.StatusOK)
	}
	return rl.w.Write(p)
}

func (rl *relay) FlushError() error {
	if !rl.wrote {
		rl.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(rl.w).Flush()
}

func (rl *relay) Flush() { rl.FlushError() }

// Unwrap lets the function URL's writer set deadlines on the connection.
func (rl *relay) Unwrap() http.ResponseWriter { return rl.w }
