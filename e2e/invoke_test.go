package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// invoked is what one Invoke answered.
type invoked struct {
	payload  []byte
	fnError  string
	log      string
	version  string
	errorDoc map[string]any
}

func invokeFn(t testing.TB, c *lambda.Client, name string, qualifier *string, event any) invoked {
	t.Helper()
	raw, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String(name), Qualifier: qualifier, Payload: raw, LogType: types.LogTypeTail})
	if err != nil {
		t.Fatalf("Invoke %s: %v", name, err)
	}
	if out.StatusCode != 200 {
		t.Fatalf("Invoke %s: status %d", name, out.StatusCode)
	}
	logs, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if err != nil {
		t.Fatalf("LogResult is not base64: %v", err)
	}
	r := invoked{payload: out.Payload, fnError: aws.ToString(out.FunctionError), log: string(logs), version: aws.ToString(out.ExecutedVersion)}
	if r.fnError != "" {
		if err := json.Unmarshal(out.Payload, &r.errorDoc); err != nil {
			t.Fatalf("error payload is not JSON: %s", out.Payload)
		}
	}
	return r
}

// goReply is what the Go test function answers.
type goReply struct {
	Env         string            `json:"env"`
	RequestID   string            `json:"requestId"`
	ARN         string            `json:"arn"`
	Value       string            `json:"value"`
	Vars        map[string]string `json:"vars"`
	HasDeadline bool              `json:"hasDeadline"`
	Custom      map[string]string `json:"custom"`
}

func (r invoked) goReply(t testing.TB) goReply {
	t.Helper()
	if r.fnError != "" {
		t.Fatalf("function error %s: %s\n%s", r.fnError, r.payload, r.log)
	}
	var g goReply
	if err := json.Unmarshal(r.payload, &g); err != nil {
		t.Fatalf("reply %s: %v", r.payload, err)
	}
	return g
}

func createGo(t testing.TB, c *lambda.Client, name string, timeout int32, vars map[string]string) {
	t.Helper()
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Role: aws.String(testRole),
		Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: goFunction(t)}, Timeout: aws.Int32(timeout),
	}
	if vars != nil {
		in.Environment = &types.Environment{Variables: vars}
	}
	if _, err := c.CreateFunction(ctx(t), in); err != nil {
		t.Fatalf("CreateFunction %s: %v", name, err)
	}
}

var reportLine = regexp.MustCompile(`REPORT RequestId: ([0-9a-f-]{36})\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\t`)

