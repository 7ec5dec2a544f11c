package runtimeapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Config configures a Manager. Zero values are documented per field.
type Config struct {
	// DataDir holds the extracted code (a cache, emptied at start).
	// Required.
	DataDir string
	// Sandbox starts runtimes. Required.
	Sandbox Sandbox
	// IdleTimeout is how long an unused environment lives. Zero means 10
	// minutes.
	IdleTimeout time.Duration
	// MaxEnvironments caps the environments of one function version. Zero
	// means 1000, Lambda's default account concurrency.
	MaxEnvironments int
	// MaxStreamedResponse caps a streamed response. Zero means 200 MB.
	MaxStreamedResponse int64
	// MaxMemoryMB bounds the memory of all execution environments
	// together, as the sum of their functions' MemorySize: past it,
	// invocations wait for an environment (idle ones of other functions
	// are ended to make room) instead of starting more. One environment
	// may always run, however large. Zero means no bound.
	MaxMemoryMB int
	// MaxConcurrentStarts bounds how many environments have their sandbox
	// start a runtime at once (for a container, that includes finding or
	// pulling its image); the others queue, and their init clock starts
	// when their turn comes. Zero (or less) means four per CPU.
	MaxConcurrentStarts int
	// Logger receives furl's own logs. Nil means slog.Default().
	Logger *slog.Logger
	// CodeReferenced says whether some version still references the code
	// of a hash (hex SHA-256 of its zip). Extracted code that no
	// environment uses and no version references is deleted. Nil keeps
	// extracted code until furl restarts.
	CodeReferenced func(hash string) bool
	// Endpoint is furl's Lambda API URL (http://127.0.0.1:4580), given to
	// functions so that the SDK calls they make reach furl. Empty gives
	// them none.
	Endpoint string
	// FunctionOutput receives every line functions print, and Lambda's
	// START, END and REPORT lines, each prefixed with the function and the
	// request id. Nil discards them.
	FunctionOutput io.Writer
	// Observe hears every invocation's start and end, every throttle and
	// every log line, in order per environment. It runs on the invocation
	// path: it must return at once (count, or hand off to a bounded
	// queue). Nil hears nothing.
	Observe func(Event)
}

// Manager runs invocations in pools of execution environments.
type Manager struct {
	sandbox  Sandbox
	endpoint string
	// starting is given to every Sandbox.Start; Close cancels it, so that
	// a start stuck on its sandbox (an engine that stopped answering)
	// does not hold Close.
	starting   context.Context
	stopStarts context.CancelFunc
	// starts holds a token for each environment whose sandbox is starting
	// its runtime (boot): a burst of cold starts queues here instead of
	// having hundreds of processes start at once, which on a small machine
	// makes every start slow enough to run past the init limit and be
	// tried again, and the machine slower still.
	starts      chan struct{}
	code        *codeCache
	opt         *codeCache // functions' layers, merged
	idleTimeout time.Duration
	maxEnvs     int
	streamCap   int64
	log         *slog.Logger

	outMu    sync.Mutex
	out      io.Writer
	observer func(Event)

	// conc and rates are the limits of invocations: executions in flight,
	// and the request rate of reservations.
	conc  concurrency
	rates rateLimits
	mem   memoryBudget

	mu     sync.Mutex
	pools  map[poolKey]*pool
	closed bool
}

type poolKey struct{ name, version string }

