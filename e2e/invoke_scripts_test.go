package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func createScript(t testing.TB, c *lambda.Client, name string, runtime types.Runtime, handler string, files map[string]string) {
	t.Helper()
	if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: runtime, Role: aws.String(testRole), Handler: aws.String(handler),
		Code: &types.FunctionCode{ZipFile: makeZip(t, files)}, Timeout: aws.Int32(5),
	}); err != nil {
		t.Fatalf("CreateFunction %s: %v", name, err)
	}
}

func TestInvokeNodeHandlers(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createScript(t, c, "esm", types.RuntimeNodejs22x, "src/app.handler", map[string]string{"src/app.mjs": `
export const handler = async (event, context) => {
  console.log("got", event.name);
  return {
    greeting: "hello " + event.name, requestId: context.awsRequestId, fn: context.functionName,
    version: context.functionVersion, arn: context.invokedFunctionArn, memory: context.memoryLimitInMB,
    left: context.getRemainingTimeInMillis(), env: process.env.AWS_EXECUTION_ENV, trace: process.env._X_AMZN_TRACE_ID,
  };
};`})
	r := invokeFn(t, c, "esm", nil, map[string]string{"name": "esm"})
	if r.fnError != "" {
		t.Fatalf("ESM handler: %s\n%s", r.payload, r.log)
	}
	for _, want := range []string{`"greeting":"hello esm"`, `"fn":"esm"`, `"version":"$LATEST"`, `"memory":"128"`,
		`"arn":"arn:aws:lambda:us-east-1:000000000000:function:esm"`, `"env":"AWS_Lambda_nodejs22.x"`, `"trace":"Root=1-`} {
		mustContain(t, string(r.payload), want)
	}
	if !regexp.MustCompile(`"left":(4\d{3}|5000)\b`).Match(r.payload) {
		t.Errorf("getRemainingTimeInMillis of a 5 s function: %s", r.payload)
	}
	requestID := regexp.MustCompile(`"requestId":"([0-9a-f-]{36})"`).FindSubmatch(r.payload)
	if requestID == nil || !regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t`+string(requestID[1])+`\tINFO\tgot esm\n`).MatchString(r.log) {
		t.Fatalf("console.log line missing from the log tail:\n%s", r.log)
	}

	createScript(t, c, "cjs", types.RuntimeNodejs20x, "index.handler", map[string]string{"index.js": `
const helper = require("./lib/helper");
exports.handler = async (event) => ({ sum: helper.add(event.a, event.b) });`,
		"lib/helper.js": `module.exports = { add: (a, b) => a + b };`})
	if r := invokeFn(t, c, "cjs", nil, map[string]int{"a": 2, "b": 40}); string(r.payload) != `{"sum":42}` {
		t.Fatalf("CommonJS handler: %s %s\n%s", r.fnError, r.payload, r.log)
	}

	createScript(t, c, "callback", types.RuntimeNodejs20x, "index.handler", map[string]string{"index.js": `
exports.handler = function (event, context, callback) {
  setTimeout(() => callback(null, { via: "callback", n: event.n }), 10);
};`})
	if r := invokeFn(t, c, "callback", nil, map[string]int{"n": 7}); string(r.payload) != `{"via":"callback","n":7}` {
		t.Fatalf("callback handler: %s %s", r.fnError, r.payload)
	}

	createScript(t, c, "throws", types.RuntimeNodejs20x, "index.handler", map[string]string{"index.mjs": `
export const handler = async () => { throw new TypeError("no good"); };`})
	thrown := invokeFn(t, c, "throws", nil, map[string]any{})
	if thrown.fnError != "Unhandled" || thrown.errorDoc["errorType"] != "TypeError" || thrown.errorDoc["errorMessage"] != "no good" {
		t.Fatalf("thrown error: %s", thrown.payload)
	}
	if trace, ok := thrown.errorDoc["trace"].([]any); !ok || len(trace) == 0 || !strings.HasPrefix(fmt.Sprint(trace[0]), "TypeError: no good") {
		t.Fatalf("thrown error trace: %s", thrown.payload)
	}

	createScript(t, c, "uncaught", types.RuntimeNodejs20x, "index.handler", map[string]string{"index.js": `
let n = 0;
exports.handler = (event, context, callback) => {
  n++;
  if (event.crash) setTimeout(() => { throw new RangeError("async boom"); }, 1);
  else callback(null, { n });
};`})
	crashed := invokeFn(t, c, "uncaught", nil, map[string]bool{"crash": true})
	if crashed.errorDoc["errorType"] != "RangeError" || crashed.errorDoc["errorMessage"] != "async boom" {
		t.Fatalf("uncaught exception: %s\n%s", crashed.payload, crashed.log)
	}
	if r := invokeFn(t, c, "uncaught", nil, map[string]bool{"crash": false}); string(r.payload) != `{"n":1}` {
		t.Fatalf("after an uncaught exception the runtime was not replaced: %s", r.payload)
	}

	createScript(t, c, "missing", types.RuntimeNodejs20x, "nope.handler", map[string]string{"index.js": `exports.handler = async () => 1;`})
	missing := invokeFn(t, c, "missing", nil, map[string]any{})
	if missing.errorDoc["errorType"] != "Runtime.ImportModuleError" || missing.errorDoc["errorMessage"] != "Error: Cannot find module 'nope' (furl: handler nope.handler needs nope.js, nope.mjs or nope.cjs, which the zip does not have; it has, at its top level, index.js)" {
		t.Fatalf("missing module: %s", missing.payload)
	}
	createScript(t, c, "nohandler", types.RuntimeNodejs20x, "index.other", map[string]string{"index.js": `exports.handler = async () => 1;`})
	if nh := invokeFn(t, c, "nohandler", nil, map[string]any{}); nh.errorDoc["errorType"] != "Runtime.HandlerNotFound" || nh.errorDoc["errorMessage"] != "index.other is undefined or not exported" {
		t.Fatalf("missing handler: %s", nh.payload)
	}

	// A streaming handler called through Invoke: its bytes, prelude and all.
	createScript(t, c, "streamer", types.RuntimeNodejs20x, "index.handler", map[string]string{"index.mjs": `
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream = awslambda.HttpResponseStream.from(responseStream, { statusCode: 201 });
  responseStream.write("one ");
  responseStream.end("two");
});`})
	if s := invokeFn(t, c, "streamer", nil, map[string]any{}); string(s.payload) != "{\"statusCode\":201}\x00\x00\x00\x00\x00\x00\x00\x00one two" {
		t.Fatalf("streaming handler through Invoke: %q %s", s.payload, s.fnError)
	}

	// A streaming handler that fails after writing: the error arrives in
	// trailers, and the runtime lives on.
	createScript(t, c, "streamfail", types.RuntimeNodejs20x, "index.handler", map[string]string{"index.mjs": `
