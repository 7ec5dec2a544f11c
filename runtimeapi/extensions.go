package runtimeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// The Extensions API, served beside the Runtime API on the same listener.
const (
	extPrefix       = "/2020-01-01/extension"
	extNameHeader   = "Lambda-Extension-Name"
	extIDHeader     = "Lambda-Extension-Identifier"
	extErrorHeader  = "Lambda-Extension-Function-Error-Type"
	extEventIDHeadr = "Lambda-Extension-Event-Identifier"
)

// maxExtensions is how many extensions Lambda lets one environment
// register.
const maxExtensions = 10

// shutdownDeadline is how long extensions have for a SHUTDOWN event
// before their environment is killed.
const shutdownDeadline = 2 * time.Second

// extensionStarter is a Process that started external extensions beside
// its runtime: init waits for as many to register. A sandbox that starts
// none (its Process lacks the method) holds no init back.
type extensionStarter interface {
	Extensions() []string
}

// extensionWatcher is a Process that tells when its external extensions
// have all exited: a SHUTDOWN is over then, whether or not they called
// /event/next again.
type extensionWatcher interface {
	ExtensionsGone() <-chan struct{}
}

// extensions are the extensions registered in one environment.
type extensions struct {
	mu sync.Mutex
	// external names the external extensions the sandbox started: init
	// waits for each to register. An extension registering under another
	// name is internal (it runs in the runtime's process).
	external []string
	// closed ends registration: init is over.
	closed bool
	byID   map[string]*extension
	all    []*extension
	// changed is closed, and replaced, whenever an extension registers or
	// its state changes, waking whoever waits for one.
	changed chan struct{}
	// shuttingDown is set once SHUTDOWN went out: the environment is
	// killed when the extensions are done with it.
	shuttingDown bool
	// gone is closed once the external extensions have all exited, where
	// the sandbox tells; nil otherwise.
	gone <-chan struct{}
}

// extension is one registered extension.
type extension struct {
	id, name         string
	invoke, shutdown bool
	// queue holds the events not yet taken by a /event/next.
	queue []extensionEvent
	// busy is set from an event's delivery, and from registration, until
	// the extension next calls /event/next with nothing left to take.
	busy bool
}

// extensionEvent is what /event/next answers.
type extensionEvent struct {
	EventType          string          `json:"eventType"`
	DeadlineMs         int64           `json:"deadlineMs"`
	RequestID          string          `json:"requestId,omitempty"`
	InvokedFunctionArn string          `json:"invokedFunctionArn,omitempty"`
	Tracing            *extensionTrace `json:"tracing,omitempty"`
	ShutdownReason     string          `json:"shutdownReason,omitempty"`
}

type extensionTrace struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// broadcastLocked wakes every waiter.
func (x *extensions) broadcastLocked() {
	if x.changed != nil {
		close(x.changed)
	}
	x.changed = make(chan struct{})
}

// waitChLocked is the channel that closes at the next change.
func (x *extensions) waitChLocked() <-chan struct{} {
	if x.changed == nil {
		x.changed = make(chan struct{})
	}
	return x.changed
}

// settledLocked says whether every extension is waiting for its next
// event, and, during init, whether every extension started has registered.
func (x *extensions) settledLocked() bool {
	if !x.closed {
		for _, name := range x.external {
			if !slices.ContainsFunc(x.all, func(ext *extension) bool { return ext.name == name }) {
				return false
			}
		}
	}
	for _, ext := range x.all {
		if ext.busy {
			return false
		}
	}
	return true
}