// New makes a Manager.
func New(cfg Config) (*Manager, error) {
	if cfg.Sandbox == nil || cfg.DataDir == "" {
		return nil, errors.New("runtimeapi: a sandbox and a data directory are required")
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.MaxEnvironments == 0 {
		cfg.MaxEnvironments = 1000
	}
	if cfg.MaxStreamedResponse == 0 {
		cfg.MaxStreamedResponse = DefaultMaxStreamedResponse
	}
	if cfg.MaxConcurrentStarts <= 0 {
		cfg.MaxConcurrentStarts = 4 * goruntime.NumCPU()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.FunctionOutput == nil {
		cfg.FunctionOutput = io.Discard
	}
	code, err := newCodeCache(filepath.Join(cfg.DataDir, "runtime", "code"), cfg.CodeReferenced)
	if err != nil {
		return nil, err
	}
	opt, err := newOptCache(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	starting, stopStarts := context.WithCancel(context.Background())
	return &Manager{
		opt:         opt,
		starting:    starting,
		stopStarts:  stopStarts,
		starts:      make(chan struct{}, cfg.MaxConcurrentStarts),
		sandbox:     cfg.Sandbox,
		endpoint:    cfg.Endpoint,
		code:        code,
		idleTimeout: cfg.IdleTimeout,
		maxEnvs:     cfg.MaxEnvironments,
		streamCap:   cfg.MaxStreamedResponse,
		log:         cfg.Logger,
		out:         cfg.FunctionOutput,
		observer:    cfg.Observe,
		pools:       map[poolKey]*pool{},
		mem:         memoryBudget{limit: cfg.MaxMemoryMB},
	}, nil
}

// ErrClosed is returned by Invoke after Close.
var ErrClosed = errors.New("runtimeapi: manager closed")

func (m *Manager) poolFor(fn Function) (*pool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	k := poolKey{fn.Name, fn.Version}
	p := m.pools[k]
	if p == nil {
		p = &pool{m: m, fn: fn, all: map[*env]struct{}{}}
		m.pools[k] = p
	}
	return p, nil
}

// Invoke runs an invocation in a warm environment of its function version,
// or a new one. It returns when the runtime starts answering, or when the
// invocation has failed (the Result then carries the error). ctx bounds
// only the wait for an environment: once the runtime has the event, the
// function runs to its end or its timeout, as on Lambda. An error is
// furl's own failure, or ctx ending before an environment was free.
func (m *Manager) Invoke(ctx context.Context, inv *Invocation) (*Result, error) {
	p, err := m.poolFor(inv.Function)
	if err != nil {
		return nil, err
	}
	if fn := inv.Function; fn.CodeDir != "" && fn.PackageType != "Image" {
		// Hot reload: the folder as it is now decides which environments
		// are current (see hotreload.go).
		gen, warn := p.hot.observe(fn.CodeDir)
		if warn {
			m.log.Warn("hot-reload folder has too many entries: changes past the first ones are not seen", "function", fn.Name, "dir", fn.CodeDir, "max", maxHotEntries)
		}
		fn.hotBase, fn.hotGen = fn.Fingerprint, gen
		fn.Fingerprint = hotFingerprint(fn.Fingerprint, gen)
		cp := *inv
		cp.Function = fn
		inv = &cp
	}
	// A throttled invocation starts nothing.
	var release func()
	var terr *ThrottleError
	if inv.Rated && !m.rates.allow(inv.Function.Name, inv.Reserved) {
		terr = rateThrottle(inv.Function.Name, *inv.Reserved)
	} else {
		release, terr = m.conc.take(inv, m.maxEnvs)
	}
	if terr != nil {
		m.observe(Event{Kind: EventThrottle, Time: time.Now(), Function: inv.Function.Name, Version: inv.Function.Version,
			RequestID: inv.RequestID, Streaming: inv.Streaming})
		return nil, terr
	}
	for attempt := 0; attempt < maxDeliveryAttempts; attempt++ {
		e, fail, err := p.acquire(ctx, inv.Function)
		if err != nil {
			release()
			return nil, err
		}
		if fail != nil {
			release()
			return m.failedInit(inv, e, fail), nil
		}
		c := newCall(inv)
		c.onDone = release
		if !e.assign(c) {
			continue // the environment ended before its runtime took the event
		}
		select {
		case <-c.started:
		case <-c.done:
		}
		return c.result(), nil
	}
	release()
	c := newCall(inv)
	c.finish(newFunctionError("Runtime.ExitError", fmt.Sprintf(
		"RequestId: %s Error: %d execution environments in a row ended before their runtime took the event", inv.RequestID, maxDeliveryAttempts)), nil)
	return c.result(), nil
}

// maxDeliveryAttempts bounds how many environments an invocation tries
// when each ends before its runtime takes the event.
const maxDeliveryAttempts = 3

// failedInit is the result of an invocation whose environment failed to
// start: the init failure, with what init logged.
func (m *Manager) failedInit(inv *Invocation, e *env, fail *initFailure) *Result {
	c := newCall(inv)
	initD := time.Duration(0)
	phase := "init"
	if e != nil {
		e.mu.Lock()
		if !e.suppressed.IsZero() {
			phase = "invoke" // the init tried again inside this invocation
		}
		e.mu.Unlock()
		// Whatever init printed before it failed belongs in this log.
		e.proc.Quiet(100 * time.Millisecond)
		e.out.flushPartial()
		c.log.addRaw(e.initLog.tail(maxInvocationLog))
		initD = time.Since(e.initStart)
	}
	fe := fail.forRequest(inv.RequestID)
	envID := ""
	if e != nil {
		envID = e.id
	}
	now := time.Now()
	m.observe(Event{Kind: EventStart, Time: now, Function: inv.Function.Name, Version: inv.Function.Version,
		RequestID: inv.RequestID, Environment: envID, Cold: true, Streaming: inv.Streaming})
	c.finish(fe, func() {
		status := "error\tError Type: " + fe.Type
		if fe.Type == "Sandbox.Timedout" {
			status = "timeout"
		}
		line := fmt.Sprintf("INIT_REPORT Init Duration: %.2f ms\tPhase: %s\tStatus: %s", float64(initD.Microseconds())/1000, phase, status)
		c.log.add([]byte(line))
		m.emit(inv.Function, inv.RequestID, []byte(line))
		m.observe(Event{Kind: EventEnd, Time: time.Now(), Function: inv.Function.Name, Version: inv.Function.Version,
			RequestID: inv.RequestID, Environment: envID, Cold: true, Streaming: inv.Streaming,
			InitDuration: initD, ErrorType: fe.Type, Status: "error"})
	})
	return c.result()
}

// newEnv makes an environment, not yet started.
func (m *Manager) newEnv(p *pool, fn Function) *env {
	e := &env{
		m:        m,
		p:        p,
		id:       uuid.NewString()[:8],
		fn:       fn,
		deliver:  make(chan *call),
		dying:    make(chan struct{}),
		dead:     make(chan struct{}),
		initDone: make(chan struct{}),
	}
	e.out = &lineWriter{emit: e.line}
	return e
}

// boot starts a registered environment: its code, its process, then its
// Runtime API (whose listener's backlog holds an early runtime's
// connection). Init goes on in the background; initDone tells its outcome.
// A runtime that cannot start is an init failure, not an error.
func (m *Manager) boot(e *env) error {
	fn := e.fn
	// The wait for a start is not init: the init clock starts below.
	select {
	case m.starts <- struct{}{}:
	case <-m.starting.Done():
		return fmt.Errorf("start %s: the runtime manager is closed", fn.Name)
	}
	defer func() { <-m.starts }()
	codeDir, releaseCode := "", func() {}
	switch {
	case fn.CodeDir != "":
		// Hot reload: the folder itself, never copied or changed.
		codeDir = fn.CodeDir
	case fn.PackageType != "Image":
		var err error
		codeDir, releaseCode, err = m.code.acquire(fn.CodeHash, fn.CodePath)
		if err != nil {
			return fmt.Errorf("prepare code of %s: %w", fn.Name, err)
		}
	}
	optDir, releaseOpt, err := acquireOpt(m.opt, fn)
	if err != nil {
		releaseCode()
		return fmt.Errorf("prepare layers of %s: %w", fn.Name, err)
	}
	withoutOpt := releaseCode
	releaseCode = func() { withoutOpt(); releaseOpt() }
	e.releaseCode, e.codeDir = releaseCode, codeDir
	ln, err := m.listenRuntimeAPI()
	if err != nil {
		releaseCode()
		return fmt.Errorf("listen for the Runtime API: %w", err)
	}
	e.ln = ln
	e.mu.Lock()
	e.initStart = time.Now()
	e.mu.Unlock()
	spec := Spec{Function: fn, Code: codeDir, Opt: optDir, RuntimeAPI: ln.Addr().String(), Endpoint: m.endpoint,
		LogStream: NewLogStream(fn, e.initStart), Output: e.out, InitNote: e.writeInitStart}
	proc, err := m.sandbox.Start(m.starting, spec)
	// The sandbox wrote INIT_START with its note, or the runtime's first
	// line did without one; if neither, it is written now.
	e.writeInitStart("")
	var se *StartError
	switch {
	case errors.As(err, &se):
		ln.Close()
		line := fmt.Sprintf("Error: %s\n%s", se.Message, se.Type)
		e.initLog.add([]byte(line))
		m.emit(fn, "", []byte(line))
		e.setProc(deadProcess{})
		e.failInit(&initFailure{typ: se.Type, exit: se.Message})
		go e.watch()
		return nil
	case err != nil:
		ln.Close()
		releaseCode()
		return fmt.Errorf("start %s: %w", fn.Name, err)
	}
	e.srv = &http.Server{Handler: e.guard(e.routes()), ReadHeaderTimeout: 10 * time.Second, ConnContext: withPeerCheck}
	if xs, ok := proc.(extensionStarter); ok {
		// Init waits for the external extensions the sandbox started.
		e.ext.mu.Lock()
		e.ext.external = slices.Clone(xs.Extensions())
		if w, ok := proc.(extensionWatcher); ok && len(e.ext.external) > 0 {
			e.ext.gone = w.ExtensionsGone()
			go e.watchExtensionsInit()
		}
		e.ext.mu.Unlock()
	}
	e.setProc(proc)
	go e.srv.Serve(ln)
	go e.watch()
	m.log.Debug("execution environment started", "function", fn.Name, "version", fn.Version, "env", e.id, "runtime_api", spec.RuntimeAPI)
	return nil
}

// writeInitStart writes the environment's INIT_START line, once, before
// anything its runtime prints: AWS's shape, with the sandbox's note (what
// the runtime really runs on) after the runtime version.
func (e *env) writeInitStart(note string) {
	e.initStartOnce.Do(func() {
		version := e.fn.Runtime
		if note != "" {
			version += " (" + note + ")"
		}
		line := []byte(fmt.Sprintf("INIT_START Runtime Version: %s\tRuntime Version ARN: %s", version, e.fn.RuntimeVersionARN))
		e.mu.Lock()
		e.initLog.add(line)
		e.mu.Unlock()
		e.emit("", line)
	})
}

// runtimeAPIListener is a Sandbox that makes the listeners of its
// environments' Runtime APIs itself. Only the tests' fake sandboxes are:
// theirs are in memory, so that a test may run in a testing/synctest
// bubble, where a real socket never counts as blocked.
type runtimeAPIListener interface {
	listenRuntimeAPI() (net.Listener, error)
}

// listenRuntimeAPI makes the listener of an environment's Runtime API: a
// TCP port on the sandbox's listen host.
func (m *Manager) listenRuntimeAPI() (net.Listener, error) {
	if l, ok := m.sandbox.(runtimeAPIListener); ok {
		return l.listenRuntimeAPI()
	}
	return net.Listen("tcp", net.JoinHostPort(m.sandbox.ListenHost(), "0"))
}

// deadProcess stands for a runtime that could not be started.
type deadProcess struct{}

func (deadProcess) Done() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
func (deadProcess) Err() error          { return nil }
func (deadProcess) Kill()               {}
func (deadProcess) MaxMemoryMB() int    { return 0 }
func (deadProcess) Quiet(time.Duration) {}
func (deadProcess) Peer(net.Conn) error { return errors.New("the runtime never started") }

// Retire ends the environments of every version of a function: idle ones
// at once, busy ones when their invocation is over. Call it when the
// function's code or configuration changes, or it is deleted.
func (m *Manager) Retire(functionName string) {
	m.mu.Lock()
	var pools []*pool
	for k, p := range m.pools {
		if k.name == functionName {
			pools = append(pools, p)
		}
	}
	m.mu.Unlock()
	for _, p := range pools {
		p.retire()
	}
	// Code the change left unreferenced goes now, or when the last
	// environment running it ends.
	m.code.sweep()
	m.opt.sweep()
}

// memoryBudget is the memory furl may give execution environments, in
// MB, and how much of it the environments that exist or are starting
// hold. Pools that wait for memory queue for it in turn, so that a large
// function is not starved by a stream of small ones.
type memoryBudget struct {
	mu    sync.Mutex
	limit int // zero: no bound
	used  int
	queue []*pool // pools waiting for memory, first come first
}

// reserve takes mb for a new environment of p, if there is room and no
// pool waits before p; otherwise p joins the queue. With no bound, or no
// other environment, there is always room.
func (b *memoryBudget) reserve(p *pool, mb int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	waitsBehind := len(b.queue) > 0 && b.queue[0] != p
	if waitsBehind || b.limit > 0 && b.used > 0 && b.used+mb > b.limit {
		if !slices.Contains(b.queue, p) {
			b.queue = append(b.queue, p)
		}
		return false
	}
	if len(b.queue) > 0 && b.queue[0] == p {
		b.queue = b.queue[1:]
	}
	b.used += mb
	return true
}

// waitsBefore reports whether another pool waits for memory ahead of p.
func (b *memoryBudget) waitsBefore(p *pool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue) > 0 && b.queue[0] != p
}

// requeue moves p, if it waits, to the end of the queue.
func (b *memoryBudget) requeue(p *pool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.Index(b.queue, p); i >= 0 {
		b.queue = append(slices.Delete(b.queue, i, i+1), p)
	}
}

// leave takes p out of the queue: none of its invocations waits for
// memory any more.
func (b *memoryBudget) leave(p *pool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queue = slices.DeleteFunc(b.queue, func(q *pool) bool { return q == p })
}

// take counts mb as held whatever the bound: for an environment that
// replaces one about to give its memory back.
func (b *memoryBudget) take(mb int) {
	b.mu.Lock()
	b.used += mb
	b.mu.Unlock()
}

func (b *memoryBudget) release(mb int) {
	b.mu.Lock()
	b.used -= mb
	b.mu.Unlock()
}

// waiting lists the pools waiting for memory, first come first.
func (b *memoryBudget) waiting() []*pool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.queue)
}

