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
	"testing/synctest"
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
				go runRuntime(ctx, sb.net, spec, hold)
			case <-ctx.Done():
				return
			}
		}
	}()
}

func runRuntime(ctx context.Context, n *memNet, spec Spec, hold time.Duration) {
	base := "http://" + spec.RuntimeAPI + "/2018-06-01/runtime/invocation/"
	c := n.client(0)
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"next", nil)
		resp, err := c.Do(req)
		if err != nil {
			return
		}
		payload, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		// Not time.Sleep: in a synctest bubble a runtime asleep when the
		// test ends would be a goroutine blocked for good.
		select {
		case <-time.After(hold):
		case <-ctx.Done():
			return
		}
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
	synctest.Test(t, testFingerprintChangeWithOneEnvironment)
}

func testFingerprintChangeWithOneEnvironment(t *testing.T) {
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
	synctest.Wait() // the old one is busy
	start := time.Now()
	second := invokeOnce(t, m, changed, "b")
	wg.Wait()
	// The new environment starts once the old one, its event answered
	// (300ms), has ended (its Runtime API's shutdown polls every ~1ms),
	// and answers 300ms later: no old one holds it up in between.
	if took := time.Since(start); took < 600*time.Millisecond || took >= 900*time.Millisecond {
		t.Errorf("the changed configuration answered after %s, want 600ms and the old environment's end", took)
	}
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
	synctest.Test(t, testCapCountsStartingEnvironmentsOnce)
}

func testCapCountsStartingEnvironmentsOnce(t *testing.T) {
	sb := newFakeSandbox()
	m := newCappedManager(t, sb, 2)
	serveRuntimes(t, sb, 500*time.Millisecond)
	fn := testFunction(t, 5*time.Second)
	start := time.Now()
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
	// Side by side, both are answered after one hold.
	if took := time.Since(start); took != 500*time.Millisecond {
		t.Fatalf("two invocations took %s, want 500ms", took)
	}
}

// A runtime that drops its /next poll and polls again still gets the
// event, and the pool never counts it idle twice.
func TestAbandonedPollIsNotAFreeEnvironment(t *testing.T) {
	synctest.Test(t, testAbandonedPollIsNotAFreeEnvironment)
}

func testAbandonedPollIsNotAFreeEnvironment(t *testing.T) {
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
	synctest.Wait()
	if total, idle := m.Stats("fn", "$LATEST"); total != 1 || idle != 0 {
		t.Fatalf("after abandoned polls: %d environments, %d idle, want 1 and 0", total, idle)
	}
	// An invocation now waits for the runtime's next poll.
	done := make(chan string, 1)
	go func() { done <- invokeOnce(t, m, testFunction(t, 5*time.Second), `{"n":2}`) }()
	synctest.Wait()
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
	synctest.Test(t, testCloseWhileStarting)
}

func testCloseWhileStarting(t *testing.T) {
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
	synctest.Test(t, testWaitEndsWithTheContext)
}

func testWaitEndsWithTheContext(t *testing.T) {
	sb := newFakeSandbox()
	m := newCappedManager(t, sb, 1)
	serveRuntimes(t, sb, 300*time.Millisecond)
	fn := testFunction(t, 5*time.Second)
	go invokeOnce(t, m, fn, "busy")
	synctest.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := m.Invoke(ctx, &Invocation{Function: fn, RequestID: "late", Unreserved: 100}); err != context.DeadlineExceeded {
		t.Fatalf("Invoke with an ending context: %v", err)
	}
	if took := time.Since(start); took != 50*time.Millisecond {
		t.Fatalf("the wait ended after %s, want the context's 50ms", took)
	}
	if got := invokeOnce(t, m, fn, "after"); got != "f1:after" {
		t.Fatalf("after a waiter gave up: %q", got)
	}
}

// An environment left idle lives IdleTimeout, not a moment less or more,
// and each invocation starts its idle clock again.
func TestIdleEnvironmentIsReapedAtItsTimeout(t *testing.T) {
	synctest.Test(t, testIdleEnvironmentIsReapedAtItsTimeout)
}

