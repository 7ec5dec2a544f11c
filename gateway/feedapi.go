package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/furl-dev/furl/runtimeapi"
)

// eventFeed is what furl's functions have been doing lately, and live.
type eventFeed interface {
	Subscribe(ctx context.Context, fn string, recent bool) (<-chan runtimeapi.Event, []runtimeapi.Event, func() uint64)
	Recent(fn string) []runtimeapi.Event
}

// feedGap is the line that says a follower fell behind and missed
// events.
type feedGap struct {
	Kind    string `json:"kind"`
	Dropped uint64 `json:"dropped"`
}

// feedEvents answers GET /_furl/events[/{FunctionName}]: furl's own view of
// what functions did, one JSON event per line (application/x-ndjson),
// the recent ones kept first; with follow=true it stays open and adds
// each new event as it happens, until the client goes or furl shuts
// down. kind=log,end,... keeps only those kinds. It needs what
// GetFunction needs for one function, and GetFunction on every function
// ("*") for all of them.
func (s *Server) feedEvents(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("FunctionName")
	if name != "" {
		cfg, err := s.store.GetFunctionConfiguration(r.Context(), name, nil)
		if err != nil {
			writeError(w, loggerFrom(r.Context()), err)
			return
		}
		name = cfg.FunctionName
	}
	var kinds map[runtimeapi.EventKind]bool
	if k := r.URL.Query().Get("kind"); k != "" {
		kinds = map[runtimeapi.EventKind]bool{}
		for _, one := range strings.Split(k, ",") {
			kinds[runtimeapi.EventKind(strings.TrimSpace(one))] = true
		}
	}
	follow := r.URL.Query().Get("follow") == "true"
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if s.feed == nil {
		return
	}
	enc := json.NewEncoder(w)
	send := func(ev runtimeapi.Event) error {
		if kinds != nil && !kinds[ev.Kind] {
			return nil
		}
		return enc.Encode(ev)
	}
	flush := func() { http.NewResponseController(w).Flush() }
	if !follow {
		for _, ev := range s.feed.Recent(name) {
			if send(ev) != nil {
				return
			}
		}
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// A shutdown ends the follow, as it cuts streams.
	stop := context.AfterFunc(s.shutdown(), cancel)
	defer stop()
	live, backlog, dropped := s.feed.Subscribe(ctx, name, true)
	for _, ev := range backlog {
		if send(ev) != nil {
			return
		}
	}
	flush()
	var told uint64
	for ev := range live {
		if n := dropped(); n > told {
			if enc.Encode(feedGap{Kind: "gap", Dropped: n - told}) != nil {
				return
			}
			told = n
		}
		if send(ev) != nil {
			return
		}
		if len(live) == 0 {
			flush()
		}
	}
}
