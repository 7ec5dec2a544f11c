package e2e

import (
	"bufio"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// invokeInFlight starts a buffered Invoke of the reader function that
// cannot end before gate 1 of g opens, and returns where its outcome will
// arrive once furl has the request.
func invokeInFlight(t *testing.T, f *furl, g gate) <-chan error {
	t.Helper()
	c := f.client()
	done := make(chan error, 1)
	go func() {
		out, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("reader"),
			Payload: []byte(fmt.Sprintf(`{"tokens":2,"gate":%q}`, g))})
		if err == nil && (out.FunctionError != nil || string(out.Payload) != "data: token 1\n\ndata: token 2\n\n") {
			err = fmt.Errorf("the buffered call answered %q (function error %v)", out.Payload, aws.ToString(out.FunctionError))
		}
		done <- err
	}()
	f.logs.waitFor(t, "path=/2015-03-31/functions/reader/invocations", 20*time.Second)
	return done
}

// The first Ctrl-C cuts open streams at once, whatever their functions do,
// and says so in the log, while a buffered call in flight is let finish;
// furl exits once it has. The order proves it: the stream is cut while the
// buffered call is still held by its gate.
func TestShutdownCutsStreamsAndFinishesBufferedCalls(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createStreamFunction(t, c, "sse", "url", 60)
	createStreamFunction(t, c, "reader", "reader", 60)
	u := streamingURL(t, c, "sse")

	held := newGate(t) // never opened: only a cut ends this stream early
	resp, err := localhostClient.Get(u + "sse?n=3&gate=" + held.query())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	readTokens(t, br, held, 1)

	g := newGate(t)
	buffered := invokeInFlight(t, f, g)

	if err := f.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(br)
	if err == nil {
		t.Fatalf("the open stream ended cleanly after %q; furl must cut it", rest)
	}
	select {
	case err := <-buffered:
		t.Fatalf("the buffered call ended (%v) before its gate opened: furl did not let it finish", err)
	case <-f.exited:
		t.Fatal("furl exited with a buffered call in flight")
	default:
	}
	f.logs.waitFor(t, "furl is shutting down: the streaming URL's response is cut", 10*time.Second)
	// The URL's own log line, written as its handler ends, says why its
	// stream was cut. (Waiting for any "status=200" line would find the
	// health check's.)
	f.logs.waitFor(t, `cut="furl shut down"`, 10*time.Second)

	g.open(t, 1)
	if err := <-buffered; err != nil {
		t.Fatalf("the buffered call in flight at the first Ctrl-C: %v", err)
	}
	select {
	case <-f.exited:
		if f.exitErr != nil {
			t.Fatalf("furl exited with %v", f.exitErr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("furl did not exit once its last call finished")
	}
}

// A second Ctrl-C ends the calls still in flight at once instead of
// waiting out the grace.
func TestSecondSignalEndsInFlightCalls(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	createStreamFunction(t, f.client(), "reader", "reader", 60)
	g := newGate(t) // never opened
	buffered := invokeInFlight(t, f, g)

	if err := f.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	f.logs.waitFor(t, "shutting down: open streams are cut now", 10*time.Second)
	if err := f.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	f.logs.waitFor(t, "a second signal: ending in-flight calls now", 10*time.Second)
	select {
	case <-f.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("furl did not exit after a second Ctrl-C")
	}
	if err := <-buffered; err == nil {
		t.Fatal("the buffered call held by a closed gate succeeded")
	}
}