let n = 0;
export const handler = awslambda.streamifyResponse(async (event, stream) => {
  n++;
  if (event.fail) {
    stream.write("x".repeat(100000));
    stream.write("second");
    throw new SyntaxError("half way");
  }
  stream.end("call " + n);
});`})
	failed := invokeFn(t, c, "streamfail", nil, map[string]bool{"fail": true})
	if failed.fnError != "Unhandled" || failed.errorDoc["errorType"] != "SyntaxError" || failed.errorDoc["errorMessage"] != "half way" {
		t.Fatalf("streaming failure: %s %.200s", failed.fnError, failed.payload)
	}
	if ok := invokeFn(t, c, "streamfail", nil, map[string]bool{"fail": false}); string(ok.payload) != "call 2" {
		t.Fatalf("after a streaming failure the runtime did not live on: %q", ok.payload)
	}
}

func TestInvokePythonHandlers(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createScript(t, c, "py", types.RuntimePython312, "app.handler", map[string]string{"app.py": `
import logging, os
logger = logging.getLogger()
logger.setLevel(logging.INFO)

def handler(event, context):
    print("printed", event["name"])
    logger.info("logged %s", event["name"])
    return {
        "greeting": "hello " + event["name"], "requestId": context.aws_request_id, "fn": context.function_name,
        "memory": context.memory_limit_in_mb, "left": context.get_remaining_time_in_millis(),
        "arn": context.invoked_function_arn, "env": os.environ["AWS_EXECUTION_ENV"],
    }