func TestInvokeGoFunction(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createGo(t, c, "gofn", 3, map[string]string{"GREETING": "hi"})

	first := invokeFn(t, c, "gofn", nil, map[string]any{"action": "echo", "value": "hello"})
	g := first.goReply(t)
	if g.Value != "hello" || first.version != "$LATEST" || !g.HasDeadline || g.ARN != "arn:aws:lambda:us-east-1:000000000000:function:gofn" {
		t.Fatalf("echo answered %s (version %s)", first.payload, first.version)
	}
	// The log tail: START, the function's line, END, REPORT with Init Duration on this cold start.
	for _, want := range []string{
		"START RequestId: " + g.RequestID + " Version: $LATEST\n",
		"gofn " + g.RequestID + " action=echo\n",
		"END RequestId: " + g.RequestID + "\n",
	} {
		mustContain(t, first.log, want)
	}
	if m := reportLine.FindStringSubmatch(first.log); m == nil || m[1] != g.RequestID || !strings.Contains(first.log, "\tInit Duration: ") {
		t.Fatalf("no cold-start REPORT line in\n%s", first.log)
	}
	// furl's output shows the same lines with the function and request id.
	f.out.waitFor(t, "[gofn:$LATEST "+g.RequestID+"] gofn "+g.RequestID+" action=echo", 5*time.Second)

	// A second invoke reuses the warm environment: no init.
	second := invokeFn(t, c, "gofn", nil, map[string]any{"action": "echo"})
	if second.goReply(t).Env != g.Env || strings.Contains(second.log, "Init Duration") {
		t.Fatalf("second invoke did not reuse the warm environment: %s\n%s", second.payload, second.log)
	}

	// Lambda's environment.
	vars := invokeFn(t, c, "gofn", nil, map[string]any{"action": "env"}).goReply(t).Vars
	for k, want := range map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME": "gofn", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/gofn",
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "TZ": ":UTC", "_HANDLER": "bootstrap",
		"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand", "GREETING": "hi",
	} {
		if vars[k] != want {
			t.Errorf("%s = %q, want %q", k, vars[k], want)
		}
	}
	if _, ok := vars["AWS_EXECUTION_ENV"]; ok {
		t.Errorf("AWS_EXECUTION_ENV is set for an OS-only runtime: %q", vars["AWS_EXECUTION_ENV"])
	}
	if !regexp.MustCompile(`^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$`).MatchString(vars["AWS_LAMBDA_LOG_STREAM_NAME"]) ||
		!regexp.MustCompile(`^127\.0\.0\.1:\d+$`).MatchString(vars["AWS_LAMBDA_RUNTIME_API"]) || vars["LAMBDA_TASK_ROOT"] == "" {
		t.Errorf("log stream %q, runtime API %q, task root %q", vars["AWS_LAMBDA_LOG_STREAM_NAME"], vars["AWS_LAMBDA_RUNTIME_API"], vars["LAMBDA_TASK_ROOT"])
	}
	if !strings.HasPrefix(vars["_X_AMZN_TRACE_ID"], "Root=1-") {
		t.Errorf("_X_AMZN_TRACE_ID = %q", vars["_X_AMZN_TRACE_ID"])
	}

	// A returned error.
	failed := invokeFn(t, c, "gofn", nil, map[string]any{"action": "error", "value": "bad input"})
	if failed.fnError != "Unhandled" || failed.errorDoc["errorMessage"] != "bad input" || failed.errorDoc["errorType"] != "errorString" {
		t.Fatalf("returned error: %s %s", failed.fnError, failed.payload)
	}

	// The client context reaches the function.
	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"tenant":"acme"}}`))
	out, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("gofn"), Payload: []byte(`{"action":"echo"}`), ClientContext: aws.String(cc)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out.Payload), `"custom":{"tenant":"acme"}`) {
		t.Fatalf("client context did not arrive: %s", out.Payload)
	}
}

func TestInvokeGoFailures(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createGo(t, c, "gofail", 1, nil)

	// A panic: aws-lambda-go reports it and exits; the next invoke starts afresh.
	before := invokeFn(t, c, "gofail", nil, map[string]any{"action": "echo"}).goReply(t).Env
	panicked := invokeFn(t, c, "gofail", nil, map[string]any{"action": "panic", "value": "kaboom"})
	if panicked.fnError != "Unhandled" || panicked.errorDoc["errorMessage"] != "kaboom" {
		t.Fatalf("panic: %s", panicked.payload)
	}
	after := invokeFn(t, c, "gofail", nil, map[string]any{"action": "echo"}).goReply(t).Env
	if after == before {
		t.Fatal("the environment that panicked was reused")
	}

	// os.Exit during an invocation.
	exited := invokeFn(t, c, "gofail", nil, map[string]any{"action": "exit", "code": 3})
	if exited.fnError != "Unhandled" || exited.errorDoc["errorType"] != "Runtime.ExitError" {
		t.Fatalf("exit: %s", exited.payload)
	}
	if !regexp.MustCompile(`^RequestId: [0-9a-f-]{36} Error: Runtime exited with error: exit status 3$`).MatchString(fmt.Sprint(exited.errorDoc["errorMessage"])) {
		t.Fatalf("exit message: %v", exited.errorDoc["errorMessage"])
	}
	mustContain(t, exited.log, "Status: error\tError Type: Runtime.ExitError\t")

	// A timeout: the environment is killed; the next invoke starts afresh.
	timedOut := invokeFn(t, c, "gofail", nil, map[string]any{"action": "sleep", "millis": 5000})
	if timedOut.fnError != "Unhandled" || timedOut.errorDoc["errorType"] != "Sandbox.Timedout" ||
		!regexp.MustCompile(`^RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds$`).MatchString(fmt.Sprint(timedOut.errorDoc["errorMessage"])) {
		t.Fatalf("timeout: %s", timedOut.payload)
	}
	mustContain(t, timedOut.log, "Task timed out after 1.00 seconds")
	mustContain(t, timedOut.log, "Status: timeout")
	if again := invokeFn(t, c, "gofail", nil, map[string]any{"action": "echo", "value": "alive"}); again.goReply(t).Value != "alive" {
		t.Fatal("no recovery after a timeout")
	}

	// A response over 6 MB.
	big := invokeFn(t, c, "gofail", nil, map[string]any{"action": "big", "size": 7 << 20})
	if big.errorDoc["errorType"] != "Function.ResponseSizeTooLarge" ||
		!strings.HasSuffix(fmt.Sprint(big.errorDoc["errorMessage"]), "exceeded maximum allowed payload size (6291556 bytes).") {
		t.Fatalf("oversize response: %.200s", big.payload)
	}
}

func TestInvokeSlowInitAndMissingBootstrap(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createGo(t, c, "slowinit", 5, map[string]string{"INIT_SLEEP_MS": "700"})
	r := invokeFn(t, c, "slowinit", nil, map[string]any{"action": "echo", "value": "ready"})
	if r.goReply(t).Value != "ready" {
		t.Fatalf("slow init: %s", r.payload)
	}
	m := regexp.MustCompile(`Init Duration: (\d+)\.\d\d ms`).FindStringSubmatch(r.log)
	if m == nil {
		t.Fatalf("no Init Duration:\n%s", r.log)
	}
	if ms := atoi(m[1]); ms < 700 {
		t.Fatalf("Init Duration %d ms, but init slept 700 ms", ms)
	}
	// Init's output is in the log stream, not in the invocation's tail,
	// which starts at START as on Lambda.
	mustContain(t, f.out.String(), "gofn init: sleeping 700 ms")
	if !strings.HasPrefix(r.log, "START RequestId: ") {
		t.Fatalf("the cold invocation's tail does not start at START:\n%s", r.log)
	}

	// A bootstrap that exits during init.
	createGo(t, c, "initexit", 5, map[string]string{"INIT_EXIT_CODE": "4"})
	ie := invokeFn(t, c, "initexit", nil, map[string]any{"action": "echo"})
	if ie.errorDoc["errorType"] != "Runtime.ExitError" ||
		!regexp.MustCompile(`^RequestId: [0-9a-f-]{36} Error: Runtime exited with error: exit status 4$`).MatchString(fmt.Sprint(ie.errorDoc["errorMessage"])) {
		t.Fatalf("exit during init: %s", ie.payload)
	}
	mustContain(t, ie.log, "gofn init: exiting with 4")
	mustContain(t, ie.log, "INIT_REPORT Init Duration: ")

	// A provided function without a bootstrap.
	if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String("noboot"), Runtime: types.RuntimeProvidedal2023, Role: aws.String(testRole), Handler: aws.String("x"),
		Code: &types.FunctionCode{ZipFile: makeZip(t, map[string]string{"README": "no bootstrap here"})},
	}); err != nil {
		t.Fatal(err)
	}
	nb := invokeFn(t, c, "noboot", nil, map[string]any{})
	if nb.errorDoc["errorType"] != "Runtime.InvalidEntrypoint" ||
		!regexp.MustCompile(`^RequestId: [0-9a-f-]{36} Error: Couldn't find valid bootstrap\(s\): \[/var/task/bootstrap /opt/bootstrap\]$`).MatchString(fmt.Sprint(nb.errorDoc["errorMessage"])) {
		t.Fatalf("missing bootstrap: %s", nb.payload)
	}
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}

