package node

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/furl-dev/furl/runtimeapi/bootstrap/internal/clienttest"
)

// The error payloads of the Node.js client, as Lambda's Node.js runtime
// posts them: what the handler's module throws at import under its own
// type (an ES module's missing package included); a handler module that
// cannot be found, a CommonJS module's missing dependency and a syntax
// error as the runtime's own errors; a handler's exception with its frames
// from "at Runtime.handler". Paths are /var/task, never the host's, and no
// frame is the client's.
func TestErrorPayloads(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node on PATH")
	}
	client := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(client, Client, 0o444); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, handler string
		files         map[string]string
	}{
		{"import_exception_esm", "index.handler", map[string]string{"index.mjs": "const x = 1;\nthrow new Error(\"Runtime startup fails\");\nexport const handler = async () => x;\n"}},
		{"import_exception_cjs", "index.handler", map[string]string{"index.js": "function config() {\n  throw new TypeError(\"no TABLE\");\n}\nconfig();\nexports.handler = async () => 1;\n"}},
		{"missing_module", "nope.handler", map[string]string{"index.mjs": "export const handler = async () => 1;\n"}},
		{"missing_package_esm", "index.handler", map[string]string{"index.mjs": "import pad from \"left-pad-not-installed\";\nexport const handler = async () => pad;\n"}},
		{"missing_module_cjs", "index.handler", map[string]string{"index.js": "const pad = require(\"left-pad-not-installed\");\nexports.handler = async () => pad;\n"}},
		{"syntax_error", "index.handler", map[string]string{"index.mjs": "export const handler = async () => {\n  return 1 +;\n};\n"}},
		{"missing_handler", "index.other", map[string]string{"index.mjs": "export const handler = async () => 1;\n"}},
		{"handler_throws", "index.handler", map[string]string{"index.mjs": "function check(event) {\n  throw new TypeError(\"no good\");\n}\nexport const handler = async (event) => {\n  check(event);\n};\n"}},
		{"handler_rejects_later", "index.handler", map[string]string{"index.mjs": "export const handler = async (event) => {\n  await new Promise((r) => setTimeout(r, 1));\n  throw new RangeError(\"later\");\n};\n"}},
		{"callback_error", "index.handler", map[string]string{"index.js": "exports.handler = (event, context, callback) => {\n  callback(new Error(\"via callback\"));\n};\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := clienttest.Run(t, []string{node, client}, tc.handler, tc.files)
			clienttest.Golden(t, tc.name, p, normalize)
		})
	}
}

// Node's own frames differ from one Node version to the next, in number
// and in lines: each run of them reads as one "at <node internals>".
var (
	nodeFrame  = regexp.MustCompile(`(?m)^(\s+)"\s+at [^"]*node:[^"]*"(,?)$`)
	nodeFrames = regexp.MustCompile(`(?m)(^\s+"    at <node internals>",\n)+(\s+"    at <node internals>")`)
)

// normalize hides Node's own frames, and nothing else.
func normalize(s string) string {
	s = nodeFrame.ReplaceAllString(s, `$1"    at <node internals>"$2`)
	return nodeFrames.ReplaceAllString(s, "$2")
}
