package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// invokeEvent sends an Event invocation and returns the request id furl
// acknowledged it with.
func invokeEvent(t testing.TB, c *lambda.Client, fn string, payload []byte) (string, error) {
	t.Helper()
	out, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String(fn), InvocationType: types.InvocationTypeEvent, Payload: payload})
	if err != nil {
		return "", err
	}
	if out.StatusCode != http.StatusAccepted {
		t.Fatalf("Event invocation of %s answered %d", fn, out.StatusCode)
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	return id, nil
}

// mustQueue is invokeEvent that must be acknowledged.
func mustQueue(t testing.TB, c *lambda.Client, fn string, payload []byte) string {
	t.Helper()
	id, err := invokeEvent(t, c, fn, payload)
	if err != nil {
		t.Fatalf("Event invocation of %s: %v", fn, err)
	}
	return id
}

// eventJSON encodes a test function's event, padded with a "pad" member to
// exactly size bytes when size is above its natural length.
func eventJSON(t testing.TB, ev map[string]any, size int) []byte {
	t.Helper()
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if size <= len(raw) {
		return raw
	}
	ev["pad"] = ""
	raw, _ = json.Marshal(ev)
	ev["pad"] = strings.Repeat("x", size-len(raw))
	raw, _ = json.Marshal(ev)
	if len(raw) != size {
		t.Fatalf("padded event is %d bytes, not %d", len(raw), size)
	}
	return raw
}

// queuedFiles lists furl's event queue on disk.
func queuedFiles(t testing.TB, f *furl) []string {
	t.Helper()
	return dirNames(t, filepath.Join(f.dataDir, "events"))
}

// waitQueueEmpty waits until every queued event has gone.
func waitQueueEmpty(t testing.TB, f *furl, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); len(queuedFiles(t, f)) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still queued after %s: %v", timeout, queuedFiles(t, f))
		}
	}
}