func TestInvokeConcurrencyReuseAndRetirement(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--idle-timeout", "1s")
	c := f.client()
	createGo(t, c, "busy", 30, nil)

	// Four invocations that wait for each other need four environments at
	// once: without scale-out they would time out at the barrier.
	barrier := t.TempDir()
	var wg sync.WaitGroup
	outs := make([]*lambda.InvokeOutput, 4)
	errs := make([]error, 4)
	payload := []byte(fmt.Sprintf(`{"action":"barrier","file":%q,"size":4}`, barrier))
	for i := range outs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			outs[i], errs[i] = c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("busy"), Payload: payload})
		}(i)
	}
	wg.Wait()
	envs := make([]string, 4)
	for i, out := range outs {
		if errs[i] != nil || out.FunctionError != nil {
			t.Fatalf("concurrent invoke %d: %v %s", i, errs[i], out.Payload)
		}
		envs[i] = invoked{payload: out.Payload}.goReply(t).Env
	}
	distinct := map[string]bool{}
	for _, e := range envs {
		distinct[e] = true
	}
	if len(distinct) != 4 {
		t.Fatalf("4 concurrent invocations ran in %d environments", len(distinct))
	}
	// One after the other, they reuse warm ones: no fifth environment
	// starts. Which idle one serves is the pool's choice: the one that
	// just answered may not have asked for its next event yet when the
	// next call comes, and another idle one is as warm.
	a := invokeFn(t, c, "busy", nil, map[string]any{"action": "echo"}).goReply(t).Env
	b := invokeFn(t, c, "busy", nil, map[string]any{"action": "echo"}).goReply(t).Env
	if !distinct[a] || !distinct[b] {
		t.Fatalf("sequential invocations ran in %s then %s; warm ones were %v", a, b, envs)
	}

	// Idle environments are reaped: after the idle timeout, a cold start.
	time.Sleep(2500 * time.Millisecond)
	cold := invokeFn(t, c, "busy", nil, map[string]any{"action": "echo"})
	if distinct[cold.goReply(t).Env] || !strings.Contains(cold.log, "Init Duration") {
		t.Fatalf("an environment idle past --idle-timeout was reused:\n%s", cold.log)
	}

	// New code retires the old environments.
	warm := invokeFn(t, c, "busy", nil, map[string]any{"action": "echo"}).goReply(t).Env
	if _, err := c.UpdateFunctionConfiguration(ctx(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("busy"),
		Environment: &types.Environment{Variables: map[string]string{"STAGE": "two"}}}); err != nil {
		t.Fatal(err)
	}
	fresh := invokeFn(t, c, "busy", nil, map[string]any{"action": "env"}).goReply(t)
	if fresh.Env == warm || fresh.Vars["STAGE"] != "two" {
		t.Fatalf("after a configuration change the old environment ran (env %s, STAGE %q)", fresh.Env, fresh.Vars["STAGE"])
	}
}

