package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func reserve(t *testing.T, c *lambda.Client, name string, n int32) {
	t.Helper()
	if _, err := c.PutFunctionConcurrency(ctx(t), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(n)}); err != nil {
		t.Fatal(err)
	}
}

// throttleReason asserts a TooManyRequestsException and returns its Reason.
func throttleReason(t *testing.T, err error) string {
	t.Helper()
	var tm *types.TooManyRequestsException
	if !errors.As(err, &tm) {
		t.Fatalf("got %v, want TooManyRequestsException", err)
	}
	if aws.ToString(tm.Message) != "Rate Exceeded." || aws.ToString(tm.Type) != "User" {
		t.Fatalf("TooManyRequestsException %+v", tm)
	}
	return string(tm.Reason)
}

// waitEntries waits until dir holds n files: n invocations are running.
func waitEntries(t *testing.T, dir string, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		entries, _ := os.ReadDir(dir)
		if len(entries) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d invocations running", len(entries), n)
		}
	}
}

// Reserved concurrency 0 throttles every way in, and starts nothing.
func TestThrottleReservedZero(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createStreamFunction(t, c, "off", "reader", 5)
	u := streamingURL(t, c, "off")
	reserve(t, c, "off", 0)

	_, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("off")})
	if r := throttleReason(t, err); r != "ReservedFunctionConcurrentInvocationLimitExceeded" {
		t.Fatalf("reason %s", r)
	}
	_, err = c.InvokeWithResponseStream(ctx(t), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("off")})
	if r := throttleReason(t, err); r != "ReservedFunctionConcurrentInvocationLimitExceeded" {
		t.Fatalf("reason %s", r)
	}
	status, h, body := curl(t, u)
	if status != 429 || h.Get("X-Amzn-Errortype") != "TooManyRequestsException" || string(body) != `{"Message":"Rate Exceeded."}` {
		t.Fatalf("URL: %d %v %s", status, h, body)
	}
	f.logs.waitFor(t, "has a reserved concurrency of 0", 5*time.Second)
	if strings.Contains(f.out.String(), "INIT_START") {
		t.Fatalf("a throttled request started an environment:\n%s", f.out.String())
	}
	// Deleting the reservation lets it run again.
	if _, err := c.DeleteFunctionConcurrency(ctx(t), &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("off")}); err != nil {
		t.Fatal(err)
	}
	if status, _, body := curl(t, u+"?n=1"); status != 200 || string(body) != "data: token 1\n\n" {
		t.Fatalf("after the reservation went: %d %s", status, body)
	}
}

// Reserved concurrency 1 with two requests at once: the second is
// throttled while the first runs, through Invoke and through a URL.
func TestThrottleReservedOne(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createGo(t, c, "single", 30, nil)
	reserve(t, c, "single", 1)
	barrier := t.TempDir()
	first := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("single"),
			Payload: []byte(fmt.Sprintf(`{"action":"barrier","file":%q,"size":2}`, barrier))})
		first <- err
	}()
	waitEntries(t, barrier, 1)
	_, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("single"), Payload: []byte(`{"action":"echo"}`)})
	if r := throttleReason(t, err); r != "ReservedFunctionConcurrentInvocationLimitExceeded" {
		t.Fatalf("reason %s", r)
	}
	// An asynchronous invocation is accepted, throttled, and tried again
	// until the function is free, as AWS retries queued events.
	touched := filepath.Join(t.TempDir(), "event-ran")
	if out, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("single"), InvocationType: types.InvocationTypeEvent,
		Payload: []byte(fmt.Sprintf(`{"action":"touch","file":%q}`, touched))}); err != nil || out.StatusCode != 202 {
		t.Fatalf("Event: %v", err)
	}
	f.logs.waitFor(t, "asynchronous invocation throttled; trying again", 10*time.Second)
	if _, err := os.Stat(touched); err == nil {
		t.Fatal("the event ran while the function was at its reservation")
	}
	os.WriteFile(filepath.Join(barrier, "release"), nil, 0o644)
	if err := <-first; err != nil {
		t.Fatalf("the first invocation: %v", err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(touched); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the throttled event never ran")
		}
	}
	// The event may still be ending: its execution is free once it has.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("single"), Payload: []byte(`{"action":"echo"}`)})
		if err == nil {
			break
		}
		throttleReason(t, err)
		if time.Now().After(deadline) {
			t.Fatalf("still throttled once the first invocation and the event ended: %v", err)
		}
	}

	// The same through a streaming URL, its first request held open.
	createStreamFunction(t, c, "one-url", "reader", 30)
	u := streamingURL(t, c, "one-url")
	reserve(t, c, "one-url", 1)
	g := newGate(t)
	cmd, status, _, body := startCurl(t, u+"?n=2&gate="+g.query())
	if status != 200 {
		t.Fatalf("first: %d", status)
	}
	if line, _ := body.ReadString('\n'); line != "data: token 1\n" {
		t.Fatalf("first: %q", line)
	}
	status2, _, body2 := curl(t, u+"?n=1")
	if status2 != 429 || string(body2) != `{"Message":"Rate Exceeded."}` {
		t.Fatalf("second while the first streams: %d %s", status2, body2)
	}
	g.open(t, 1)
	if code := curlExit(cmd); code != 0 {
		t.Fatalf("first: curl exit %d", code)
	}
}

// A reservation of 1 allows 10 requests a second: a burst of them is
// throttled with the rate reason once the bucket is empty.
func TestThrottleRate(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createGo(t, c, "rated", 5, nil)
	reserve(t, c, "rated", 1)
	passed := 0
	for i := 0; i < 200; i++ {
		_, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("rated"), Payload: []byte(`{"action":"echo"}`)})
		if err == nil {
			passed++
			continue
		}
		if r := throttleReason(t, err); r != "ReservedFunctionInvocationRateLimitExceeded" {
			t.Fatalf("request %d: reason %s", i, r)
		}
		if passed < 10 {
			t.Fatalf("throttled after %d requests; the bucket holds 10", passed)
		}
		f.logs.waitFor(t, "which allows 10 requests a second", 5*time.Second)
		return
	}
	t.Fatalf("200 requests in a row passed a limit of 10 a second")
}

// Functions without a reservation share what the account has not
// reserved: with --account-concurrency 2, two running executions of one
// function leave none for another.
func TestThrottleUnreservedPool(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--account-concurrency", "2")
	c := f.client()
	createGo(t, c, "a", 30, nil)
	createGo(t, c, "b", 30, nil)
	barrier := t.TempDir()
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("a"),
				Payload: []byte(fmt.Sprintf(`{"action":"barrier","file":%q,"size":3}`, barrier))})
			done <- err
		}()
	}
	waitEntries(t, barrier, 2)
	_, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("b"), Payload: []byte(`{"action":"echo"}`)})
	if r := throttleReason(t, err); r != "ConcurrentInvocationLimitExceeded" {
		t.Fatalf("reason %s", r)
	}
	os.WriteFile(filepath.Join(barrier, "release"), nil, 0o644)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("b"), Payload: []byte(`{"action":"echo"}`)}); err != nil {
		t.Fatalf("once the pool was free: %v", err)
	}
}
