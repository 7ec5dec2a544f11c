package sandboxtest

import (
	"net"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"
)

// endpoint is the suite's side of the function: the server the Manager
// gives functions as AWS_ENDPOINT_URL_LAMBDA. The function waits there for
// the gates of its streams, and each of its processes holds a request to
// /alive/<id> open for as long as it lives: the kernel closes that
// connection when the process ends, however it ends, so the suite sees
// environments start and end without knowing what runs them.
type endpoint struct {
	url     string
	srv     *http.Server
	closing chan struct{}

	mu    sync.Mutex
	gates map[string]chan struct{}
	lives map[string]*life
}

// life is one process' alive connection.
type life struct {
	up, down chan struct{}
}

// startEndpoint listens where the sandbox makes the Runtime API reachable
// from inside, so that the sandbox makes the suite reachable too.
func startEndpoint(t *testing.T, listenHost string) *endpoint {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(listenHost, "0"))
	if err != nil {
		t.Fatalf("listen for the suite's endpoint: %v", err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	ep := &endpoint{
		url:     "http://" + net.JoinHostPort(host, port),
		closing: make(chan struct{}),
		gates:   map[string]chan struct{}{},
		lives:   map[string]*life{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /gate/{gate}/{i}", ep.gate)
	mux.HandleFunc("GET /alive/{id}", ep.alive)
	ep.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		ep.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		close(ep.closing)
		ep.srv.Close()
		<-served
	})
	return ep
}

func (ep *endpoint) gateChan(key string) chan struct{} {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ch := ep.gates[key]
	if ch == nil {
		ch = make(chan struct{})
		ep.gates[key] = ch
	}
	return ch
}

// open lets the function past gate i of a stream.
func (ep *endpoint) open(gate, i string) { close(ep.gateChan(gate + "/" + i)) }

func (ep *endpoint) gate(w http.ResponseWriter, r *http.Request) {
	select {
	case <-ep.gateChan(r.PathValue("gate") + "/" + r.PathValue("i")):
		w.WriteHeader(http.StatusOK)
	case <-r.Context().Done():
	case <-ep.closing:
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

func (ep *endpoint) life(id string) *life {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	l := ep.lives[id]
	if l == nil {
		l = &life{up: make(chan struct{}), down: make(chan struct{})}
		ep.lives[id] = l
	}
	return l
}

func (ep *endpoint) alive(w http.ResponseWriter, r *http.Request) {
	l := ep.life(r.PathValue("id"))
	if closed(l.up) {
		// One process per id: a second is the function's bug.
		http.Error(w, "this id is already alive", http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusOK)
	http.NewResponseController(w).Flush()
	close(l.up)
	select {
	case <-r.Context().Done():
		close(l.down)
	case <-ep.closing:
	}
}

// waitUp waits until the process named id holds its alive connection.
func (ep *endpoint) waitUp(t *testing.T, id string) {
	t.Helper()
	waitFor(t, ep.life(id).up, "process "+id+" to reach the suite's endpoint")
}

// waitDown waits until the process named id is gone: its alive
// connection has closed.
func (ep *endpoint) waitDown(t *testing.T, id string) {
	t.Helper()
	waitFor(t, ep.life(id).down, "process "+id+" to end")
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// live lists the processes that hold their alive connection.
func (ep *endpoint) live() []string {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	var ids []string
	for id, l := range ep.lives {
		if closed(l.up) && !closed(l.down) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// safety bounds every wait for an event. It is a net that turns a hang
// into a failure, never a measurement: only a broken sandbox reaches it.
const safety = 60 * time.Second

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	timer := time.NewTimer(safety)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
		t.Fatalf("gave up waiting for %s after %s", what, safety)
	}
}

// eventually polls cond until it holds, within the safety bound, for
// states that announce no event (a pool's size, a sandbox's listing).
// cond says what it saw, for the failure message.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	for deadline := time.Now().Add(safety); ; time.Sleep(20 * time.Millisecond) {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %s: %s", what, safety, saw)
		}
	}
}
