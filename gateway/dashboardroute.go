package gateway

import (
	"net"
	"net/http"
	"strings"

	"github.com/furl-dev/furl/gateway/dashboard"
)

// toDashboard redirects a browser's navigation to / or /_furl/ on furl's
// API names to the dashboard's own origin, and reports whether it did.
// Programs (no navigation, no HTML wanted) still get the API's answers,
// and a request a page sends (with an Origin) is left to the API's
// refusal.
func (s *Server) toDashboard(w http.ResponseWriter, r *http.Request) bool {
	if s.dashboard == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return false
	}
	switch r.URL.Path {
	case "/", "/_furl", "/_furl/":
	default:
		return false
	}
	if len(r.Header.Values("Origin")) > 0 || !s.hosts.own(r.Host) {
		return false
	}
	navigate := strings.EqualFold(r.Header.Get("Sec-Fetch-Mode"), "navigate")
	for _, a := range r.Header.Values("Accept") {
		navigate = navigate || strings.Contains(strings.ToLower(a), "text/html")
	}
	if !navigate {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := dashboard.Host
	if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "" {
		host = net.JoinHostPort(host, port)
	}
	http.Redirect(w, r, scheme+"://"+host+"/_furl/", http.StatusSeeOther)
	return true
}

// URLHandler serves function URL requests, by host or path form, and
// answers 404 to anything else: what the dashboard's send form may reach.
func (s *Server) URLHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := s.urlFor(r); !ok || s.invoker == nil || dashboard.IsHost(r.Host) {
			http.NotFound(w, r)
			return
		}
		s.ServeHTTP(w, r)
	})
}
