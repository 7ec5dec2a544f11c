package runtimeapi

import "time"

// EventKind says what an Event reports.
type EventKind string

// The kinds of Event.
const (
	// EventStart: an environment has taken an invocation; its clock runs.
	EventStart EventKind = "start"
	// EventEnd: an invocation is over, with its outcome.
	EventEnd EventKind = "end"
	// EventThrottle: an invocation was refused for want of concurrency.
	EventThrottle EventKind = "throttle"
	// EventLog: one line of a function's log, its own or Lambda's (START,
	// END, REPORT, INIT_START...).
	EventLog EventKind = "log"
	// EventURL: a function URL request was answered. The Manager never
	// emits it; the gateway does, through the same observers.
	EventURL EventKind = "url"
	// EventDeleted: the function was deleted, all its versions. The
	// gateway emits it, so that what was kept about the function goes.
	EventDeleted EventKind = "deleted"
)

// Event is one thing that happened to a function, for those who watch
// furl run: its metrics, its dashboard, `furl logs`. Fields that do not
// apply to a kind are zero.
type Event struct {
	Kind        EventKind `json:"kind"`
	Time        time.Time `json:"time"`
	Function    string    `json:"function"`
	Version     string    `json:"version,omitempty"`
	RequestID   string    `json:"requestId,omitempty"`
	Environment string    `json:"environment,omitempty"`
	// Cold says the invocation's environment was started for it (start
	// and end).
	Cold bool `json:"cold,omitempty"`
	// Streaming says the caller relays the response as it comes.
	Streaming bool `json:"streaming,omitempty"`
	// Duration is how long the invocation ran (end), or how long the URL
	// request took to answer in full (url).
	Duration time.Duration `json:"durationNs,omitempty"`
	// InitDuration is the init phase of a cold invocation's environment
	// (end).
	InitDuration time.Duration `json:"initDurationNs,omitempty"`
	// ResponseBytes is what the runtime sent as its response (end), or
	// what the URL's client received of the body (url).
	ResponseBytes int64 `json:"responseBytes,omitempty"`
	// ErrorType is the function error of a failed invocation, "" on
	// success (end).
	ErrorType string `json:"errorType,omitempty"`
	// Status is Lambda's REPORT status ("timeout", "error") for an end,
	// or the HTTP status code for a url event.
	Status string `json:"status,omitempty"`
	// Line is a log line, without its newline (log).
	Line string `json:"line,omitempty"`
}

// observe hands an event to the Manager's observer, if any.
func (m *Manager) observe(ev Event) {
	if m.observer != nil {
		m.observer(ev)
	}
}
