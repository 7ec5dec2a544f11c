package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A browser's navigation to / or /_furl/ on the API's names goes to the
// dashboard's own origin; programs, and pages' requests, get what they got
// before; the dashboard's host reaches only the dashboard.
func TestDashboardRouting(t *testing.T) {
	s := newTestServer(t)
	s.dashboard = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Dashboard", "yes")
		w.WriteHeader(http.StatusTeapot)
	})
	for _, tc := range []struct {
		name, method, host, path string
		headers                  map[string]string
		code                     int
		location                 string
	}{
		{"navigation", "GET", "127.0.0.1:4580", "/", map[string]string{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "none"}, 303, "http://furl.localhost:4580/_furl/"},
		{"navigation to /_furl/", "GET", "localhost:4580", "/_furl/", map[string]string{"Sec-Fetch-Mode": "navigate"}, 303, "http://furl.localhost:4580/_furl/"},
		{"html wanted", "GET", "127.0.0.1:4580", "/", map[string]string{"Accept": "text/html,application/xhtml+xml"}, 303, "http://furl.localhost:4580/_furl/"},
		{"program", "GET", "127.0.0.1:4580", "/", map[string]string{"Accept": "*/*"}, 404, ""},
		{"page's fetch", "GET", "127.0.0.1:4580", "/", map[string]string{"Accept": "text/html", "Origin": "http://evil.test"}, 403, ""},
		{"rebound name", "GET", "rebind.test:4580", "/", map[string]string{"Sec-Fetch-Mode": "navigate"}, 403, ""},
		{"POST", "POST", "127.0.0.1:4580", "/", map[string]string{"Accept": "text/html"}, 404, ""},
		{"dashboard host", "GET", "furl.localhost:4580", "/2015-03-31/functions", nil, http.StatusTeapot, ""},
		{"dashboard host POST", "POST", "FURL.localhost:4580", "/2015-03-31/functions", nil, http.StatusTeapot, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://x"+tc.path, nil)
			r.Host = tc.host
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != tc.code || w.Header().Get("Location") != tc.location {
				t.Fatalf("%d Location %q, want %d %q: %s", w.Code, w.Header().Get("Location"), tc.code, tc.location, w.Body)
			}
		})
	}
	// Without a dashboard, its host is a foreign name like any other.
	s.dashboard = nil
	r := httptest.NewRequest("GET", "http://furl.localhost:4580/_furl/", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Fatalf("furl.localhost without a dashboard: %d", w.Code)
	}
}
