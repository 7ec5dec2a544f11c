package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/furl-dev/furl/gateway/dashboard"
	"github.com/furl-dev/furl/urlconfig"
)

// The Lambda API is for programs: the AWS CLI, the SDKs, Terraform. They
// never send what a web page in a browser sends when it reaches across
// origins (an Origin or Sec-Fetch-Site naming another site, a form's
// Content-Type), and they reach furl by one of its own names. Refusing the
// rest closes the Lambda API to drive-by requests from any page the user
// opens, and to pages that rebind their own DNS name to furl's address.
// Function URLs stay open to browsers, governed by their CORS config.

// hostNames decides which Host header values name furl.
type hostNames struct {
	// extra are the names besides loopback addresses and localhost:
	// furl's listen host and --allowed-hosts, lower-cased.
	extra map[string]bool
}

func newHostNames(names []string) hostNames {
	h := hostNames{extra: map[string]bool{}}
	for _, n := range names {
		if n = canonicalHost(n); n != "" {
			h.extra[n] = true
		}
	}
	return h
}

// canonicalHost is a Host header value's name: without the port or an
// IPv6 literal's brackets, lower-cased, without a final dot.
func canonicalHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// own reports whether a Host header value names furl: a loopback address,
// localhost, or one of the extra names. A page whose DNS name was rebound
// to furl's address sends its own name, which is none of these.
func (h hostNames) own(host string) bool {
	name := canonicalHost(host)
	if name == "localhost" || h.extra[name] {
		return true
	}
	ip, err := netip.ParseAddr(name)
	return err == nil && ip.Unmap().IsLoopback()
}

// urlHostSuffixOK reports whether what follows <url-id>.lambda-url.<region>
// in a function URL's host may name furl: nothing (no one can register a
// region as a domain), localhost or a name under it (browsers resolve them
// to loopback themselves, and they are reserved), "on.aws" (AWS's own
// domain, which no one else can point at furl), or one of the extra names.
// Any other suffix is a name someone else may own, and so rebind.
func (h hostNames) urlHostSuffixOK(suffix string) bool {
	suffix = strings.TrimSuffix(suffix, ".")
	return suffix == "" || suffix == "localhost" || strings.HasSuffix(suffix, ".localhost") || suffix == "on.aws" || h.extra[suffix]
}

// refusal is why the trust boundary turned a Lambda API request away.
type refusal struct {
	// message is what the caller is told.
	message string
	// why and allow are for furl's log: what was seen, and how to let
	// such requests through when they are wanted.
	why, allow string
}

// programsOnly is the advice for requests a browser sent.
const programsOnly = "the Lambda API answers programs (the AWS CLI, SDKs, Terraform), not web pages; call it from one of those, or from a server"

// browserRefusal says why a Lambda API request could have come from a web
// page on another origin, or nil if it could not.
func (s *Server) browserRefusal(r *http.Request) *refusal {
	if !s.hosts.own(r.Host) {
		return &refusal{
			message: fmt.Sprintf("furl refused this request: its Host %q is not one of furl's own names; a web page may be trying DNS rebinding.", r.Host),
			why:     "the Host header is not a loopback address, localhost, furl's --listen host or an --allowed-hosts name",
			allow:   fmt.Sprintf("if you reach furl by this name on purpose, start it with --allowed-hosts=%s (or FURL_ALLOWED_HOSTS)", allowedHostsHint(r.Host)),
		}
	}
	// No web page may use the API, furl's own origin's included: on that
	// origin furl serves the path form of function URLs, whose pages are
	// the functions', not furl's.
	if origin := r.Header.Get("Origin"); origin != "" || len(r.Header.Values("Origin")) > 0 {
		return &refusal{
			message: fmt.Sprintf("furl refused this request: a web page at %q sent it, and the Lambda API does not answer web pages.", origin),
			why:     fmt.Sprintf("the request carries an Origin (%q): a browser sent it for a page", origin),
			allow:   programsOnly,
		}
	}
	for _, site := range r.Header.Values("Sec-Fetch-Site") {
		// "none" is the user's own navigation (typed or bookmarked), which
		// no page can cause.
		if site = strings.ToLower(strings.TrimSpace(site)); site != "none" {
			return &refusal{
				message: "furl refused this request: a web page sent it, and the Lambda API does not answer web pages.",
				why:     "Sec-Fetch-Site is " + site + ": a browser sent it for a page",
				allow:   programsOnly,
			}
		}
	}
	if hasBody(r) {
		return s.contentTypeRefusal(r)
	}
	return nil
}

// allowedHostsHint is the --allowed-hosts entry that admits a Host: for a
// function URL host, what follows <url-id>.lambda-url.<region>.
func allowedHostsHint(host string) string {
	name := canonicalHost(host)
	if m := urlHost.FindString(name); m != "" && len(m) < len(name) {
		return name[len(m):]
	}
	return name
}

// hasBody reports whether a request carries a body: a length above zero,
// or one not known in advance (chunked).
func hasBody(r *http.Request) bool {
	return r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
}

// payloadOperations take their body as the function's payload rather than
// as JSON. The AWS SDK for Go sends it as application/octet-stream,
// botocore (the AWS CLI, boto3) with no Content-Type at all.
var payloadOperations = map[string]bool{
	"POST /2015-03-31/functions/{FunctionName}/invocations":                    true,
	"POST /2021-11-15/functions/{FunctionName}/response-streaming-invocations": true,
	"POST /2014-11-13/functions/{FunctionName}/invoke-async":                   true,
}