// waitFiles waits until every path exists.
func waitFiles(t testing.TB, timeout time.Duration, paths ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, p := range paths {
		for {
			if _, err := os.Stat(p); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not appear within %s", p, timeout)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// lines reads a file of the test function's attempt lines.
func lines(t testing.TB, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(raw))
}

func putEventConfig(t testing.TB, c *lambda.Client, in *lambda.PutFunctionEventInvokeConfigInput) {
	t.Helper()
	if _, err := c.PutFunctionEventInvokeConfig(ctx(t), in); err != nil {
		t.Fatalf("PutFunctionEventInvokeConfig: %v", err)
	}
}

// The event invoke config API through the Go SDK: what is put is read
// back, an update keeps what it does not name, bad input changes nothing.
func TestEventInvokeConfigThroughSDK(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createGo(t, c, "cfg", 3, nil)
	if _, err := c.PublishVersion(ctx(t), &lambda.PublishVersionInput{FunctionName: aws.String("cfg")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx(t), &lambda.CreateAliasInput{FunctionName: aws.String("cfg"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	put, err := c.PutFunctionEventInvokeConfig(ctx(t), &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("cfg:live"),
		MaximumRetryAttempts: aws.Int32(1), DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String("arn:aws:sqs:us-east-1:000000000000:dlq")}}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(put.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:cfg:live" || aws.ToInt32(put.MaximumRetryAttempts) != 1 ||
		put.MaximumEventAgeInSeconds != nil || put.LastModified == nil || time.Since(*put.LastModified) > time.Minute ||
		aws.ToString(put.DestinationConfig.OnFailure.Destination) != "arn:aws:sqs:us-east-1:000000000000:dlq" || put.DestinationConfig.OnSuccess.Destination != nil {
		t.Fatalf("Put answered %s", jsonOf(put))
	}
	upd, err := c.UpdateFunctionEventInvokeConfig(ctx(t), &lambda.UpdateFunctionEventInvokeConfigInput{FunctionName: aws.String("cfg"), Qualifier: aws.String("live"),
		MaximumEventAgeInSeconds: aws.Int32(600)})
	if err != nil || aws.ToInt32(upd.MaximumRetryAttempts) != 1 || aws.ToInt32(upd.MaximumEventAgeInSeconds) != 600 {
		t.Fatalf("Update answered %s, %v", jsonOf(upd), err)
	}
	// Bad input: refused with AWS's errors, and the stored config stays.
	_, err = c.PutFunctionEventInvokeConfig(ctx(t), &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("cfg:live"), MaximumRetryAttempts: aws.Int32(3)})
	apiErr(t, err, "ValidationException", "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2")
	_, err = c.PutFunctionEventInvokeConfig(ctx(t), &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("cfg:live")})
	apiErr(t, err, "InvalidParameterValueException", "You must specify at least one of error handling or destination setting.")
	_, err = c.UpdateFunctionEventInvokeConfig(ctx(t), &lambda.UpdateFunctionEventInvokeConfigInput{FunctionName: aws.String("cfg:live"),
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: aws.String("arn:aws:lambda:us-east-1:000000000000:function:ghost")}}})
	apiErr(t, err, "InvalidParameterValueException", "The destination ARN arn:aws:lambda:us-east-1:000000000000:function:ghost is invalid.")
	got, err := c.GetFunctionEventInvokeConfig(ctx(t), &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("cfg"), Qualifier: aws.String("live")})
	if err != nil || aws.ToInt32(got.MaximumRetryAttempts) != 1 || aws.ToInt32(got.MaximumEventAgeInSeconds) != 600 || got.DestinationConfig.OnSuccess.Destination != nil {
		t.Fatalf("after refused changes Get answers %s, %v", jsonOf(got), err)
	}
	_, err = c.GetFunctionEventInvokeConfig(ctx(t), &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("cfg")})
	apiErr(t, err, "ResourceNotFoundException", "The function arn:aws:lambda:us-east-1:000000000000:function:cfg:$LATEST doesn't have an EventInvokeConfig")

	putEventConfig(t, c, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("cfg"), MaximumEventAgeInSeconds: aws.Int32(60)})
	list, err := c.ListFunctionEventInvokeConfigs(ctx(t), &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("cfg")})
	if err != nil || len(list.FunctionEventInvokeConfigs) != 2 {
		t.Fatalf("List answered %s, %v", jsonOf(list), err)
	}
	if _, err := c.DeleteFunctionEventInvokeConfig(ctx(t), &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: aws.String("cfg"), Qualifier: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFunctionEventInvokeConfig(ctx(t), &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("cfg:live")})
	apiErrCode(t, err, "ResourceNotFoundException")
}

// A full queue answers 429 and stores nothing; a payload over 1 MB answers
// 413 with AWS's message; what was acknowledged runs.
func TestEventQueueFullAndTooLarge(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--event-workers", "1",
		"--event-queue-max-events", "3", "--event-queue-max-bytes", strconv.Itoa(3<<19))
	c := f.client()
	createGo(t, c, "gated", 30, nil)
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	marker := func(i int) string { return filepath.Join(dir, fmt.Sprintf("m%d", i)) }
	ev := func(i, size int) []byte {
		return eventJSON(t, map[string]any{"action": "gate", "file": gate, "value": marker(i), "millis": 30000}, size)
	}

	mustQueue(t, c, "gated", ev(0, 0))
	mustQueue(t, c, "gated", ev(1, 1<<20)) // the largest payload fits
	_, err := invokeEvent(t, c, "gated", ev(2, 1<<20))
	msg := apiErrCode(t, err, "TooManyRequestsException")
	mustContain(t, msg, "asynchronous invocation queue is full")
	mustQueue(t, c, "gated", ev(3, 0))
	_, err = invokeEvent(t, c, "gated", ev(4, 0))
	apiErrCode(t, err, "TooManyRequestsException")

	_, err = invokeEvent(t, c, "gated", ev(5, 1<<20+1))
	apiErr(t, err, "RequestEntityTooLargeException", "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)")
	_, err = invokeEvent(t, c, "gated", ev(6, 6291457))
	apiErr(t, err, "RequestEntityTooLargeException", "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
	if got := queuedFiles(t, f); len(got) != 3 {
		t.Fatalf("the queue holds %v; want the 3 acknowledged events only", got)
	}
	f.logs.waitFor(t, "asynchronous invocation refused (429): the queue is full", 5*time.Second)

	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFiles(t, 30*time.Second, marker(0), marker(1), marker(3))
	waitQueueEmpty(t, f, 30*time.Second)
	for _, i := range []int{2, 4, 5, 6} {
		if exists(marker(i)) {
			t.Errorf("refused event %d ran", i)
		}
	}
}