// settle waits until every extension has called /event/next since its
// last event (and, during init, every one started has registered). It
// reports false when the environment died or ctx ended first; an init
// that failed meanwhile ends the wait too, for the caller to refuse.
func (e *env) settle(ctx context.Context) bool {
	for {
		e.ext.mu.Lock()
		if e.ext.settledLocked() {
			e.ext.mu.Unlock()
			return true
		}
		ch := e.ext.waitChLocked()
		// A successful init closes initDone only once settled, and
		// registration with it: until then, initDone closing is a failure.
		var failed <-chan struct{}
		if !e.ext.closed {
			failed = e.initDone
		}
		e.ext.mu.Unlock()
		select {
		case <-ch:
		case <-failed:
			return true
		case <-e.dying:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// waitExtensions waits, once the runtime has answered c, for every
// extension to be done with c's INVOKE: the invocation is not over until
// they are. Those that are not by c's deadline time it out, and the
// environment ends; waitExtensions then reports false.
func (e *env) waitExtensions(c *call) bool {
	e.ext.mu.Lock()
	none := len(e.ext.all) == 0
	e.ext.mu.Unlock()
	if none {
		return true
	}
	c.mu.Lock()
	deadline := c.deadline.Add(c.heldFor)
	c.mu.Unlock()
	if e.settleUntil(deadline, nil) {
		return true
	}
	select {
	case <-e.dying:
		return true
	default:
	}
	// The environment ends here: its call's own timer need not.
	c.disarm()
	e.killFor("timeout")
	return false
}

// settleUntil is settle bounded by a deadline. It also ends, reporting
// false, when gone (if not nil) closes.
func (e *env) settleUntil(deadline time.Time, gone <-chan struct{}) bool {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for {
		e.ext.mu.Lock()
		if e.ext.settledLocked() {
			e.ext.mu.Unlock()
			return true
		}
		ch := e.ext.waitChLocked()
		e.ext.mu.Unlock()
		select {
		case <-ch:
		case <-e.dying:
			return false
		case <-gone:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// watchExtensionsInit fails init, as Lambda does, when the external
// extensions have all exited before it ended.
func (e *env) watchExtensionsInit() {
	select {
	case <-e.ext.gone:
	case <-e.initDone:
		return
	case <-e.dying:
		return
	}
	e.ext.mu.Lock()
	over := e.ext.closed
	e.ext.mu.Unlock()
	if !over && e.failInit(&initFailure{typ: "Extension.Crash", exit: "Extension exited before completing init"}) {
		e.ext.mu.Lock()
		e.ext.broadcastLocked()
		e.ext.mu.Unlock()
	}
}

// closeRegistration ends registration: init is over.
func (x *extensions) closeRegistration() {
	x.mu.Lock()
	x.closed = true
	x.broadcastLocked()
	x.mu.Unlock()
}

// deliverInvoke hands the call's INVOKE event to every extension
// registered for it.
func (e *env) deliverInvoke(c *call) {
	e.ext.mu.Lock()
	defer e.ext.mu.Unlock()
	if len(e.ext.all) == 0 {
		return
	}
	ev := extensionEvent{EventType: "INVOKE", DeadlineMs: c.deadline.UnixMilli(), RequestID: c.inv.RequestID, InvokedFunctionArn: c.inv.InvokedARN}
	if c.inv.TraceID != "" {
		ev.Tracing = &extensionTrace{Type: "X-Amzn-Trace-Id", Value: c.inv.TraceID}
	}
	for _, ext := range e.ext.all {
		if ext.invoke {
			ext.queue = append(ext.queue, ev)
			ext.busy = true
		}
	}
	e.ext.broadcastLocked()
}

// shutdownExtensions sends SHUTDOWN to the extensions registered for it
// and waits, at most shutdownDeadline, for each to call /event/next again
// (or for the environment to end).
func (e *env) shutdownExtensions(reason string) {
	deadline := time.Now().Add(shutdownDeadline)
	e.ext.mu.Lock()
	sent := false
	for _, ext := range e.ext.all {
		if ext.shutdown {
			ext.queue = append(ext.queue, extensionEvent{EventType: "SHUTDOWN", ShutdownReason: reason, DeadlineMs: deadline.UnixMilli()})
			ext.busy = true
			sent = true
		}
	}
	// No registration after a shutdown.
	e.ext.closed = true
	e.ext.broadcastLocked()
	gone := e.ext.gone
	e.ext.mu.Unlock()
	if sent {
		// Extensions most often exit on SHUTDOWN rather than ask for more.
		e.settleUntil(deadline, gone)
	}
}

// How killFor goes about a kill.
const (
	killNow           = iota // no extension waits for SHUTDOWN
	killAfterShutdown        // SHUTDOWN goes out first
	killUnderWay             // a SHUTDOWN already under way ends with the kill
)

// beginShutdown says how a kill goes, and marks a SHUTDOWN under way.
func (x *extensions) beginShutdown() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.shuttingDown {
		return killUnderWay
	}
	for _, ext := range x.all {
		if ext.shutdown {
			x.shuttingDown = true
			return killAfterShutdown
		}
	}
	return killNow
}

// logExtensionsReady writes Lambda's EXTENSION line for each extension
// registered when init ended, into the init's log.
func (e *env) logExtensionsReady() {
	e.ext.mu.Lock()
	var lines [][]byte
	for _, ext := range e.ext.all {
		var events []string
		if ext.invoke {
			events = append(events, "INVOKE")
		}
		if ext.shutdown {
			events = append(events, "SHUTDOWN")
		}
		lines = append(lines, []byte("EXTENSION\tName: "+ext.name+"\tState: Ready\tEvents: ["+strings.Join(events, ",")+"]"))
	}
	e.ext.mu.Unlock()
	if len(lines) == 0 {
		return
	}
	e.mu.Lock()
	for _, l := range lines {
		e.initLog.add(l)
	}
	e.mu.Unlock()
	e.emit("", lines...)
}

// extensionRoutes adds the Extensions API to mux.
func (e *env) extensionRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+extPrefix+"/register", e.extRegister)
	mux.HandleFunc("GET "+extPrefix+"/event/next", e.extNext)
	mux.HandleFunc("POST "+extPrefix+"/init/error", func(w http.ResponseWriter, r *http.Request) { e.extError(w, r, true) })
	mux.HandleFunc("POST "+extPrefix+"/exit/error", func(w http.ResponseWriter, r *http.Request) { e.extError(w, r, false) })
}

// extRegister registers an extension, during init only.
func (e *env) extRegister(w http.ResponseWriter, r *http.Request) {
	name := r.Header.Get(extNameHeader)
	if name == "" {
		renderError(w, http.StatusForbidden, "Extension.InvalidExtensionName", "Empty extension name")
		return
	}
	// The body is JSON, even when empty of events; the errors are worded
	// as Lambda's runtime words them.
	var body struct {
		Events            []string `json:"events"`
		ConfigurationKeys []string `json:"configurationKeys"`
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil {
		err = json.Unmarshal(raw, &body)
	}
	if err == nil && len(body.ConfigurationKeys) > 0 {
		err = errors.New("configurationKeys are deprecated; use environment variables instead")
	}
	if err != nil {
		renderError(w, http.StatusForbidden, "InvalidRequestFormat", err.Error())
		return
	}
	x := &e.ext
	x.mu.Lock()
	external := slices.Contains(x.external, name)
	x.mu.Unlock()
	ext := &extension{id: uuid.NewString(), name: name, busy: true}
	for _, ev := range body.Events {
		switch {
		case ev == "INVOKE":
			ext.invoke = true
		case ev == "SHUTDOWN" && external:
			ext.shutdown = true
		case ev == "SHUTDOWN":
			// An internal extension lives and dies with the runtime's
			// process: there is no shutting it down on its own.
			renderError(w, http.StatusForbidden, "Extension.InvalidEventType", ev+": ShutdownEventNotSupportedForInternalExtension")
			return
		default:
			renderError(w, http.StatusForbidden, "Extension.InvalidEventType", ev+": ErrorInvalidEventType")
			return
		}
	}
	x.mu.Lock()
	switch {
	case x.closed:
		x.mu.Unlock()
		renderError(w, http.StatusForbidden, "Extension.RegistrationClosed", "Extension registration closed already")
		return
	case len(x.all) >= maxExtensions:
		x.mu.Unlock()
		renderError(w, http.StatusForbidden, "Extension.TooManyExtensions", fmt.Sprintf("Extension limit (%d) reached", maxExtensions))
		return
	}
	for _, other := range x.all {
		if other.name == name {
			x.mu.Unlock()
			msg := "Extension with this name already registered"
			if external {
				msg = "State transition from Registered to Registered failed for extension " + name + ". Error: State transition is not allowed"
			}
			renderError(w, http.StatusForbidden, "Extension.InvalidExtensionState", msg)
			return
		}
	}
	if x.byID == nil {
		x.byID = map[string]*extension{}
	}
	x.byID[ext.id] = ext
	x.all = append(x.all, ext)
	x.broadcastLocked()
	x.mu.Unlock()
	var accountID string
	for _, f := range strings.Split(r.Header.Get("Lambda-Extension-Accept-Feature"), ",") {
		if strings.TrimSpace(f) == "accountId" {
			accountID = e.fn.AccountID
		}
	}
	w.Header().Set(extIDHeader, ext.id)
	renderJSON(w, http.StatusOK, struct {
		FunctionName    string `json:"functionName"`
		FunctionVersion string `json:"functionVersion"`
		Handler         string `json:"handler"`
		AccountID       string `json:"accountId,omitempty"`
	}{e.fn.Name, e.fn.Version, e.fn.Handler, accountID})
}

// extensionFor finds the extension a request names, answering for it when
// there is none.
func (e *env) extensionFor(w http.ResponseWriter, r *http.Request) *extension {
	id := r.Header.Get(extIDHeader)
	if id == "" {
		renderError(w, http.StatusForbidden, "Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier header")
		return nil
	}
	if _, err := uuid.Parse(id); err != nil {
		renderError(w, http.StatusForbidden, "Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier")
		return nil
	}
	e.ext.mu.Lock()
	ext := e.ext.byID[id]
	e.ext.mu.Unlock()
	if ext == nil {
		renderError(w, http.StatusForbidden, "Extension.UnknownExtensionIdentifier", "Unknown extension "+id)
		return nil
	}
	return ext
}

// extNext is an extension's long poll for its next event; calling it
// says the extension is done with its last.
func (e *env) extNext(w http.ResponseWriter, r *http.Request) {
	ext := e.extensionFor(w, r)
	if ext == nil {
		return
	}
	x := &e.ext
	for {
		x.mu.Lock()
		if len(ext.queue) > 0 {
			ev := ext.queue[0]
			ext.queue = ext.queue[1:]
			x.mu.Unlock()
			w.Header().Set(extEventIDHeadr, uuid.NewString())
			renderJSON(w, http.StatusOK, ev)
			return
		}
		if ext.busy {
			ext.busy = false
			x.broadcastLocked()
		}
		ch := x.waitChLocked()
		x.mu.Unlock()
		select {
		case <-ch:
		case <-e.dying:
			renderError(w, http.StatusInternalServerError, "Extension.EnvironmentEnded", "The execution environment has ended")
			return
		case <-r.Context().Done():
			return
		}
	}
}

// extError takes an extension's init or exit error. An init error fails
// the environment's init, as the runtime's own /init/error does.
func (e *env) extError(w http.ResponseWriter, r *http.Request, atInit bool) {
	ext := e.extensionFor(w, r)
	if ext == nil {
		return
	}
	typ := r.Header.Get(extErrorHeader)
	if typ == "" {
		renderError(w, http.StatusForbidden, "Extension.MissingHeader", "Missing Lambda-Extension-Function-Error-Type header")
		return
	}
	phase, state := "exit", "ExitError"
	if atInit {
		phase, state = "init", "InitError"
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, MaxBufferedResponse))
	if len(body) == 0 || !json.Valid(body) {
		body = errorPayload(typ, "Extension "+ext.name+" reported an "+phase+" error: "+typ)
	}
	line := []byte("EXTENSION\tName: " + ext.name + "\tState: " + state + "\tError Type: " + typ)
	if atInit {
		failed := false
		e.initOnce.Do(func() {
			failed = true
			e.mu.Lock()
			e.initLog.add(line)
			e.initErr = &initFailure{typ: typ, payload: body}
			e.mu.Unlock()
		})
		if !failed {
			renderInvalidState(w, "State transition from Ready to InitError failed: init has already finished")
			return
		}
		e.emit("", line)
		renderAccepted(w)
		close(e.initDone)
		return
	}
	e.emit("", line)
	e.m.log.Warn("an extension reported an exit error", "function", e.fn.Name, "env", e.id, "extension", ext.name, "error_type", typ)
	renderAccepted(w)
}

// ExtensionNames lists the external extensions among a function's layers,
// given their merged directory (Spec.Opt): the executable files in its
// extensions/, in name order, as Lambda starts them. Anything else there
// is skipped.
func ExtensionNames(opt string) ([]string, error) {
	if opt == "" {
		return nil, nil
	}
	dir := filepath.Join(opt, "extensions")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list extensions: %w", err)
	}
	var names []string
	for _, de := range entries {
		fi, err := os.Stat(filepath.Join(dir, de.Name()))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			continue
		}
		names = append(names, de.Name())
	}
	return names, nil
}
