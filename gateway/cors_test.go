package gateway

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/furl-dev/furl/urlconfig"
)

func corsConfig(origins, methods, headers, expose []string, credentials bool, maxAge int) *urlconfig.Cors {
	c := &urlconfig.Cors{AllowOrigins: origins, AllowMethods: methods, AllowHeaders: headers, ExposeHeaders: expose}
	if credentials {
		c.AllowCredentials = &credentials
	}
	if maxAge > 0 {
		c.MaxAge = &maxAge
	}
	return c
}

// corsHeaders renders the Access-Control-* and Vary headers of a response.
func corsHeaders(h http.Header) string {
	var lines []string
	for k, vs := range h {
		if strings.HasPrefix(k, "Access-Control-") || k == "Vary" {
			lines = append(lines, k+": "+strings.Join(vs, " | "))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func TestCORSPreflight(t *testing.T) {
	site := corsConfig([]string{"https://app.example"}, []string{"GET", "POST"}, []string{"content-type", "X-Api-Key"}, []string{"x-request-id"}, true, 300)
	tests := []struct {
		name    string
		cfg     *urlconfig.Cors
		origin  string
		method  string
		headers string
		want    string
	}{
		{name: "allowed", cfg: site, origin: "https://app.example", method: "POST", headers: "content-type, x-api-key",
			want: "Access-Control-Allow-Credentials: true\nAccess-Control-Allow-Headers: content-type, x-api-key\nAccess-Control-Allow-Methods: POST\nAccess-Control-Allow-Origin: https://app.example\nAccess-Control-Max-Age: 300\nVary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},
		{name: "origin differs in case only", cfg: site, origin: "https://APP.example", method: "GET",
			want: "Access-Control-Allow-Credentials: true\nAccess-Control-Allow-Methods: GET\nAccess-Control-Allow-Origin: https://APP.example\nAccess-Control-Max-Age: 300\nVary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},
		{name: "foreign origin", cfg: site, origin: "https://evil.example", method: "GET",
			want: "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},
		{name: "method not allowed", cfg: site, origin: "https://app.example", method: "DELETE",
			want: "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},
		{name: "header not allowed", cfg: site, origin: "https://app.example", method: "POST", headers: "x-other",
			want: "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},
		{name: "wildcards echo the origin", cfg: corsConfig([]string{"*"}, []string{"*"}, []string{"*"}, nil, false, 0),
			origin: "http://localhost:3000", method: "PATCH", headers: "x-anything",
			want: "Access-Control-Allow-Headers: x-anything\nAccess-Control-Allow-Methods: PATCH\nAccess-Control-Allow-Origin: http://localhost:3000\nVary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},
		{name: "a list item with a comma is one name", cfg: corsConfig([]string{"*"}, []string{"*"}, []string{"Content-Type,Authorization"}, nil, false, 0),
			origin: "http://localhost:3000", method: "POST", headers: "content-type",
			want: "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},
		{name: "no AllowHeaders allows no header", cfg: corsConfig([]string{"*"}, []string{"*"}, nil, nil, false, 0),
			origin: "http://localhost:3000", method: "POST", headers: "content-type",
			want: "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("OPTIONS", "/", nil)
			r.Header.Set("Origin", tc.origin)
			r.Header.Set("Access-Control-Request-Method", tc.method)
			if tc.headers != "" {
				r.Header.Set("Access-Control-Request-Headers", tc.headers)
			}
			if !isPreflight(r) {
				t.Fatal("not seen as a preflight")
			}
			w := httptest.NewRecorder()
			newURLCORS(tc.cfg, "").servePreflight(w, r, slog.New(slog.DiscardHandler))
			if w.Code != 200 || w.Body.Len() != 0 {
				t.Errorf("status %d, body %q", w.Code, w.Body.String())
			}
			if got := corsHeaders(w.Header()); got != tc.want {
				t.Errorf("headers:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestCORSActualRequest(t *testing.T) {
	site := corsConfig([]string{"https://app.example"}, []string{"GET"}, nil, []string{"x-request-id", "x-total"}, true, 0)
	for _, tc := range []struct {
		name, method, origin, want string
	}{
		{"allowed origin", "GET", "https://app.example",
			"Access-Control-Allow-Credentials: true\nAccess-Control-Allow-Origin: https://app.example\nAccess-Control-Expose-Headers: x-request-id, x-total\nVary: Origin"},
		{"any method, custom ones too: only the origin is checked", "PROPFIND", "https://app.example",
			"Access-Control-Allow-Credentials: true\nAccess-Control-Allow-Origin: https://app.example\nAccess-Control-Expose-Headers: x-request-id, x-total\nVary: Origin"},
		{"foreign origin", "GET", "https://evil.example", "Vary: Origin"},
		{"no origin", "GET", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/", nil)
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			w := httptest.NewRecorder()
			newURLCORS(site, "").addHeaders(w, r)
			if got := corsHeaders(w.Header()); got != tc.want {
				t.Errorf("headers:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// The function's own CORS headers are added to the URL's, not put in
// their place: a browser then sees both, as on Lambda.
func TestCORSHeadersAreAddedTo(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Origin", "https://app.example")
	w := httptest.NewRecorder()
	newURLCORS(corsConfig([]string{"*"}, nil, nil, nil, false, 0), "").addHeaders(w, r)
	resp, err := urlResponseFrom([]byte(`{"statusCode":200,"headers":{"Access-Control-Allow-Origin":"https://app.example"},"body":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.write(w)
	if got := w.Header().Values("Access-Control-Allow-Origin"); len(got) != 2 || got[0] != "https://app.example" || got[1] != "https://app.example" {
		t.Fatalf("Access-Control-Allow-Origin %q", got)
	}
}

func TestCORSCacheFollowsConfig(t *testing.T) {
	s := &Server{}
	t1 := &urlconfig.URLTarget{URLID: "u1", Cors: corsConfig([]string{"https://a.example"}, nil, nil, nil, false, 0)}
	c1 := s.corsFor(t1)
	if s.corsFor(t1) != c1 {
		t.Fatal("the same config was built twice")
	}
	t2 := &urlconfig.URLTarget{URLID: "u1", Cors: corsConfig([]string{"https://b.example"}, nil, nil, nil, false, 0)}
	if c2 := s.corsFor(t2); c2 == c1 {
		t.Fatal("a changed config kept the old handlers")
	}
	if s.corsFor(&urlconfig.URLTarget{URLID: "u1"}) != nil {
		t.Fatal("a URL without Cors got handlers")
	}
	if s.corsFor(&urlconfig.URLTarget{URLID: "u1", Cors: &urlconfig.Cors{}}) != nil {
		t.Fatal("an empty Cors, which removes a config, got handlers")
	}
	// The same config in a new target (after an unrelated write) keeps
	// its handlers.
	t3 := &urlconfig.URLTarget{URLID: "u1", Cors: corsConfig([]string{"https://b.example"}, nil, nil, nil, false, 0)}
	c3 := s.corsFor(t3)
	if c4 := s.corsFor(&urlconfig.URLTarget{URLID: "u1", Cors: corsConfig([]string{"https://b.example"}, nil, nil, nil, false, 0)}); c4 != c3 {
		t.Fatal("an equal config was rebuilt")
	}
}

func FuzzCORS(f *testing.F) {
	f.Add("https://app.example", "GET,POST", "content-type", "https://app.example", "POST", "content-type", true)
	f.Add("*", "*", "*", "http://x", "PUT", "a, b", false)
	f.Add("", "", "", "null", "", "", false)
	f.Fuzz(func(t *testing.T, origins, methods, headers, origin, method, reqHeaders string, preflight bool) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ",")
		}
		cfg := corsConfig(split(origins), split(methods), split(headers), nil, false, 0)
		c := newURLCORS(cfg, "")
		r := httptest.NewRequest("GET", "/", nil)
		if preflight {
			r.Method = "OPTIONS"
		}
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", method)
		r.Header.Set("Access-Control-Request-Headers", reqHeaders)
		w := httptest.NewRecorder()
		if isPreflight(r) {
			c.servePreflight(w, r, slog.New(slog.DiscardHandler))
		} else {
			c.addHeaders(w, r)
		}
		acao := w.Header().Values("Access-Control-Allow-Origin")
		if len(acao) == 0 {
			return
		}
		if len(acao) != 1 || acao[0] != origin {
			t.Fatalf("Access-Control-Allow-Origin %q for Origin %q", acao, origin)
		}
		ok := false
		for _, o := range cfg.AllowOrigins {
			ok = ok || o == "*" || strings.EqualFold(o, origin)
		}
		if !ok {
			t.Fatalf("origin %q allowed by %q", origin, cfg.AllowOrigins)
		}
	})
}
