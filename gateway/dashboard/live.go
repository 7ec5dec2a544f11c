package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Event is one thing that happened to a function, as the feed reports it.
// (Until the feed lands it is declared here with the feed's fields.)
type Event struct {
	Kind          string // "start", "end", "throttle", "log" or "url"
	Time          time.Time
	Function      string
	Version       string
	RequestID     string
	Environment   string
	Cold          bool
	Streaming     bool
	Duration      time.Duration
	ResponseBytes int64
	ErrorType     string
	Status        string
	Line          string
}

// Feed is the source of live events (the gateway's feed hub).
type Feed interface {
	// Recent is a bounded list of the latest events, of every function
	// when fn is empty.
	Recent(fn string) []Event
	// Subscribe delivers events until ctx ends or the feed closes, when
	// the channel is closed; dropped counts those a slow reader missed.
	Subscribe(ctx context.Context, fn string) (events <-chan Event, dropped func() uint64)
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

func view(ev Event) eventView {
	return eventView{Kind: ev.Kind, Time: ev.Time.UTC().Format(time.RFC3339Nano), Function: ev.Function, Version: ev.Version,
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
	fn := r.URL.Query().Get("function")
	ctx := r.Context()
	// Subscribe before reading the recent ones: an event between the two
	// is then shown twice at worst (the page keys nothing on it), never
	// lost.
	ch, dropped := h.cfg.Feed.Subscribe(ctx, fn)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	for _, ev := range h.cfg.Feed.Recent(fn) {
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

func writeEvent(w http.ResponseWriter, ev Event) error {
	raw, err := json.Marshal(view(ev))
	if err != nil {
		return err
	}
	// JSON has no raw newlines, so one data line carries it.
	_, err = fmt.Fprintf(w, "data: %s\n\n", raw)
	return err
}