func testIdleEnvironmentIsReapedAtItsTimeout(t *testing.T) {
	sb := newFakeSandbox()
	m, err := New(Config{DataDir: t.TempDir(), Sandbox: sb, IdleTimeout: time.Minute, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	serveRuntimes(t, sb, 0)
	fn := testFunction(t, 5*time.Second)
	alive := func() bool {
		t.Helper()
		synctest.Wait()
		sb.mu.Lock()
		defer sb.mu.Unlock()
		if len(sb.procs) != 1 {
			t.Fatalf("%d environments started, want 1", len(sb.procs))
		}
		select {
		case <-sb.procs[0].done:
			return false
		default:
			return true
		}
	}

	invokeOnce(t, m, fn, "a")
	synctest.Wait() // the runtime polls again: idle from now
	time.Sleep(30 * time.Second)
	if got := invokeOnce(t, m, fn, "b"); got != "f1:b" || !alive() {
		t.Fatalf("after 30s idle: %q, alive %v", got, alive())
	}
	// Idle again from now: the first invocation's clock no longer counts.
	time.Sleep(time.Minute - time.Millisecond)
	if !alive() {
		t.Fatal("the environment ended before IdleTimeout since its last invocation")
	}
	time.Sleep(time.Millisecond)
	if alive() {
		t.Fatal("the environment outlived IdleTimeout")
	}
	// Its teardown (at most a second) leaves the pool empty.
	time.Sleep(time.Second)
	synctest.Wait()
	if total, idle := m.Stats("fn", "$LATEST"); total != 0 || idle != 0 {
		t.Fatalf("after reaping: %d environments, %d idle", total, idle)
	}
}

// A runtime has one /next at a time: a second poll while the first waits
// is refused after pollGrace, not at once (the first may be a poll the
// runtime gave up on, which the server has yet to notice); and when the
// first does end within the grace, the second takes its place.
func TestSecondPollWaitsPollGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := newFakeSandbox()
		m := newTestManager(t, sb)
		fn := testFunction(t, 5*time.Second)
		out, rt := startInvoke(t, m, sb, fn, `{}`)
		rt.do("GET", "/runtime/invocation/next", nil, nil)
		rt.do("POST", reqPath+"/response", strings.NewReader("one"), nil)
		wait(t, out)

		firstCtx, dropFirst := context.WithCancel(context.Background())
		defer dropFirst()
		first := make(chan error, 1)
		go func() {
			req, _ := http.NewRequestWithContext(firstCtx, "GET", rt.base+"/runtime/invocation/next", nil)
			resp, err := rt.c.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			first <- err
		}()
		synctest.Wait() // the first poll waits for an event

		start := time.Now()
		resp, body := rt.do("GET", "/runtime/invocation/next", nil, nil)
		assertAPIError(t, resp, body, http.StatusForbidden, "InvalidStateTransition")
		if took := time.Since(start); took != pollGrace {
			t.Fatalf("the second poll was refused after %s, want %s", took, pollGrace)
		}

		// Now the first is given up on, 100ms into the second's grace.
		second := make(chan *http.Response, 1)
		go func() {
			resp, _ := rt.do("GET", "/runtime/invocation/next", nil, nil)
			second <- resp
		}()
		time.Sleep(100 * time.Millisecond)
		dropFirst()
		if err := <-first; err == nil {
			t.Fatal("the dropped poll got an answer")
		}
		synctest.Wait()
		done := make(chan string, 1)
		go func() { done <- invokeOnce(t, m, fn, "two") }()
		resp = <-second
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Lambda-Runtime-Aws-Request-Id") == "" {
			t.Fatalf("the poll that outlived the dropped one got %d", resp.StatusCode)
		}
		rt.do("POST", "/runtime/invocation/"+resp.Header.Get("Lambda-Runtime-Aws-Request-Id")+"/response", strings.NewReader("two"), nil)
		if got := <-done; got != "two" {
			t.Fatalf("got %q", got)
		}
	})
}