// A function error is retried exactly MaximumRetryAttempts times, with
// the same request id; so are a crash and a timeout; 0 means one attempt.
func TestEventRetries(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--event-time-scale", "0.005")
	c := f.client()
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		retries *int32 // nil: AWS's default, 2
		fail    string
		timeout int32
	}{
		{"error, default retries", nil, "error", 3},
		{"error, no retries", aws.Int32(0), "error", 3},
		{"crash, one retry", aws.Int32(1), "exit", 3},
		{"timeout, one retry", aws.Int32(1), "hang", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := strings.NewReplacer(" ", "-", ",", "").Replace(tc.name)
			createGo(t, c, fn, tc.timeout, nil)
			if tc.retries != nil {
				putEventConfig(t, c, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String(fn), MaximumRetryAttempts: tc.retries})
			}
			attempts := filepath.Join(dir, fn)
			id := mustQueue(t, c, fn, eventJSON(t, map[string]any{"action": "attempt", "file": attempts, "value": tc.fail, "millis": 3000}, 0))
			f.logs.waitFor(t, `msg="asynchronous invocation failed; no retries left"`+` function=`+fn+` qualifier="" request_id=`+id, 60*time.Second)
			want := 3
			if tc.retries != nil {
				want = int(*tc.retries) + 1
			}
			got := lines(t, attempts)
			if len(got) != want {
				t.Fatalf("%d attempts, want %d: %v", len(got), want, got)
			}
			for _, line := range got {
				if line != id {
					t.Fatalf("an attempt ran as request %s, not %s", line, id)
				}
			}
		})
	}
	waitQueueEmpty(t, f, 10*time.Second)
}

// A throttled event waits and runs once its function may run; an event
// that waits longer than its MaximumEventAgeInSeconds is dropped, never run.
func TestEventThrottleAndMaximumAge(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--event-time-scale", "0.01")
	c := f.client()
	createGo(t, c, "held", 5, nil)
	reserve(t, c, "held", 0)
	dir := t.TempDir()
	touch := func(name string) []byte {
		return eventJSON(t, map[string]any{"action": "touch", "file": filepath.Join(dir, name)}, 0)
	}

	// Throttled: it waits, then runs once the reservation goes.
	waiting := mustQueue(t, c, "held", touch("waited"))
	f.logs.waitCount(t, "asynchronous invocation throttled; trying again", 3, 10*time.Second)
	mustContain(t, f.logs.String(), "request_id="+waiting)
	if exists(filepath.Join(dir, "waited")) {
		t.Fatal("a throttled event ran")
	}
	if _, err := c.DeleteFunctionConcurrency(ctx(t), &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("held")}); err != nil {
		t.Fatal(err)
	}
	waitFiles(t, 30*time.Second, filepath.Join(dir, "waited"))
	waitQueueEmpty(t, f, 10*time.Second)

	// Aged out: 60 s on the scaled clock is 0.6 s.
	reserve(t, c, "held", 0)
	putEventConfig(t, c, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("held"), MaximumEventAgeInSeconds: aws.Int32(60)})
	old := mustQueue(t, c, "held", touch("expired"))
	f.logs.waitFor(t, `msg="asynchronous invocation dropped: older than its MaximumEventAgeInSeconds" function=held qualifier="" request_id=`+old, 30*time.Second)
	if _, err := c.DeleteFunctionConcurrency(ctx(t), &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("held")}); err != nil {
		t.Fatal(err)
	}
	// A later event runs; the dropped one, queued before it, did not.
	mustQueue(t, c, "held", touch("later"))
	waitFiles(t, 30*time.Second, filepath.Join(dir, "later"))
	waitQueueEmpty(t, f, 10*time.Second)
	if exists(filepath.Join(dir, "expired")) {
		t.Fatal("an event older than its MaximumEventAgeInSeconds ran")
	}
}