func TestInvokeQualifiersAndErrors(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createGo(t, c, "q", 3, map[string]string{"VER": "one"})
	if _, err := c.PublishVersion(ctx(t), &lambda.PublishVersionInput{FunctionName: aws.String("q")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateFunctionConfiguration(ctx(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("q"),
		Environment: &types.Environment{Variables: map[string]string{"VER": "latest"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx(t), &lambda.CreateAliasInput{FunctionName: aws.String("q"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		qualifier *string
		version   string
		v         string
		arn       string
	}{
		{nil, "$LATEST", "latest", "arn:aws:lambda:us-east-1:000000000000:function:q"},
		{aws.String("1"), "1", "one", "arn:aws:lambda:us-east-1:000000000000:function:q:1"},
		{aws.String("live"), "1", "one", "arn:aws:lambda:us-east-1:000000000000:function:q:live"},
	} {
		r := invokeFn(t, c, "q", tc.qualifier, map[string]any{"action": "env"})
		g := r.goReply(t)
		if r.version != tc.version || g.Vars["VER"] != tc.v || g.ARN != tc.arn || g.Vars["AWS_LAMBDA_FUNCTION_VERSION"] != tc.version {
			t.Errorf("qualifier %v: version %s, VER=%s, ARN %s", aws.ToString(tc.qualifier), r.version, g.Vars["VER"], g.ARN)
		}
	}

	_, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("ghost")})
	apiErr(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:ghost:$LATEST")
	_, err = c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("q"), Qualifier: aws.String("9")})
	apiErr(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:q:9")
	_, err = c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("q:nope")})
	apiErr(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:q:nope")
	_, err = c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("q"), Payload: []byte("not json")})
	apiErrCode(t, err, "InvalidRequestContentException")
	_, err = c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("q"), Payload: []byte(`"` + strings.Repeat("x", 6291456) + `"`)})
	apiErr(t, err, "RequestEntityTooLargeException", "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
	_, err = c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("q"), ClientContext: aws.String("%%%")})
	apiErr(t, err, "InvalidRequestContentException", "Client context must be a valid Base64-encoded JSON object.")

	dry, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("q"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || dry.StatusCode != 204 {
		t.Fatalf("DryRun: %v %v", dry, err)
	}
	_, err = c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("ghost"), InvocationType: types.InvocationTypeDryRun})
	apiErrCode(t, err, "ResourceNotFoundException")

	// An Event invocation is answered at once and runs in the background.
	marker := filepath.Join(t.TempDir(), "ran")
	ev, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("q"), InvocationType: types.InvocationTypeEvent,
		Payload: []byte(fmt.Sprintf(`{"action":"touch","file":%q}`, marker))})
	if err != nil || ev.StatusCode != 202 {
		t.Fatalf("Event: %v %v", ev, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the Event invocation never ran")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
