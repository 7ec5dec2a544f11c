package runtimeapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// A connection the sandbox does not recognise as the environment's gets
// 403 for every request, and none of them changes the environment: its
// /next does not take the event, its /response does not answer it.
func TestRuntimeAPIRefusesStrangers(t *testing.T) {
	sb := &strangerSandbox{fakeSandbox: newFakeSandbox()}
	m := newTestManager(t, sb)
	out, rt := startInvoke(t, m, sb.fakeSandbox, testFunction(t, 5*time.Second), `{"x":1}`)

	sb.strangers(true)
	resp, body := rt.do("GET", "/runtime/invocation/next", nil, nil)
	assertAPIError(t, resp, body, http.StatusForbidden, "AccessDenied")
	resp, body = rt.do("POST", reqPath+"/response", strings.NewReader("forged"), nil)
	assertAPIError(t, resp, body, http.StatusForbidden, "AccessDenied")
	select {
	case o := <-out:
		t.Fatalf("the invocation ended with %+v after a stranger's requests", o)
	default:
	}

	// The runtime itself, on a connection of its own, gets the event.
	sb.strangers(false)
	rt.c = sb.net.client(10 * time.Second)
	resp, body = rt.do("GET", "/runtime/invocation/next", nil, nil)
	if resp.StatusCode != http.StatusOK || body != `{"x":1}` {
		t.Fatalf("/next from the runtime: %d %q", resp.StatusCode, body)
	}
	rt.do("POST", reqPath+"/response", strings.NewReader("mine"), nil)
	if o := wait(t, out); o.body != "mine" || o.fe != nil {
		t.Fatalf("the invoker got %+v", o)
	}
}

// strangerSandbox's processes refuse connections while strangers is on.
type strangerSandbox struct {
	*fakeSandbox
}

func (s *strangerSandbox) strangers(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		p.stranger = on
	}
}

// Past the memory furl may give environments, an invocation waits rather
// than start more: an idle environment of another function is ended to
// make room, and so is a busy one as soon as it is done.
func TestMemoryBoundWaitsAndEvicts(t *testing.T) {
	synctest.Test(t, testMemoryBoundWaitsAndEvicts)
}

func testMemoryBoundWaitsAndEvicts(t *testing.T) {
	sb := &countingSandbox{fakeSandbox: newFakeSandbox()}
	m, err := New(Config{DataDir: t.TempDir(), Sandbox: sb, MaxMemoryMB: 256, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	serveRuntimes(t, sb.fakeSandbox, 100*time.Millisecond)
	fns := map[string]Function{}
	for _, name := range []string{"a", "b", "c", "d"} {
		fn := testFunction(t, 5*time.Second)
		fn.Name = name
		fns[name] = fn
	}

	// a and b take the 256 MB and go idle; c's environment takes the
	// place of a's, the one idle the longest.
	for _, name := range []string{"a", "b", "c"} {
		if got := invokeOnce(t, m, fns[name], "x"); got != "f1:x" {
			t.Fatalf("%s: %q", name, got)
		}
		waitIdle(t, m, name)
	}
	for name, want := range map[string]int{"a": 0, "b": 1, "c": 1} {
		if total, _ := m.Stats(name, "$LATEST"); total != want {
			t.Fatalf("%s has %d environments, want %d", name, total, want)
		}
	}

	// Four functions at once in room for two: each gets its turn.
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b", "c", "d"} {
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if got := invokeOnce(t, m, fns[name], fmt.Sprint(i)); got != "f1:"+fmt.Sprint(i) {
					t.Errorf("%s: %q", name, got)
				}
			}()
		}
	}
	wg.Wait()
	if most := sb.most(); most > 2 {
		t.Fatalf("%d environments ran at once in room for 2", most)
	}
	if used := m.MemoryInUse(); used > 256 {
		t.Fatalf("%d MB in use, past the bound", used)
	}
}

// countingSandbox tracks how many of its processes live at once, counted
// at each start.
type countingSandbox struct {
	*fakeSandbox
	mu   sync.Mutex
	peak int
}

func (s *countingSandbox) Start(ctx context.Context, spec Spec) (Process, error) {
	p, err := s.fakeSandbox.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	live := 0
	s.fakeSandbox.mu.Lock()
	for _, q := range s.procs {
		select {
		case <-q.done:
		default:
			live++
		}
	}
	s.fakeSandbox.mu.Unlock()
	s.mu.Lock()
	s.peak = max(s.peak, live)
	s.mu.Unlock()
	return p, nil
}

func (s *countingSandbox) most() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// waitIdle checks, in a synctest bubble, that a function's environment
// polls for its next event once its runtime has nothing else to do.
func waitIdle(t *testing.T, m *Manager, name string) {
	t.Helper()
	synctest.Wait()
	if _, idle := m.Stats(name, "$LATEST"); idle != 1 {
		t.Fatalf("%s has %d idle environments, want 1", name, idle)
	}
}