// SIGTERM with events running and queued: running ones get the grace,
// then are interrupted without counting as their function's failure;
// everything stays queued, the log says how many, and the next start runs
// them all.
func TestEventShutdownKeepsQueue(t *testing.T) {
	dir := t.TempDir()
	first := startFurl(t, dir, "127.0.0.1:0", "--event-workers", "2")
	c := first.client()
	createGo(t, c, "gated", 60, nil)
	// With no retries, an interruption counted as a failure would drop
	// the event for good.
	putEventConfig(t, c, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("gated"), MaximumRetryAttempts: aws.Int32(0)})
	markers := t.TempDir()
	gate := filepath.Join(markers, "gate")
	var want []string
	for i := range 5 {
		m := filepath.Join(markers, fmt.Sprintf("m%d", i))
		want = append(want, m)
		mustQueue(t, c, "gated", eventJSON(t, map[string]any{"action": "gate", "file": gate, "value": m, "millis": 50000}, 0))
	}
	first.out.waitCount(t, "START RequestId:", 2, 20*time.Second)
	first.stop()
	logs := first.logs.String()
	mustContain(t, logs, `msg="asynchronous invocations still running at the end of the shutdown grace; they stay queued" count=2`)
	mustContain(t, logs, `msg="asynchronous invocations remain queued for the next start" count=5`)
	for _, bad := range []string{"no retries left", "function error", "asynchronous invocation dropped"} {
		if strings.Contains(logs, bad) {
			t.Fatalf("an interrupted event was reported as failed (%q):\n%s", bad, logs)
		}
	}
	if got := queuedFiles(t, first); len(got) != 5 {
		t.Fatalf("after SIGTERM the queue holds %v", got)
	}

	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	second := startFurl(t, dir, "127.0.0.1:0", "--event-workers", "2")
	mustContain(t, second.logs.String(), `msg="resuming queued asynchronous invocations" count=5`)
	waitFiles(t, 60*time.Second, want...)
	waitQueueEmpty(t, second, 10*time.Second)
}

