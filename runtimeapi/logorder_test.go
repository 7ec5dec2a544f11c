package runtimeapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// lockedWriter is an io.Writer tests read back while functions write.
type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// The START line is written once the event is on its way, yet it always
// comes before anything the function prints for the invocation, in the
// invocation's log and in furl's output, even when the function prints the
// moment it has the event; and the END and REPORT lines follow, though
// the runtime's answer is accepted before they are written.
func TestStartLineComesBeforeTheFunctionsLines(t *testing.T) {
	sb := newFakeSandbox()
	var output lockedWriter
	m, err := New(Config{DataDir: t.TempDir(), Sandbox: sb, Logger: slog.New(slog.DiscardHandler), FunctionOutput: &output})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	fn := testFunction(t, 5*time.Second)
	var spec Spec
	var rt *runtime
	for i := range 50 {
		id := fmt.Sprintf("%08d-2222-3333-4444-555555555555", i)
		logs := make(chan string, 1)
		go func() {
			res, err := m.Invoke(context.Background(), &Invocation{Function: fn, RequestID: id, Payload: []byte(`{}`)})
			if err != nil {
				t.Error(err)
				logs <- ""
				return
			}
			io.Copy(io.Discard, res.Body)
			logs <- string(res.LogTail(4096))
		}()
		if i == 0 {
			spec = <-sb.specs
			rt = &runtime{t: t, base: "http://" + spec.RuntimeAPI + "/2018-06-01", c: sb.net.client(10 * time.Second)}
		}
		if resp, _ := rt.do("GET", "/runtime/invocation/next", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("/next: %d", resp.StatusCode)
		}
		fmt.Fprintf(spec.Output, "printed for %s\n", id)
		if resp, _ := rt.do("POST", "/runtime/invocation/"+id+"/response", strings.NewReader("ok"), nil); resp.StatusCode != 202 {
			t.Fatalf("/response: %d", resp.StatusCode)
		}
		log := <-logs
		want := []string{"START RequestId: " + id, "printed for " + id, "END RequestId: " + id, "REPORT RequestId: " + id}
		if !inOrder(log, want) {
			t.Fatalf("invocation %d's log is out of order:\n%s", i, log)
		}
		if !inOrder(output.String(), want) {
			t.Fatalf("invocation %d's lines are out of order in furl's output:\n%s", i, output.String())
		}
	}
}

// inOrder reports whether every one of parts is in s, each after the
// one before it.
func inOrder(s string, parts []string) bool {
	at := 0
	for _, p := range parts {
		i := strings.Index(s[at:], p)
		if i < 0 {
			return false
		}
		at += i + len(p)
	}
	return true
}

// writeRecorder keeps each Write furl's output gets, apart.
type writeRecorder struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func (w *writeRecorder) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.writes...)
}

// recordedManager is a manager on sb whose writes to furl's output are
// kept apart, one by one.
func recordedManager(t *testing.T, sb *fakeSandbox) (*Manager, *writeRecorder) {
	m := newTestManager(t, sb)
	output := &writeRecorder{}
	m.out = output
	return m, output
}

// startedRequestID is the request id of the call startInvokeSpec starts.
const startedRequestID = "11111111-2222-3333-4444-555555555555"

// answerOnce plays the runtime for the call startInvokeSpec started: it
// takes the event, runs during (if any), answers, and waits, in a
// synctest bubble, until the call and its closing lines are done.
func answerOnce(t *testing.T, out <-chan invokeOutcome, rt *runtime, during func()) {
	t.Helper()
	rt.do("GET", "/runtime/invocation/next", nil, nil)
	if during != nil {
		during()
	}
	rt.do("POST", "/runtime/invocation/"+startedRequestID+"/response", strings.NewReader("ok"), nil)
	wait(t, out)
	synctest.Wait()
}

// What the function printed that is still being passed on when it
// answers (here, lines its process' Quiet passes on), its END and its
// REPORT reach furl's output in one write, in that order; a line printed
// while the call runs goes out at once, in one write with the START line
// that waited for it.
func TestClosingLinesGoOutInOneWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := newFakeSandbox()
		var spec Spec
		sb.quiet = func(time.Duration) {
			fmt.Fprintf(spec.Output, "last words\nand more\n")
		}
		m, output := recordedManager(t, sb)
		fn := testFunction(t, 5*time.Second)
		id := startedRequestID
		var out <-chan invokeOutcome
		var rt *runtime
		out, rt, spec = startInvokeSpec(t, m, sb, fn, `{}`)
		answerOnce(t, out, rt, func() { fmt.Fprintf(spec.Output, "while running\n") })
		prefix := "[" + fn.Name + ":" + fn.Version + " " + id + "] "
		want := []string{
			prefix + "START RequestId: " + id + " Version: $LATEST\n" + prefix + "while running\n",
			prefix + "last words\n" + prefix + "and more\n" + prefix + "END RequestId: " + id + "\n" + prefix + "REPORT RequestId: " + id,
		}
		writes := output.all()
		if len(writes) < len(want) {
			t.Fatalf("furl's output got %d writes, want at least %d: %q", len(writes), len(want), writes)
		}
		writes = writes[len(writes)-len(want):]
		for i := range want {
			if !strings.HasPrefix(writes[i], want[i]) {
				t.Errorf("write %d of the call is\n%q\nwant it to start\n%q", i, writes[i], want[i])
			}
		}
	})
}

