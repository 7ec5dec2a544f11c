package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
)

// Feed is the source of live events: the gateway's feed hub.
type Feed interface {
	// Subscribe delivers a function's events (every function's when fn
	// is empty) until ctx ends or the feed closes, when the channel is
	// closed; with recent, the events already kept come first, as
	// backlog. dropped counts those a slow reader missed.
	Subscribe(ctx context.Context, fn string, recent bool) (events <-chan runtimeapi.Event, backlog []runtimeapi.Event, dropped func() uint64)
}

// eventView is an event as the page reads it.
type eventView struct {
	Kind          string  `json:"kind"`
	Time          string  `json:"time"`
	Function      string  `json:"function"`
	Version       string  `json:"version,omitempty"`
	RequestID     string  `json:"requestId,omitempty"`
	Cold          bool    `json:"cold,omitempty"`
	Streaming     bool    `json:"streaming,omitempty"`
	DurationMs    float64 `json:"durationMs,omitempty"`
	ResponseBytes int64   `json:"responseBytes"`
	ErrorType     string  `json:"errorType,omitempty"`
	Status        string  `json:"status,omitempty"`
	Line          string  `json:"line,omitempty"`
}

func view(ev runtimeapi.Event) eventView {
	return eventView{Kind: string(ev.Kind), Time: ev.Time.UTC().Format(time.RFC3339Nano), Function: ev.Function, Version: ev.Version,
		RequestID: ev.RequestID, Cold: ev.Cold, Streaming: ev.Streaming, DurationMs: float64(ev.Duration) / float64(time.Millisecond),
		ResponseBytes: ev.ResponseBytes, ErrorType: ev.ErrorType, Status: ev.Status, Line: ev.Line}
}

// events streams the feed as Server-Sent Events: the recent events first,
// then each as it happens, until the page goes or the feed closes. The
// subscription's own bounded queue keeps a slow page from holding furl
// up; what it drops is counted and told to the page.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Feed == nil {
		http.Error(w, "furl has no live feed here", http.StatusNotFound)
		return
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "text/event-stream")
		return
	}
	fn := r.URL.Query().Get("function")
	ctx := r.Context()
	ch, backlog, dropped := h.cfg.Feed.Subscribe(ctx, fn, true)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	for _, ev := range backlog {
		if err := writeEvent(w, ev); err != nil {
			return
		}
	}
	if err := rc.Flush(); err != nil {
		return
	}
	var told uint64
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if err := writeEvent(w, ev); err != nil {
				return
			}
			if n := dropped(); n != told {
				told = n
				if _, err := fmt.Fprintf(w, "event: dropped\ndata: %d\n\n", n); err != nil {
					return
				}
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}

func writeEvent(w http.ResponseWriter, ev runtimeapi.Event) error {
	raw, err := json.Marshal(view(ev))
	if err != nil {
		return err
	}
	// JSON has no raw newlines, so one data line carries it.
	_, err = fmt.Fprintf(w, "data: %s\n\n", raw)
	return err
}