// MemoryInUse is the memory, in MB, of the environments that exist or are
// starting: the sum of their functions' MemorySize.
func (m *Manager) MemoryInUse() int {
	m.mem.mu.Lock()
	defer m.mem.mu.Unlock()
	return m.mem.used
}

// snapshot lists the pools.
func (m *Manager) snapshot() []*pool {
	m.mu.Lock()
	defer m.mu.Unlock()
	pools := make([]*pool, 0, len(m.pools))
	for _, p := range m.pools {
		pools = append(pools, p)
	}
	return pools
}

// nudge lets pools whose invocations wait for memory start environments,
// in their turn, now that some was given back; while some still wait, an
// idle environment is ended to make more room.
func (m *Manager) nudge() {
	waiting := m.mem.waiting()
	for _, p := range waiting {
		p.spawnWaiting()
	}
	if len(waiting) > 0 && len(m.mem.waiting()) > 0 {
		m.evictIdle()
	}
}

// evictIdle ends the environment idle the longest, of any function, so
// that its memory goes to an invocation that waits for some.
func (m *Manager) evictIdle() {
	for range 3 { // another invocation may take the one chosen first
		var oldest *env
		var since time.Time
		for _, p := range m.snapshot() {
			if e, t := p.oldestIdle(); e != nil && (oldest == nil || t.Before(since)) {
				oldest, since = e, t
			}
		}
		if oldest == nil || oldest.p.evict(oldest) {
			return
		}
	}
}

