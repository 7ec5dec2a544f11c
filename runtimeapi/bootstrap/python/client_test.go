package python

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/furl-dev/furl/runtimeapi/bootstrap/internal/clienttest"
)

// The error payloads of the Python client, as Lambda's Python runtime
// posts them: an exception at import under its own type, with the import
// machinery's frames and the user's; a module that cannot be found or
// parsed as the runtime's own error; a handler's exception with the user's
// frames only. Paths are Lambda's (/var/task, /var/lang/lib/pythonX.Y),
// never the host's, and no frame is the client's.
func TestErrorPayloads(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH")
	}
	client := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(client, Client, 0o444); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, handler string
		files         map[string]string
	}{
		{"import_exception", "lambda_function.handler", map[string]string{"lambda_function.py": "import os\n\nraise Exception(\"Runtime startup fails\")\n"}},
		{"import_exception_nested", "src/app.handler", map[string]string{
			"src/__init__.py": "",
			"src/app.py":      "from src import settings\n\n\ndef handler(event, context):\n    return settings.NAME\n",
			"src/settings.py": "def required(name):\n    raise KeyError(name)\n\n\nNAME = required(\"TABLE\")\n",
		}},
		{"missing_module", "nope.handler", map[string]string{"app.py": "def handler(event, context):\n    return 1\n"}},
		{"missing_dependency", "app.handler", map[string]string{"app.py": "import requests_not_installed\n"}},
		{"syntax_error", "app.handler", map[string]string{"app.py": "def handler(event, context):\n    return 1 +\n"}},
		{"missing_handler", "app.other", map[string]string{"app.py": "def handler(event, context):\n    return 1\n"}},
		{"builtin_module", "sys.handler", map[string]string{"app.py": ""}},
		{"handler_exception", "app.handler", map[string]string{"app.py": "def check(event):\n    raise ValueError(\"bad value\")\n\n\ndef handler(event, context):\n    check(event)\n"}},
		{"marshal_error", "app.handler", map[string]string{"app.py": "def handler(event, context):\n    return object()\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := clienttest.Run(t, []string{py, "-u", client}, tc.handler, tc.files)
			clienttest.Golden(t, tc.name, p, normalize)
		})
	}
}

var (
	// The interpreter's own frames carry its version's line numbers.
	interpreterLine = regexp.MustCompile(`((?:<frozen [^>]+>|/var/lang/lib/python3\.X/[^"]+)\\", line )\d+`)
	pythonVersion   = regexp.MustCompile(`/var/lang/lib/python3\.\d+/`)
)

// normalize hides what depends on the host's interpreter (its version and
// the line numbers of its standard library), and nothing else.
func normalize(s string) string {
	s = pythonVersion.ReplaceAllString(s, "/var/lang/lib/python3.X/")
	return interpreterLine.ReplaceAllString(s, "${1}N")
}
