package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The error payloads of Python and Node.js functions in the process
// sandbox, as a caller of Invoke sees them: an exception at import keeps
// its own type, its frames name /var/task (and, for Python,
// /var/lang/lib/python3.X) and never the host's directories or furl's
// runtime client.
func TestErrShapePythonNode(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createScript(t, c, "pystartup", types.RuntimePython312, "lambda_function.lambda_handler", map[string]string{
		"lambda_function.py": "raise Exception(\"Runtime startup fails\")\n\n\ndef lambda_handler(event, context):\n    return 1\n"})
	createScript(t, c, "pythrows", types.RuntimePython312, "app.handler", map[string]string{
		"app.py": "def handler(event, context):\n    raise ValueError(\"bad value\")\n"})
	createScript(t, c, "nodestartup", types.RuntimeNodejs22x, "index.handler", map[string]string{
		"index.mjs": "throw new Error(\"Runtime startup fails\");\nexport const handler = async () => 1;\n"})
	createScript(t, c, "nodethrows", types.RuntimeNodejs22x, "index.handler", map[string]string{
		"index.mjs": "export const handler = async () => {\n  throw new TypeError(\"no good\");\n};\n"})

	lambdaPath := regexp.MustCompile(`^(/var/task/|/var/lang/lib/python3\.\d+/importlib/|<frozen importlib\._bootstrap(_external)?>)`)
	pyFrame := regexp.MustCompile(`^  File "([^"]+)", line \d+, in `)
	for _, tc := range []struct {
		fn, errType, message string
		frames               []string // the trace's frames (Python) or lines (Node) that must be there, in order
	}{
		{"pystartup", "Exception", "Runtime startup fails", []string{
			`  File "/var/lang/lib/python3.12/importlib/__init__.py"`, `  File "/var/task/lambda_function.py", line 1, in <module>`}},
		{"pythrows", "ValueError", "bad value", []string{`  File "/var/task/app.py", line 2, in handler`}},
		{"nodestartup", "Error", "Runtime startup fails", []string{"Error: Runtime startup fails", "    at file:///var/task/index.mjs:1:7"}},
		{"nodethrows", "TypeError", "no good", []string{"TypeError: no good", "    at Runtime.handler (file:///var/task/index.mjs:2:9)"}},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			r := invokeFn(t, c, tc.fn, nil, map[string]any{})
			if r.fnError != "Unhandled" || r.errorDoc["errorType"] != tc.errType || r.errorDoc["errorMessage"] != tc.message {
				t.Fatalf("got %s %s", r.fnError, r.payload)
			}
			var trace []string
			key := "trace"
			if strings.HasPrefix(tc.fn, "py") {
				key = "stackTrace"
			}
			raw, _ := json.Marshal(r.errorDoc[key])
			if err := json.Unmarshal(raw, &trace); err != nil || len(trace) == 0 {
				t.Fatalf("%s is not a list of lines: %s", key, r.payload)
			}
			all := strings.Join(trace, "\n")
			if strings.Contains(all, "furl-") || strings.Contains(all, f.dataDir) || strings.Contains(string(r.payload), "/tmp/") {
				t.Fatalf("the trace shows furl's client or a host path: %s", r.payload)
			}
			at := 0
			for _, want := range tc.frames {
				for at < len(trace) && !strings.HasPrefix(trace[at], strings.Replace(want, "python3.12", pythonLibVersion(trace), 1)) {
					at++
				}
				if at == len(trace) {
					t.Fatalf("%s lacks %q (in order): %s", key, want, r.payload)
				}
			}
			if key == "stackTrace" {
				for _, fr := range trace {
					m := pyFrame.FindStringSubmatch(fr)
					if m == nil || !lambdaPath.MatchString(m[1]) {
						t.Errorf("frame %q is not under /var/task or the interpreter's importlib", fr)
					}
				}
			}
		})
	}
}

// pythonLibVersion is the python3.X of the trace's interpreter frames: the
// process sandbox runs the host's interpreter, whatever the runtime says.
func pythonLibVersion(trace []string) string {
	if m := regexp.MustCompile(`/var/lang/lib/(python3\.\d+)/`).FindStringSubmatch(strings.Join(trace, "\n")); m != nil {
		return m[1]
	}
	return "python3.12"
}

// An unqualified invocation of a missing function names $LATEST, through
// each Invoke API; a qualified one names its qualifier.
func TestErrShapeNotFound(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	const arn = "arn:aws:lambda:us-east-1:000000000000:function:"
	_, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("ghost")})
	apiErr(t, err, "ResourceNotFoundException", "Function not found: "+arn+"ghost:$LATEST")
	_, err = c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String(arn + "ghost"), InvocationType: types.InvocationTypeEvent})
	apiErr(t, err, "ResourceNotFoundException", "Function not found: "+arn+"ghost:$LATEST")
	_, err = c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("ghost"), Qualifier: aws.String("live")})
	apiErr(t, err, "ResourceNotFoundException", "Function not found: "+arn+"ghost:live")
	_, err = c.InvokeWithResponseStream(ctx(t), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("ghost")})
	apiErr(t, err, "ResourceNotFoundException", "Function not found: "+arn+"ghost:$LATEST")
	_, err = c.GetFunctionUrlConfig(ctx(t), &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("ghost")})
	apiErr(t, err, "ResourceNotFoundException", "The resource you requested does not exist.")
	_, err = c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("ghost"), AuthType: types.FunctionUrlAuthTypeNone})
	apiErr(t, err, "ResourceNotFoundException", "Function does not exist")
}