// isPayloadOperation says whether a request is for one of
// payloadOperations. An invocation's path is recognised as it is; any
// other is looked up as the mux will find it, after the final slash is
// trimmed (the request itself keeps it until its signature is checked).
func (s *Server) isPayloadOperation(r *http.Request) bool {
	if r.Method == http.MethodPost && r.URL.RawPath == "" && isInvocationPath(r.URL.Path) {
		return true
	}
	probe := *r
	probeURL := *r.URL
	probe.URL = &probeURL
	trimTrailingSlash(&probe)
	_, pattern := s.mux.Handler(&probe)
	return payloadOperations[pattern]
}

// isInvocationPath matches the paths of payloadOperations whose function
// name is one plain segment, which the mux routes to them unchanged.
func isInvocationPath(path string) bool {
	for _, op := range [...]struct{ prefix, suffix string }{
		{"/2015-03-31/functions/", "/invocations"},
		{"/2021-11-15/functions/", "/response-streaming-invocations"},
		{"/2014-11-13/functions/", "/invoke-async"},
	} {
		if name, ok := strings.CutPrefix(path, op.prefix); ok {
			name, ok = strings.CutSuffix(name, op.suffix)
			return ok && name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
		}
	}
	return false
}

// corsSafelisted are the Content-Types a page may send across origins
// without a CORS preflight (which the Lambda API never grants): what an
// HTML form or a no-cors fetch sends.
var corsSafelisted = map[string]bool{
	"text/plain":                        true,
	"application/x-www-form-urlencoded": true,
	"multipart/form-data":               true,
}

// contentTypeRefusal checks the Content-Type of a request with a body: a
// payload operation may carry any type but the CORS-safelisted ones; every
// other operation takes JSON, and the SDKs and CLIs label it
// application/json.
func (s *Server) contentTypeRefusal(r *http.Request) *refusal {
	types := r.Header.Values("Content-Type")
	if s.isPayloadOperation(r) {
		for _, t := range types {
			if corsSafelisted[mediaType(t)] {
				return &refusal{
					message: fmt.Sprintf("furl refused this request: its Content-Type %q is what web forms send; send the payload as application/json, application/octet-stream or without a Content-Type.", t),
					why:     fmt.Sprintf("the payload's Content-Type %q is one a web page may send across origins without asking", t),
					allow:   programsOnly,
				}
			}
		}
		return nil
	}
	if len(types) == 0 {
		types = []string{""}
	}
	for _, t := range types {
		if mediaType(t) != "application/json" {
			return &refusal{
				message: fmt.Sprintf("furl refused this request: its body must be sent as Content-Type application/json, not %q.", t),
				why:     fmt.Sprintf("a JSON operation's body came with Content-Type %q, as a web form or a no-cors fetch sends it", t),
				allow:   "send the body with Content-Type: application/json, as the AWS SDKs and CLIs do",
			}
		}
	}
	return nil
}

// mediaType is a Content-Type's essence as a browser computes it: the
// type and subtype, trimmed and lower-cased, without parameters. Parsing
// leniently matters: a value a browser takes for text/plain must read as
// text/plain here too.
func mediaType(contentType string) string {
	essence, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.Trim(essence, " \t\r\n"))
}

// refuseBrowser answers a request the trust boundary refused, with AWS's
// AccessDeniedException, and logs why and how to allow it.
func (s *Server) refuseBrowser(w http.ResponseWriter, r *http.Request, why *refusal) {
	loggerFrom(r.Context()).Warn("Lambda API request refused: a web page could have sent it",
		"method", r.Method, "uri", r.URL.RequestURI(), "host", r.Host, "origin", r.Header.Get("Origin"),
		"sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "content_type", r.Header.Get("Content-Type"),
		"why", why.why, "to_allow", why.allow)
	writeError(w, loggerFrom(r.Context()), newError(urlconfig.ErrAccessDenied, why.message))
}

// ServesName reports whether furl answers on a host name (or IP address),
// for the TLS certificates it issues itself: its own names, and the host
// of every function URL that exists, under localhost or an allowed name.
// It never says yes for a name someone else owns (a URL host under on.aws
// included): a certificate for it, from a root the user trusts, could
// impersonate that name to their browser.
func (s *Server) ServesName(ctx context.Context, name string) error {
	name = canonicalHost(name)
	if s.hosts.own(name) || (s.dashboard != nil && name == dashboard.Host) {
		return nil
	}
	m := urlHost.FindStringSubmatch(name)
	if m == nil {
		return fmt.Errorf("%q is not one of furl's names or a function URL host", name)
	}
	suffix := name[len(m[0]):]
	if !(suffix == "localhost" || strings.HasSuffix(suffix, ".localhost") || s.hosts.extra[suffix]) {
		return fmt.Errorf("%q is not under localhost or an allowed host", name)
	}
	if m[2] != s.store.Account().Region {
		return fmt.Errorf("%q is in region %s, not furl's %s", name, m[2], s.store.Account().Region)
	}
	if _, err := s.store.ResolveURL(ctx, m[1]); err != nil {
		return fmt.Errorf("no function URL has the id %q: %w", m[1], err)
	}
	return nil
}