// rssSampler records the highest VmRSS of a process, sampled until stop.
type rssSampler struct {
	mu   sync.Mutex
	max  int64 // kB
	stop chan struct{}
	done chan struct{}
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			if rss, ok := procStatus(pid, "VmRSS"); ok {
				s.mu.Lock()
				s.max = max(s.max, rss)
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *rssSampler) end() int64 {
	close(s.stop)
	<-s.done
	return s.max
}

// keepAnswering checks, until stop, that furl answers its health endpoint
// and a RequestResponse invoke. The returned func stops it and reports how
// many checks passed, and the first failure.
func keepAnswering(t *testing.T, f *furl, c *lambda.Client) (stop func() (int, error)) {
	quit := make(chan struct{})
	type result struct {
		passed int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		n := 0
		for {
			select {
			case <-quit:
				done <- result{n, nil}
				return
			case <-time.After(100 * time.Millisecond):
			}
			if err := answers(t, f, c, n); err != nil {
				done <- result{n, err}
				return
			}
			n++
		}
	}()
	return func() (int, error) {
		close(quit)
		r := <-done
		return r.passed, r.err
	}
}

// answers checks once that furl answers its health endpoint and a
// RequestResponse invoke of the echo function.
func answers(t *testing.T, f *furl, c *lambda.Client, n int) error {
	resp, err := http.Get(f.url("/_furl/health"))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health answered %d", resp.StatusCode)
	}
	value := strconv.Itoa(n)
	out, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"action":"echo","value":"` + value + `"}`)})
	if err != nil {
		return err
	}
	if out.FunctionError != nil || !bytes.Contains(out.Payload, []byte(`"value":"`+value+`"`)) {
		return fmt.Errorf("invoke answered %s", out.Payload)
	}
	return nil
}

// flood sends 1 MB Event invocations from 8 senders until total are
// acknowledged or a send fails (furl was killed); it records what was
// acknowledged and returns the first failure.
func flood(t *testing.T, c *lambda.Client, gate, markers string, next *atomic.Int64, total int64, acked *sync.Map, ackedN *atomic.Int64) error {
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ackedN.Load() < total {
				id := next.Add(1)
				payload := eventJSON(t, map[string]any{"action": "gate", "file": gate, "value": filepath.Join(markers, strconv.FormatInt(id, 10)), "millis": 300000}, 1<<20)
				if _, err := invokeEvent(t, c, "slow", payload); err != nil {
					errc <- err
					return
				}
				acked.Store(id, true)
				ackedN.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// 2,000 Event invocations of 1 MB to a slow function, with furl killed
// (kill -9) in the middle and restarted on the same data: furl's memory
// stays bounded, it keeps answering, and every acknowledged event runs.
func TestEventFloodBoundedAndDurable(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 2 GB of events")
	}
	const total, killAt = 2000, 1000
	// A bound the old in-memory queue broke by far (1,500 events took it
	// to 2.1 GB), with room for the race detector's shadow memory.
	const rssBound = 512 << 10 // kB
	dir := t.TempDir()
	// The default bound, 1 GiB, holds 1,024 events of 1 MB; this flood
	// queues up to 2,000.
	flags := []string{"--event-workers", "8", "--event-queue-max-bytes", strconv.Itoa(3 << 30), "--log-level", "info"}
	first := startFurl(t, dir, "127.0.0.1:0", flags...)
	c := first.client()
	createGo(t, c, "slow", 300, nil)
	createGo(t, c, "echo", 10, nil)
	markers := t.TempDir()
	gate := filepath.Join(markers, "gate")
	var (
		next   atomic.Int64
		ackedN atomic.Int64
		acked  sync.Map
	)
	// A phase floods until total are acknowledged, or, with a kill, kills
	// furl once killAt are: its senders are still sending then.
	phase := func(name string, f *furl, c *lambda.Client, kill bool) {
		start := time.Now()
		rss := sampleRSS(f.cmd.Process.Pid)
		stopChecks := keepAnswering(t, f, c)
		done := make(chan error, 1)
		go func() { done <- flood(t, c, gate, markers, &next, total, &acked, &ackedN) }()
		if kill {
			for ackedN.Load() < killAt {
				time.Sleep(time.Millisecond)
			}
		} else if err := <-done; err != nil {
			t.Fatalf("an Event invocation failed: %v", err)
		}
		hwm, _ := procStatus(f.cmd.Process.Pid, "VmHWM")
		checks, err := stopChecks()
		if err != nil || checks == 0 {
			t.Fatalf("furl did not keep answering during the flood: %d checks passed, then %v", checks, err)
		}
		if kill {
			f.kill()
			<-done
		}
		maxRSS := rss.end()
		t.Logf("%s: %d events acknowledged so far, after %s; furl's VmRSS peaked at %d MB (sampled every 20 ms), VmHWM %d MB; %d health and invoke checks passed",
			name, ackedN.Load(), time.Since(start).Round(time.Millisecond), maxRSS>>10, hwm>>10, checks)
		if maxRSS > rssBound || hwm > rssBound {
			t.Fatalf("furl's memory grew with the queue: VmRSS %d MB, VmHWM %d MB, bound %d MB", maxRSS>>10, hwm>>10, rssBound>>10)
		}
	}
	phase("until kill -9", first, c, true)

	second := startFurl(t, dir, "127.0.0.1:0", flags...)
	c = second.client()
	phase("after the restart", second, c, false)

	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var want []string
	acked.Range(func(k, _ any) bool {
		want = append(want, filepath.Join(markers, strconv.FormatInt(k.(int64), 10)))
		return true
	})
	waitFiles(t, 5*time.Minute, want...)
	entries, _ := os.ReadDir(markers)
	t.Logf("all %d acknowledged events ran (%d markers, unacknowledged ones included) within %s of the gate opening",
		len(want), len(entries)-1, time.Since(start).Round(time.Millisecond))
	if len(want) < total {
		t.Fatalf("only %d events were acknowledged", len(want))
	}
}
