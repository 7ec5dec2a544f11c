package gateway

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/rs/cors"

	"github.com/furl-dev/furl/urlconfig"
)

// urlCORS applies one function URL's Cors config. Two rs/cors handlers
// share it: one answers preflights, checking origin, method and headers;
// the other adds headers to actual requests, where Lambda checks only the
// origin.
type urlCORS struct {
	key       string // the config it was built from, as JSON
	preflight *cors.Cors
	actual    *cors.Cors
}

// corsCache holds the handlers of URLs by url-id, rebuilt when a URL's
// config changes.
type corsCache struct {
	mu   sync.Mutex
	byID map[string]*urlCORS
}

// anyMethod stands for a "*" in AllowMethods, which rs/cors does not read.
var anyMethod = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

// corsFor returns the handlers of a URL's Cors config, nil without one.
func (s *Server) corsFor(t *urlconfig.URLTarget) *urlCORS {
	if t.Cors == nil {
		return nil
	}
	raw, _ := json.Marshal(t.Cors)
	key := string(raw)
	s.cors.mu.Lock()
	defer s.cors.mu.Unlock()
	if c := s.cors.byID[t.URLID]; c != nil && c.key == key {
		return c
	}
	c := newURLCORS(t.Cors, key)
	if s.cors.byID == nil {
		s.cors.byID = map[string]*urlCORS{}
	}
	s.cors.byID[t.URLID] = c
	return c
}

func newURLCORS(cfg *urlconfig.Cors, key string) *urlCORS {
	// Origins are matched whole and without regard to case, and the
	// request's Origin is echoed, "*" included, as Lambda does.
	origins := make([]string, len(cfg.AllowOrigins))
	for i, o := range cfg.AllowOrigins {
		origins[i] = strings.ToLower(o)
	}
	allowed := func(origin string) bool {
		return slices.Contains(origins, "*") || slices.Contains(origins, strings.ToLower(origin))
	}
	methods := cfg.AllowMethods
	if slices.Contains(methods, "*") {
		methods = anyMethod
	}
	opts := cors.Options{
		AllowOriginFunc:      allowed,
		AllowedMethods:       methods,
		AllowedHeaders:       cfg.AllowHeaders,
		ExposedHeaders:       cfg.ExposeHeaders,
		AllowCredentials:     cfg.AllowCredentials != nil && *cfg.AllowCredentials,
		OptionsSuccessStatus: http.StatusOK,
	}
	if cfg.MaxAge != nil {
		opts.MaxAge = *cfg.MaxAge
	}
	if len(opts.AllowedHeaders) == 0 {
		// rs/cors would allow a default set; Lambda allows none.
		opts.AllowedHeaders = []string{""}
	}
	preflight := cors.New(opts)
	opts.AllowedMethods = anyMethod
	return &urlCORS{key: key, preflight: preflight, actual: cors.New(opts)}
}

// isPreflight is a CORS preflight as Lambda sees it: OPTIONS with an
// Origin and an Access-Control-Request-Method.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// servePreflight answers a preflight without invoking the function: 200
// with the CORS headers when origin, method and headers are allowed, 200
// without them otherwise.
func (c *urlCORS) servePreflight(w http.ResponseWriter, r *http.Request, log *slog.Logger) {
	c.preflight.ServeHTTP(w, r, func(http.ResponseWriter, *http.Request) {})
	if w.Header().Get("Access-Control-Allow-Origin") == "" {
		log.Info("CORS preflight refused: the URL's Cors config does not allow it", "origin", r.Header.Get("Origin"),
			"method", r.Header.Get("Access-Control-Request-Method"), "headers", r.Header.Get("Access-Control-Request-Headers"))
	}
}

// addHeaders adds the CORS headers of an actual request with an allowed
// Origin; the function's own headers are added to them later, not
// replacing them, as on Lambda.
func (c *urlCORS) addHeaders(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") == "" {
		return
	}
	c.actual.ServeHTTP(w, r, func(http.ResponseWriter, *http.Request) {})
}
