package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestPackagingHintsNodePython: a Node.js or Python function whose zip
// holds the mistake behind most init failures fails with Lambda's
// errorType and message, and furl's hint after the message, in the Invoke
// answer, in the function's log tail and in furl's log.
func TestPackagingHintsNodePython(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	const zipHint = ": zip the folder's contents, not the folder (cd myfn && zip -r ../function.zip .))"
	for _, tc := range []struct {
		name, runtime, handler string
		files                  map[string]string
		errType, message       string
	}{
		{"node-folder-zipped", "nodejs20.x", "index.handler",
			map[string]string{"myfn/index.mjs": "export const handler = async () => 1;\n"},
			"Runtime.ImportModuleError", "Error: Cannot find module 'index' (furl: the zip has myfn/index.mjs" + zipHint},
		{"node-no-such-file", "nodejs20.x", "index.handler",
			map[string]string{"app.mjs": "export const handler = async () => 1;\n", "lib.js": "", "README.md": ""},
			"Runtime.ImportModuleError", "Error: Cannot find module 'index' (furl: handler index.handler needs index.js, index.mjs or index.cjs, which the zip does not have; it has, at its top level, app.mjs, lib.js)"},
		{"node-esm-syntax", "nodejs20.x", "index.handler",
			map[string]string{"index.mjs": "export const handler = async () => {\n  return 1 +;\n};\n"},
			"Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected token ';' (furl: the syntax error is in index.mjs, line 2)"},
		{"node-cjs-syntax", "nodejs20.x", "src/app.handler",
			map[string]string{"src/app.js": "exports.handler = async () => {\n\n  return 1 +;\n};\n"},
			"Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected token ';' (furl: the syntax error is in src/app.js, line 3)"},
		{"python-folder-zipped", "python3.12", "app.handler",
			map[string]string{"myfn/app.py": "def handler(e, c):\n    return 1\n"},
			"Runtime.ImportModuleError", "Unable to import module 'app': No module named 'app' (furl: the zip has myfn/app.py" + zipHint},
		{"python-no-such-file", "python3.12", "lambda_function.lambda_handler",
			map[string]string{"app.py": "def handler(e, c):\n    return 1\n", "util.py": ""},
			"Runtime.ImportModuleError", "Unable to import module 'lambda_function': No module named 'lambda_function' (furl: handler lambda_function.lambda_handler needs lambda_function.py, which the zip does not have; it has, at its top level, app.py, util.py)"},
		// Python's message says where already: furl adds nothing.
		{"python-syntax", "python3.12", "app.handler",
			map[string]string{"app.py": "def handler(e, c):\n    return 1 +\n"},
			"Runtime.UserCodeSyntaxError", "Syntax error in module 'app': invalid syntax (app.py, line 2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			createScript(t, c, tc.name, types.Runtime(tc.runtime), tc.handler, tc.files)
			r := invokeFn(t, c, tc.name, nil, map[string]any{})
			if r.fnError != "Unhandled" || r.errorDoc["errorType"] != tc.errType || r.errorDoc["errorMessage"] != tc.message {
				t.Fatalf("got %s %s, want %s %q\n%s", r.fnError, r.payload, tc.errType, tc.message, r.log)
			}
			hint, hinted := strings.CutPrefix(tc.message[strings.Index(tc.message, " (")+1:], "(furl: ")
			if !hinted {
				if strings.Contains(r.log, "furl:") {
					t.Fatalf("a hint in the log where none was due:\n%s", r.log)
				}
				return
			}
			hint = strings.TrimSuffix(hint, ")")
			if !strings.Contains(r.log, "furl: "+hint) {
				t.Errorf("the log tail lacks the hint %q:\n%s", hint, r.log)
			}
			f.logs.waitFor(t, `msg="function init failed" function=`+tc.name+" ", 20*time.Second)
			for _, line := range strings.Split(f.logs.String(), "\n") {
				if strings.Contains(line, "function="+tc.name+" ") && strings.Contains(line, "level=WARN") && strings.Contains(line, "error_type="+tc.errType) && strings.Contains(line, hint[:20]) {
					return
				}
			}
			t.Errorf("furl's log has no warning with the hint for %s", tc.name)
		})
	}
}

// TestDockerPackagingHints: the hints come from the Runtime API furl
// serves, so a function in a container gets them too; there the code is
// at /var/task. The image's runtime client may be older than this furl's
// (or AWS's own), so the syntax error is a CommonJS one, whose location
// Node itself reports, and only furl's part of its message is checked.
func TestDockerPackagingHints(t *testing.T) {
	requireDocker(t, nodeImage)
	removeContainersAtEnd(t, "dnested", "dsyntax")
	f := startDockerFurl(t)
	c := f.client()
	for _, tc := range []struct {
		name    string
		files   map[string]string
		errType string
		message string
	}{
		{"dnested", map[string]string{"myfn/index.mjs": "export const handler = async () => 1;\n"}, "Runtime.ImportModuleError",
			"Error: Cannot find module 'index' (furl: the zip has myfn/index.mjs: zip the folder's contents, not the folder (cd myfn && zip -r ../function.zip .))"},
		{"dsyntax", map[string]string{"index.js": "exports.handler = async () => {\n  return 1 +;\n};\n"}, "Runtime.UserCodeSyntaxError",
			"Unexpected token ';' (furl: the syntax error is in index.js, line 2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			createScript(t, c, tc.name, types.RuntimeNodejs20x, "index.handler", tc.files)
			r := invokeFn(t, c, tc.name, nil, map[string]any{})
			if msg, _ := r.errorDoc["errorMessage"].(string); r.errorDoc["errorType"] != tc.errType || !strings.HasSuffix(msg, tc.message) {
				t.Fatalf("got %s, want %s ending %q\n%s", r.payload, tc.errType, tc.message, r.log)
			}
		})
	}
}