// Stats reports a function version's environments: how many exist and
// how many are idle.
func (m *Manager) Stats(functionName, version string) (total, idle int) {
	m.mu.Lock()
	p := m.pools[poolKey{functionName, version}]
	m.mu.Unlock()
	if p == nil {
		return 0, 0
	}
	return p.size()
}

// Close ends every environment, fails invocations waiting for one, and
// waits for the environments to go.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.stopStarts()
	pools := m.snapshot()
	var envs []*env
	for _, p := range pools {
		envs = append(envs, p.close()...)
	}
	for _, e := range envs {
		e.kill()
	}
	for _, e := range envs {
		<-e.dead
	}
	return nil
}

// emit writes function log lines to furl's output, in one write.
func (m *Manager) emit(fn Function, requestID string, lines ...[]byte) {
	b := appendLogLines(make([]byte, 0, logLinesSize(fn, requestID, lines)), fn, requestID, lines)
	m.write(b)
	m.observeLines(fn, requestID, lines)
}

// write puts formatted log lines on furl's output.
func (m *Manager) write(b []byte) {
	m.outMu.Lock()
	m.out.Write(b)
	m.outMu.Unlock()
}

// observeLines reports log lines to the observer.
func (m *Manager) observeLines(fn Function, requestID string, lines [][]byte) {
	if m.observer == nil {
		return
	}
	now := time.Now()
	for _, line := range lines {
		m.observer(Event{Kind: EventLog, Time: now, Function: fn.Name, Version: fn.Version, RequestID: requestID, Line: string(line)})
	}
}

