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

// urlCORS applies one function URL's Cors config. rs/cors answers
// preflights, checking origin, method and headers; actual requests, for
// which Lambda checks only the origin, get their headers here.
type urlCORS struct {
	cfg         *urlconfig.Cors // the config it was built from
	key         string          // and as JSON
	preflight   *cors.Cors
	allowed     func(origin string) bool
	expose      string
	credentials bool
}

// corsCache holds the handlers of URLs by url-id, rebuilt when a URL's
// config changes.
type corsCache struct {
	mu   sync.Mutex
	byID map[string]*urlCORS
}

// anyMethod stands for a "*" in AllowMethods, which rs/cors does not read.
var anyMethod = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

// corsFor returns the handlers of a URL's Cors config, nil without one (an
// empty Cors is none: it is how tools remove a config).
func (s *Server) corsFor(t *urlconfig.URLTarget) *urlCORS {
	cfg := t.Cors
	if cfg == nil || len(cfg.AllowOrigins)+len(cfg.AllowMethods)+len(cfg.AllowHeaders)+len(cfg.ExposeHeaders) == 0 && cfg.AllowCredentials == nil && cfg.MaxAge == nil {
		return nil
	}
	s.cors.mu.Lock()
	defer s.cors.mu.Unlock()
	c := s.cors.byID[t.URLID]
	if c != nil && c.cfg == cfg {
		return c // resolved targets are shared until the next write
	}
	raw, _ := json.Marshal(cfg)
	if c == nil || c.key != string(raw) {
		c = newURLCORS(cfg, string(raw))
	} else {
		c.cfg = cfg
	}
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
	credentials := cfg.AllowCredentials != nil && *cfg.AllowCredentials
	opts := cors.Options{
		AllowOriginFunc:      allowed,
		AllowedMethods:       methods,
		AllowedHeaders:       cfg.AllowHeaders,
		AllowCredentials:     credentials,
		OptionsSuccessStatus: http.StatusOK,
	}
	if cfg.MaxAge != nil {
		opts.MaxAge = *cfg.MaxAge
	}
	if len(opts.AllowedHeaders) == 0 {
		// rs/cors would allow a default set; Lambda allows none.
		opts.AllowedHeaders = []string{""}
	}
	return &urlCORS{cfg: cfg, key: key, preflight: cors.New(opts), allowed: allowed,
		expose: strings.Join(cfg.ExposeHeaders, ", "), credentials: credentials}
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
// Origin, whatever its method; the function's own headers are added to
// them later, not replacing them, as on Lambda.
func (c *urlCORS) addHeaders(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if !c.allowed(origin) {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if c.expose != "" {
		h.Set("Access-Control-Expose-Headers", c.expose)
	}
	if c.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}