// A large function waiting for memory is served in its turn: a stream of
// small functions' invocations does not take every MB as it comes free.
func TestMemoryGoesToTheLongestWaiting(t *testing.T) {
	synctest.Test(t, testMemoryGoesToTheLongestWaiting)
}

func testMemoryGoesToTheLongestWaiting(t *testing.T) {
	sb := newFakeSandbox()
	m, err := New(Config{DataDir: t.TempDir(), Sandbox: sb, MaxMemoryMB: 512, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	serveRuntimes(t, sb, 20*time.Millisecond)
	small, large := testFunction(t, 5*time.Second), testFunction(t, 5*time.Second)
	small.Name, large.Name = "small", "large"
	large.MemoryMB = 512

	// Small invocations keep all 512 MB busy, and keep coming.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				invokeOnce(t, m, small, fmt.Sprint(i, n))
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	for deadline := time.Now().Add(5 * time.Second); m.MemoryInUse() < 512; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the small invocations never filled the memory")
		}
	}
	// The large one needs all of it: it gets its turn while they go on.
	if got := invokeOnce(t, m, large, "big"); got != "f1:big" {
		t.Fatalf("large: %q", got)
	}
}

// A function whose last waiting invocation was served by one of its own
// environments waits for memory no more: another function that then
// waits is given the memory of its environments as they finish, not
// left until they are reaped as idle.
func TestMemoryWaitEndsWithTheLastWaiter(t *testing.T) {
	synctest.Test(t, testMemoryWaitEndsWithTheLastWaiter)
}

func testMemoryWaitEndsWithTheLastWaiter(t *testing.T) {
	sb := newFakeSandbox()
	m, err := New(Config{DataDir: t.TempDir(), Sandbox: sb, MaxMemoryMB: 256, IdleTimeout: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	serveRuntimes(t, sb, 100*time.Millisecond)
	slow, other := testFunction(t, 5*time.Second), testFunction(t, 5*time.Second)
	slow.Name, other.Name = "slow", "other"

	// Four of slow's invocations in room for two environments: the last
	// two wait for memory, then are served by the first two as they
	// finish (at 100 ms), which stay busy until 200 ms.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			invokeOnce(t, m, slow, fmt.Sprint(i))
		}()
	}
	time.Sleep(150 * time.Millisecond)
	synctest.Wait()
	if total, idle := m.Stats("slow", "$LATEST"); total != 2 || idle != 0 {
		t.Fatalf("slow has %d environments, %d idle; want 2 busy", total, idle)
	}
	// other waits for memory; slow's environments give theirs when done.
	start := time.Now()
	if got := invokeOnce(t, m, other, "x"); got != "f1:x" {
		t.Fatalf("other: %q", got)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("other waited %v for memory, past the 50 ms slow's environments were still busy", waited)
	}
	wg.Wait()
}

// A burst of cold starts is let through a few at a time: the others wait
// their turn, and every one is served.
func TestConcurrentStartsAreBounded(t *testing.T) {
	synctest.Test(t, testConcurrentStartsAreBounded)
}

func testConcurrentStartsAreBounded(t *testing.T) {
	sb := &gatedSandbox{fakeSandbox: newFakeSandbox(), gate: make(chan struct{})}
	m, err := New(Config{DataDir: t.TempDir(), Sandbox: sb, MaxConcurrentStarts: 2, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	serveRuntimes(t, sb.fakeSandbox, 0)
	const functions = 6
	var wg sync.WaitGroup
	for i := range functions {
		fn := testFunction(t, 5*time.Second)
		fn.Name = fmt.Sprint("f", i)
		wg.Go(func() {
			if got := invokeOnce(t, m, fn, "x"); got != "f1:x" {
				t.Errorf("%s: %q", fn.Name, got)
			}
		})
	}
	synctest.Wait()
	if n, _ := sb.counts(); n != 2 {
		t.Fatalf("%d starts under way at once, want the bound's 2", n)
	}
	close(sb.gate)
	wg.Wait()
	if _, peak := sb.counts(); peak != 2 {
		t.Fatalf("%d starts were under way at once, want 2", peak)
	}
	if started := len(sb.fakeSandbox.procs); started != functions {
		t.Fatalf("%d environments started for %d functions", started, functions)
	}
}

// gatedSandbox holds every start until gate closes, counting the starts
// under way.
type gatedSandbox struct {
	*fakeSandbox
	gate           chan struct{}
	mu             sync.Mutex
	inFlight, peak int
}

func (s *gatedSandbox) Start(ctx context.Context, spec Spec) (Process, error) {
	s.mu.Lock()
	s.inFlight++
	s.peak = max(s.peak, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	select {
	case <-s.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.fakeSandbox.Start(ctx, spec)
}

func (s *gatedSandbox) counts() (inFlight, peak int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight, s.peak
}