// logLinesSize is how many bytes appendLogLines adds for lines.
func logLinesSize(fn Function, requestID string, lines [][]byte) int {
	size := 0
	for _, line := range lines {
		size += len(fn.Name) + len(fn.Version) + len(requestID) + len(line) + 6
	}
	return size
}

// appendLogLines appends lines to b as furl's output shows them: each
// after the function, its version and the request it belongs to.
func appendLogLines(b []byte, fn Function, requestID string, lines [][]byte) []byte {
	for _, line := range lines {
		b = append(b, '[')
		b = append(b, fn.Name...)
		b = append(b, ':')
		b = append(b, fn.Version...)
		if requestID != "" {
			b = append(b, ' ')
			b = append(b, requestID...)
		}
		b = append(b, "] "...)
		b = append(b, line...)
		b = append(b, '\n')
	}
	return b
}

// lineWriter splits a process' output into lines.
type lineWriter struct {
	mu      sync.Mutex
	partial []byte
	emit    func([]byte)
}

// maxLine splits overlong lines, as Lambda does at 256 KB.
const maxLine = 256 << 10

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			if len(w.partial) >= maxLine {
				w.emit(w.partial)
				w.partial = w.partial[:0]
			}
			break
		}
		line := p[:i]
		if len(w.partial) > 0 {
			line = append(w.partial, line...)
			w.partial = w.partial[:0]
		}
		w.emit(bytes.TrimSuffix(line, []byte("\r")))
		p = p[i+1:]
	}
	return n, nil
}

// flushPartial emits a last line without its newline.
func (w *lineWriter) flushPartial() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.emit(w.partial)
		w.partial = w.partial[:0]
	}
}

func formatSeconds(s float64) string { return strconv.FormatFloat(s, 'f', 2, 64) }