// A quick call that prints nothing reaches furl's output in one write,
// START to REPORT; one that runs on silent gets its START line on its
// own once it has waited startLineWait, long before its END; and the
// call's timeout still ends it then, not later.
func TestStartLineWaitsForCompanyBriefly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := newFakeSandbox()
		m, output := recordedManager(t, sb)
		fn := testFunction(t, 3*time.Second)
		out, rt, _ := startInvokeSpec(t, m, sb, fn, `{}`)
		id := startedRequestID
		prefix := "[" + fn.Name + ":" + fn.Version + " " + id + "] "
		answerOnce(t, out, rt, nil)
		writes := output.all()
		last := writes[len(writes)-1]
		if want := prefix + "START RequestId: " + id + " Version: $LATEST\n" + prefix + "END RequestId: " + id + "\n" + prefix + "REPORT RequestId: " + id; !strings.HasPrefix(last, want) {
			t.Fatalf("the quick call's write is %q, want it to start %q (all: %q)", last, want, writes)
		}

		// A second call, on the same environment, that stays silent.
		id2 := "21111111-2222-3333-4444-555555555555"
		res := make(chan error, 1)
		go func() {
			_, err := m.Invoke(context.Background(), &Invocation{Function: fn, RequestID: id2, Payload: []byte(`{}`)})
			res <- err
		}()
		before := len(output.all())
		rt.do("GET", "/runtime/invocation/next", nil, nil)
		delivered := time.Now()
		synctest.Wait()
		if got := output.all(); len(got) != before {
			t.Fatalf("the START line went out before it waited: %q", got[before:])
		}
		time.Sleep(startLineWait)
		synctest.Wait()
		got := output.all()
		if len(got) != before+1 || got[before] != "["+fn.Name+":"+fn.Version+" "+id2+"] START RequestId: "+id2+" Version: $LATEST\n" {
			t.Fatalf("after %v of silence, furl's output has %q, want the START line alone", startLineWait, got[before:])
		}
		// The timer that wrote it ends the call at its timeout: not before,
		// and not a startLineWait after.
		time.Sleep(time.Until(delivered.Add(3*time.Second)) - time.Millisecond)
		synctest.Wait()
		select {
		case err := <-res:
			t.Fatalf("the call ended before its timeout (%v)", err)
		default:
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		select {
		case err := <-res:
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatal("the call did not end at its timeout")
		}
		if all := strings.Join(output.all(), ""); !strings.Contains(all, id2+" Task timed out after 3.00 seconds") {
			t.Fatalf("the silent call did not time out: %q", output.all())
		}
	})
}

// A START line whose event took long to reach the runtime (a big event,
// a runtime slow to read it) goes out as soon as the event has, alone:
// its wait is over.
func TestStartLineOfASlowEventGoesOutAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := newFakeSandbox()
		m, output := recordedManager(t, sb)
		fn := testFunction(t, 30*time.Second)
		_, _, spec := startInvokeSpec(t, m, sb, fn, `{}`)
		id := startedRequestID
		conn, err := sb.net.dial(context.Background(), "tcp", spec.RuntimeAPI)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		// The runtime reads nothing for a while: furl's write of the event
		// waits, past startLineWait.
		time.Sleep(5 * startLineWait)
		synctest.Wait()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		synctest.Wait()
		want := "[" + fn.Name + ":" + fn.Version + " " + id + "] START RequestId: " + id + " Version: $LATEST\n"
		if writes := output.all(); len(writes) == 0 || writes[len(writes)-1] != want {
			t.Fatalf("furl's output once the event was read: %q, want START last, alone", writes)
		}
	})
}

// What a call prints while it closes is held back to go out with its END
// and REPORT, but no more than maxHeld of it: a function printing fast
// then has its output written in pieces of about that size, whole lines,
// in order.
func TestHeldOutputIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := newFakeSandbox()
		var spec Spec
		var printed int
		sb.quiet = func(time.Duration) {
			line := strings.Repeat("z", 999) + "\n"
			for range 4 * maxHeld / len(line) {
				io.WriteString(spec.Output, line)
				printed++
			}
		}
		m, output := recordedManager(t, sb)
		fn := testFunction(t, 5*time.Second)
		id := startedRequestID
		var out <-chan invokeOutcome
		var rt *runtime
		out, rt, spec = startInvokeSpec(t, m, sb, fn, `{}`)
		answerOnce(t, out, rt, nil)
		lines := 0
		for i, w := range output.all() {
			if len(w) > maxHeld+2<<10 {
				t.Errorf("write %d is %d bytes, over the bound of %d and a line", i, len(w), maxHeld)
			}
			if !strings.HasSuffix(w, "\n") {
				t.Errorf("write %d does not end a line", i)
			}
			lines += strings.Count(w, strings.Repeat("z", 999))
		}
		all := strings.Join(output.all(), "")
		if lines != printed || !inOrder(all, []string{"START RequestId: " + id, "zzz", "END RequestId: " + id, "REPORT RequestId: " + id}) {
			t.Fatalf("%d of %d lines came out, or out of order", lines, printed)
		}
		if tail := all[strings.LastIndex(all, "zzz"):]; strings.Count(tail, "\n") != 3 {
			t.Fatalf("END and REPORT do not follow the last line: %q", tail)
		}
	})
}
