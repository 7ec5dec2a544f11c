package runtimeapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// serveRuntimes plays a well-behaved runtime for every environment the
// sandbox starts: it answers each event with "<fingerprint>:<payload>"
// after hold, until its process is killed.
func serveRuntimes(t *testing.T, sb *fakeSandbox, hold time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for {
			select {
			case spec := <-sb.specs:
				go runRuntime(ctx, spec, hold)
			case <-ctx.Done():
				return
			}
		}
	}()
}

func runRuntime(ctx context.Context, spec Spec, hold time.Duration) {
	base := "http://" + spec.RuntimeAPI + "/2018-06-01/runtime/invocation/"
	c := &http.Client{}
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"next", nil)
		resp, err := c.Do(req)
		if err != nil {
			return
		}
		payload, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		time.Sleep(hold)
		req, _ = http.NewRequestWithContext(ctx, "POST", base+id+"/response", strings.NewReader(spec.Function.Fingerprint+":"+string(payload)))
		if resp, err = c.Do(req); err != nil {
			return
		}
		resp.Body.Close()
	}
}

func invokeOnce(t *testing.T, m *Manager, fn Function, payload string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A large unreserved share: these tests wait on the environment cap,
	// not on the concurrency account.
	res, err := m.Invoke(ctx, &Invocation{Function: fn, RequestID: newRequestIDForTest(), Payload: []byte(payload), Unreserved: 100})
	if err != nil {
		t.Errorf("Invoke: %v", err)
		return ""
	}
	body, _ := io.ReadAll(res.Body)
	if fe := res.Wait(); fe != nil {
		t.Errorf("Invoke: %s", fe)
	}
	return string(body)
}

var testIDs atomic.Int64

func newRequestIDForTest() string {
	return fmt.Sprintf("00000000-0000-0000-0000-%012d", testIDs.Add(1))
}

// newCappedManager is a manager allowing max environments per version.
func newCappedManager(t *testing.T, sb Sandbox, max int) *Manager {
	t.Helper()
	m, err := New(Config{DataDir: t.TempDir(), Sandbox: sb, MaxEnvironments: max, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// A configuration change while the only allowed environment is busy: the
// waiting invocation gets an environment of the new configuration as soon
// as the old one finishes, not a churn of old ones.
func TestFingerprintChangeWithOneEnvironment(t *testing.T) {
	sb := newFakeSandbox()
	m := newCappedManager(t, sb, 1)
	serveRuntimes(t, sb, 300*time.Millisecond)
	old := testFunction(t, 5*time.Second)
	changed := old
	changed.Fingerprint = "f2"

	var wg sync.WaitGroup
	wg.Add(1)
	var first string
	go func() {
		defer wg.Done()
		first = invokeOnce(t, m, old, "a")
	}()
	time.Sleep(100 * time.Millisecond) // the old one is busy
	second := invokeOnce(t, m, changed, "b")
	wg.Wait()
	if first != "f1:a" || second != "f2:b" {
		t.Fatalf("got %q and %q", first, second)
	}
	sb.mu.Lock()
	started := len(sb.procs)
	sb.mu.Unlock()
	if started != 2 {
		t.Fatalf("%d environments started, want 2 (one per configuration)", started)
	}
}

// Two concurrent cold invocations under a cap of two start two
// environments: a starting environment counts once.
func TestCapCountsStartingEnvironmentsOnce(t *testing.T) {
	sb := newFakeSandbox()
	m := newCappedManager(t, sb, 2)
	serveRuntimes(t, sb, 500*time.Millisecond)
	fn := testFunction(t, 5*time.Second)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			invokeOnce(t, m, fn, "x")
		}()
	}
	wg.Wait()
	if total, _ := m.Stats("fn", "$LATEST"); total != 2 {
		t.Fatalf("%d environments, want 2", total)
	}
}

// A runtime that drops its /next poll and polls again still gets the
// event, and the pool never counts it idle twice.
func TestAbandonedPollIsNotAFreeEnvironment(t *testing.T) {
	sb := newFakeSandbox()
	m := newTestManager(t, sb)
	out, rt := startInvoke(t, m, sb, testFunction(t, 5*time.Second), `{"n":1}`)
	// The first event: answer it.
	rt.do("GET", "/runtime/invocation/next", nil, nil)
	rt.do("POST", reqPath+"/response", strings.NewReader("one"), nil)
	wait(t, out)
	// Poll and give up, twice.
	for i := 0; i < 2; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "GET", rt.base+"/runtime/invocation/next", nil)
		if resp, err := rt.c.Do(req); err == nil {
			resp.Body.Close()
			t.Fatal("/next answered with no event pending")
		}
		cancel()
	}
	// The server notices the dropped polls when their connections close.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		total, idle := m.Stats("fn", "$LATEST")
		if total != 1 || idle > 1 {
			t.Fatalf("after abandoned polls: %d environments, %d idle", total, idle)
		}
		if idle == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an environment whose runtime stopped polling stays idle")
		}
	}
	// An invocation now waits for the runtime's next poll.
	done := make(chan string, 1)
	go func() { done <- invokeOnce(t, m, testFunction(t, 5*time.Second), `{"n":2}`) }()
	time.Sleep(50 * time.Millisecond)
	resp, body := rt.do("GET", "/runtime/invocation/next", nil, nil)
	if resp.StatusCode != 200 || body != `{"n":2}` {
		t.Fatalf("/next after abandoned polls: %d %q", resp.StatusCode, body)
	}
	rt.do("POST", "/runtime/invocation/"+resp.Header.Get("Lambda-Runtime-Aws-Request-Id")+"/response", strings.NewReader("two"), nil)
	if got := <-done; got != "two" {
		t.Fatalf("got %q", got)
	}
}

// Close while an environment is starting ends it, and waiting
// invocations learn the manager closed.
func TestCloseWhileStarting(t *testing.T) {
	sb := newFakeSandbox()
	m, err := New(Config{DataDir: t.TempDir(), Sandbox: sb, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := m.Invoke(context.Background(), &Invocation{Function: testFunction(t, 5*time.Second), RequestID: "r"})
		errc <- err
	}()
	<-sb.specs // the environment is starting; its runtime never polls
	closed := make(chan struct{})
	go func() {
		m.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung")
	}
	select {
	case err := <-errc:
		if err != ErrClosed {
			t.Fatalf("waiting Invoke got %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting Invoke never returned")
	}
	if _, err := m.Invoke(context.Background(), &Invocation{Function: testFunction(t, time.Second)}); err != ErrClosed {
		t.Fatalf("Invoke after Close: %v", err)
	}
}

// An invocation whose context ends while it waits for an environment
// returns, and the environment it was going to get stays usable.
func TestWaitEndsWithTheContext(t *testing.T) {
	sb := newFakeSandbox()
	m := newCappedManager(t, sb, 1)
	serveRuntimes(t, sb, 300*time.Millisecond)
	fn := testFunction(t, 5*time.Second)
	go invokeOnce(t, m, fn, "busy")
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := m.Invoke(ctx, &Invocation{Function: fn, RequestID: "late", Unreserved: 100}); err != context.DeadlineExceeded {
		t.Fatalf("Invoke with an ending context: %v", err)
	}
	if got := invokeOnce(t, m, fn, "after"); got != "f1:after" {
		t.Fatalf("after a waiter gave up: %q", got)
	}
}