`})
	r := invokeFn(t, c, "py", nil, map[string]string{"name": "py"})
	if r.fnError != "" {
		t.Fatalf("python handler: %s\n%s", r.payload, r.log)
	}
	for _, want := range []string{`"greeting": "hello py"`, `"fn": "py"`, `"memory": "128"`, `"env": "AWS_Lambda_python3.12"`,
		`"arn": "arn:aws:lambda:us-east-1:000000000000:function:py"`} {
		mustContain(t, string(r.payload), want)
	}
	mustContain(t, r.log, "printed py\n")
	if !regexp.MustCompile(`\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t[0-9a-f-]{36}\tlogged py\n`).MatchString(r.log) {
		t.Fatalf("logging line missing from the tail:\n%s", r.log)
	}

	createScript(t, c, "pyerr", types.RuntimePython311, "pkg/mod.handler", map[string]string{"pkg/__init__.py": "", "pkg/mod.py": `
def handler(event, context):
    raise ValueError("bad value")
`})
	e := invokeFn(t, c, "pyerr", nil, map[string]any{})
	if e.errorDoc["errorType"] != "ValueError" || e.errorDoc["errorMessage"] != "bad value" {
		t.Fatalf("python error: %s", e.payload)
	}
	if st, ok := e.errorDoc["stackTrace"].([]any); !ok || len(st) == 0 || !strings.Contains(fmt.Sprint(st[len(st)-1]), `raise ValueError("bad value")`) {
		t.Fatalf("python stack trace: %s", e.payload)
	}
	if rid, _ := e.errorDoc["requestId"].(string); len(rid) != 36 {
		t.Fatalf("python error requestId: %s", e.payload)
	}
	mustContain(t, e.log, "[ERROR] ValueError: bad value")

	createScript(t, c, "pyimport", types.RuntimePython312, "nope.handler", map[string]string{"app.py": "def handler(e, c): return 1\n"})
	if imp := invokeFn(t, c, "pyimport", nil, map[string]any{}); imp.errorDoc["errorType"] != "Runtime.ImportModuleError" ||
		imp.errorDoc["errorMessage"] != "Unable to import module 'nope': No module named 'nope' (furl: handler nope.handler needs nope.py, which the zip does not have; it has, at its top level, app.py)" {
		t.Fatalf("python import error: %s", imp.payload)
	}
	createScript(t, c, "pymarshal", types.RuntimePython312, "app.handler", map[string]string{"app.py": "def handler(e, c):\n    return {'s': {1, 2}}\n"})
	if pm := invokeFn(t, c, "pymarshal", nil, map[string]any{}); pm.errorDoc["errorType"] != "Runtime.MarshalError" ||
		!strings.HasPrefix(fmt.Sprint(pm.errorDoc["errorMessage"]), "Unable to marshal response: Object of type set is not JSON serializable") {
		t.Fatalf("python marshal error: %s", pm.payload)
	}
	createScript(t, c, "pymissing", types.RuntimePython312, "app.other", map[string]string{"app.py": "def handler(e, c): return 1\n"})
	if hm := invokeFn(t, c, "pymissing", nil, map[string]any{}); hm.errorDoc["errorType"] != "Runtime.HandlerNotFound" ||
		hm.errorDoc["errorMessage"] != "Handler 'other' missing on module 'app'" {
		t.Fatalf("python missing handler: %s", hm.payload)
	}
}
