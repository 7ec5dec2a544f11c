// Package dashboard is furl's HTML dashboard at http://furl.localhost:<port>/_furl/:
// the functions with their URLs, configuration, policies and reserved
// concurrency, live invocations and log tails, and a form that sends a
// request to a function URL.
//
// The dashboard has an origin of its own (the host furl.localhost), never
// the Lambda API's: on the API's origin furl serves the path form of
// function URLs, whose pages are the functions' and must not read the
// dashboard. On its host the dashboard answers only its own paths, only to
// that exact Host (a page whose DNS name was rebound to furl sends its own),
// and changes nothing but through the send form, whose POST no page on
// another origin can make (it needs a JSON content type and the
// dashboard's Origin).
package dashboard

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/urlconfig"
)

// Host is the name the dashboard answers to, on any of furl's ports.
// Browsers resolve every *.localhost name to loopback themselves.
const Host = "furl.localhost"

// store is what the dashboard reads of the account's state.
type store interface {
	ListFunctions(ctx context.Context, in *urlconfig.ListFunctionsInput) (*urlconfig.ListFunctionsOutput, error)
	ListFunctionURLConfigs(ctx context.Context, functionName string, marker *string, maxItems *int) (*urlconfig.ListFunctionURLConfigsOutput, error)
	ListAliases(ctx context.Context, functionName string, functionVersion, marker *string, maxItems *int) (*urlconfig.ListAliasesOutput, error)
	GetPolicy(ctx context.Context, functionName string, qualifier *string) (*urlconfig.GetPolicyOutput, error)
	GetFunctionConcurrency(ctx context.Context, functionName string) (*urlconfig.Concurrency, error)
}

var _ store = (*urlconfig.Store)(nil)

// Config configures a Handler.
type Config struct {
	// Store is the account state. Required.
	Store store
	// URLs serves function URL requests, and nothing else, as furl's
	// listeners do: the send form hands it the requests it builds. Nil
	// makes the send form answer 503.
	URLs http.Handler
	// Feed is the source of live events. Nil means the dashboard shows no
	// live invocations or logs.
	Feed Feed
	// Disabled, when not empty, is why the dashboard is off (for example
	// because the Lambda API verifies signatures, which a browser cannot
	// make): every request gets 403 with a page that says so.
	Disabled string
	// Logger receives the dashboard's logs. Nil means slog.Default().
	Logger *slog.Logger
	// Environments lists the live execution environments, each with the
	// sandbox it runs in; the page shows them under their function, as
	// GET /_furl/environments does. Nil means the page shows none.
	Environments func() []runtimeapi.EnvironmentInfo
}

// Handler serves the dashboard. Route to it every request whose Host is
// furl.localhost (see IsHost); it refuses the rest itself too.
type Handler struct {
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
	static http.Handler
}

//go:embed static
var staticFiles embed.FS

// New builds a Handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	h.static = http.StripPrefix("/_furl/static/", http.FileServerFS(sub))
	h.mux.HandleFunc("GET /{$}", h.home)
	h.mux.HandleFunc("GET /_furl", h.home)
	h.mux.HandleFunc("GET /_furl/{$}", h.page)
	h.mux.Handle("GET /_furl/static/", h.static)
	h.mux.HandleFunc("GET /_furl/events", h.events)
	h.mux.HandleFunc("POST /_furl/send", h.send)
	return h
}

// IsHost reports whether a Host header value names the dashboard:
// furl.localhost, with or without a port, and nothing else (no trailing
// dot, no other name).
func IsHost(host string) bool {
	name, port := host, ""
	if h, p, err := net.SplitHostPort(host); err == nil {
		name, port = h, p
	} else if strings.Contains(host, ":") {
		return false
	}
	if !strings.EqualFold(name, Host) {
		return false
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	return !strings.Contains(host, ":") || port != ""
}

// Origin is the dashboard's origin for a request that reached it.
func Origin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + strings.ToLower(r.Host)
}

// refusal is a request the dashboard does not answer, and why.
type refusal struct {
	code int
	msg  string
}

// check says why a request must not reach the dashboard, or nil.
func check(r *http.Request) *refusal {
	if !IsHost(r.Host) {
		// DNS rebinding: a page whose own name now resolves to furl
		// sends that name.
		return &refusal{http.StatusMisdirectedRequest, fmt.Sprintf("the dashboard answers only to the host %s, not %q", Host, r.Host)}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return nil
	case http.MethodPost:
		if r.URL.Path != "/_furl/send" {
			return &refusal{http.StatusMethodNotAllowed, "the dashboard changes nothing: GET and HEAD only"}
		}
	default:
		return &refusal{http.StatusMethodNotAllowed, "the dashboard changes nothing: GET and HEAD only"}
	}
	// The send form's POST: only the dashboard's own page can make it.
	// A cross-origin page's fetch carries its own Origin; a form cannot
	// send application/json, and a fetch that does needs a preflight,
	// which the dashboard never grants.
	origins := r.Header.Values("Origin")
	if len(origins) != 1 || origins[0] != Origin(r) {
		return &refusal{http.StatusForbidden, fmt.Sprintf("the send form accepts requests only from the dashboard's own page (Origin %s), not from %q", Origin(r), strings.Join(origins, ", "))}
	}
	for _, site := range r.Header.Values("Sec-Fetch-Site") {
		if !strings.EqualFold(strings.TrimSpace(site), "same-origin") {
			return &refusal{http.StatusForbidden, "the send form accepts requests only from the dashboard's own page, not Sec-Fetch-Site " + site}
		}
	}
	if ct := r.Header.Values("Content-Type"); len(ct) != 1 || !isJSON(ct[0]) {
		return &refusal{http.StatusUnsupportedMediaType, "the send form takes Content-Type application/json"}
	}
	return nil
}

func isJSON(ct string) bool {
	media, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(media), "application/json")
}

// ServeHTTP answers a request to the dashboard's host.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	secure(w.Header())
	if why := check(r); why != nil {
		h.log.Warn("dashboard refused a request", "method", r.Method, "host", r.Host, "path", r.URL.Path,
			"origin", r.Header.Get("Origin"), "why", why.msg)
		http.Error(w, "furl refused this request: "+why.msg, why.code)
		return
	}
	if h.cfg.Disabled != "" {
		h.disabled(w)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// secure sets the headers that keep every answer of the dashboard to
// itself: no framing, no inline or foreign script, no sniffing, no reads
// by other origins' pages, no leaking of its address.
func secure(hd http.Header) {
	hd.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/_furl/", http.StatusFound)
}
