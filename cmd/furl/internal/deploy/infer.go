package deploy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strings"
)

// Runtimes deploy infers.
const (
	RuntimeNode     = "nodejs22.x"
	RuntimePython   = "python3.12"
	RuntimeProvided = "provided.al2023"
)

var (
	// A Node module exporting handler, as ESM or CommonJS.
	nodeHandler = regexp.MustCompile(`(?m)export\s+(const|let|var|(async\s+)?function\*?)\s+handler\b|export\s*\{[^}]*\bhandler\b[^}]*\}|\bexports\.handler\s*=|module\.exports\s*=\s*\{[^}]*\bhandler\b`)
	// A top-level Python function, with its name captured.
	pythonDef = regexp.MustCompile(`(?m)^(?:async\s+)?def\s+(handler|lambda_handler)\s*\(`)
)

// maxInferRead bounds how much of a source file inference reads.
const maxInferRead = 1 << 20

// Infer fills in the runtime and handler a folder's code implies, keeping
// whichever of the two the caller gave. It looks for, in order: a
// bootstrap file (provided.al2023, handler bootstrap); index.mjs, index.js
// or index.cjs exporting handler (nodejs22.x, index.handler);
// lambda_function.py, app.py or handler.py defining handler or
// lambda_handler (python3.12, <module>.<function>). Given a runtime, it
// looks only for that runtime's kind of code. When nothing fits it says
// which flags to give.
func Infer(fsys fs.FS, runtime, handler string) (string, string, error) {
	if runtime != "" && handler != "" {
		return runtime, handler, nil
	}
	kind := ""
	switch {
	case strings.HasPrefix(runtime, "nodejs"):
		kind = "node"
	case strings.HasPrefix(runtime, "python"):
		kind = "python"
	case strings.HasPrefix(runtime, "provided"):
		kind = "provided"
	case runtime != "":
		return "", "", fmt.Errorf("cannot infer the handler for runtime %s: give --handler", runtime)
	}
	guesses := []func(fs.FS) (string, string, bool, error){}
	if kind == "" || kind == "provided" {
		guesses = append(guesses, inferProvided)
	}
	if kind == "" || kind == "node" {
		guesses = append(guesses, inferNode)
	}
	if kind == "" || kind == "python" {
		guesses = append(guesses, inferPython)
	}
	for _, g := range guesses {
		rt, h, ok, err := g(fsys)
		if err != nil {
			return "", "", err
		}
		if ok {
			if runtime != "" {
				rt = runtime
			}
			if handler != "" {
				h = handler
			}
			return rt, h, nil
		}
	}
	switch {
	case runtime != "":
		return "", "", fmt.Errorf("cannot infer the handler of this %s code: give --handler (like index.handler or app.handler)", runtime)
	case handler != "":
		return "", "", fmt.Errorf("cannot infer the runtime of handler %s: give --runtime (like %s, %s or %s)", handler, RuntimeNode, RuntimePython, RuntimeProvided)
	}
	return "", "", fmt.Errorf("cannot infer the runtime and handler (no bootstrap, index.mjs/index.js exporting handler, or lambda_function.py/app.py/handler.py defining handler): give --runtime and --handler (like --runtime %s --handler index.handler)", RuntimeNode)
}

func inferProvided(fsys fs.FS) (string, string, bool, error) {
	st, err := fs.Stat(fsys, "bootstrap")
	if err != nil || st.IsDir() {
		return "", "", false, nil
	}
	return RuntimeProvided, "bootstrap", true, nil
}

func inferNode(fsys fs.FS) (string, string, bool, error) {
	for _, name := range []string{"index.mjs", "index.js", "index.cjs"} {
		src, ok, err := readSource(fsys, name)
		if err != nil {
			return "", "", false, err
		}
		if ok && nodeHandler.MatchString(src) {
			return RuntimeNode, "index.handler", true, nil
		}
	}
	return "", "", false, nil
}

func inferPython(fsys fs.FS) (string, string, bool, error) {
	for _, module := range []string{"lambda_function", "app", "handler"} {
		src, ok, err := readSource(fsys, module+".py")
		if err != nil {
			return "", "", false, err
		}
		if !ok {
			continue
		}
		// handler wins over lambda_handler when a module defines both.
		fn := ""
		for _, m := range pythonDef.FindAllStringSubmatch(src, -1) {
			if fn == "" || m[1] == "handler" {
				fn = m[1]
			}
		}
		if fn != "" {
			return RuntimePython, module + "." + fn, true, nil
		}
	}
	return "", "", false, nil
}

// readSource reads the start of a file, reporting false when it is absent.
func readSource(fsys fs.FS, name string) (string, bool, error) {
	f, err := fsys.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read %s: %w", name, err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxInferRead))
	if err != nil {
		return "", false, fmt.Errorf("read %s: %w", name, err)
	}
	return string(raw), true, nil
}

// invalidName is what Lambda's function names may not hold.
var invalidName = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

// maxNameLen is Lambda's limit on a function's name.
const maxNameLen = 64

// SanitizeName turns a folder's base name into a Lambda function name:
// letters, digits, hyphens and underscores, at most 64 of them; other runs
// become one hyphen. It returns "" when nothing is left.
func SanitizeName(base string) string {
	n := strings.Trim(invalidName.ReplaceAllString(base, "-"), "-")
	if len(n) > maxNameLen {
		n = strings.Trim(n[:maxNameLen], "-")
	}
	return n
}
