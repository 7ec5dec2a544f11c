package runtimeapi

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// maxHintNames bounds how many file names a hint lists.
const maxHintNames = 8

// initHint is furl's hint for an init failure a Node.js or Python runtime
// reported (its errorType and /init/error body), given the function's
// extracted code; "" when furl has nothing to add. It names the packaging
// mistakes behind most such failures: the folder zipped instead of its
// contents, a handler naming a file the zip does not have, and, for a
// syntax error whose message does not say where, the file and line.
func initHint(fn Function, codeDir string, errType string, payload []byte) string {
	if fn.PackageType == "Image" || codeDir == "" {
		return ""
	}
	code := os.DirFS(codeDir)
	var body struct {
		ErrorMessage string   `json:"errorMessage"`
		Trace        []string `json:"trace"`
		StackTrace   []string `json:"stackTrace"`
	}
	if json.Unmarshal(payload, &body) != nil {
		return ""
	}
	var kind handlerKind
	switch {
	case strings.HasPrefix(fn.Runtime, "nodejs"):
		kind = nodeKind
	case strings.HasPrefix(fn.Runtime, "python"):
		kind = pythonKind
	default:
		return ""
	}
	module, ok := handlerModule(fn.Handler)
	if !ok {
		return ""
	}
	switch errType {
	case "Runtime.ImportModuleError":
		if !kind.missing(body.ErrorMessage, module) {
			// Some other module (a dependency) is missing.
			return ""
		}
		if h := nestedHint(code, module, kind.exts); h != "" {
			return h
		}
		return listHint(code, fn.Handler, module, kind.exts)
	case "Runtime.UserCodeSyntaxError":
		if pyLocation.MatchString(body.ErrorMessage) {
			return "" // Python's message says where already.
		}
		for _, s := range append(append([]string{body.ErrorMessage}, body.Trace...), body.StackTrace...) {
			if m := codeLocation.FindStringSubmatch(s); m != nil {
				file := path.Base(m[1])
				for _, root := range []string{filepath.ToSlash(codeDir) + "/", "/var/task/"} {
					if rel, ok := strings.CutPrefix(m[1], root); ok {
						file = rel
						break
					}
				}
				return hint("the syntax error is in " + file + ", line " + m[2])
			}
		}
	}
	return ""
}

// handlerKind is what differs between Node.js and Python handlers.
type handlerKind struct {
	exts []string
	// missing reports whether an import error's message is about the
	// handler's own module.
	missing func(msg, module string) bool
}

var (
	nodeKind = handlerKind{
		exts: []string{".js", ".mjs", ".cjs"},
		missing: func(msg, module string) bool {
			return strings.Contains(msg, "Cannot find module '"+module+"'") || strings.Contains(msg, "Cannot find module '/var/task/"+module+"'")
		},
	}
	pythonKind = handlerKind{
		exts: []string{".py"},
		missing: func(msg, module string) bool {
			// src/app.handler imports src.app; Python names the first
			// part that is missing.
			parts := strings.Split(module, "/")
			for i := range parts {
				if strings.Contains(msg, "No module named '"+strings.Join(parts[:i+1], ".")+"'") {
					return true
				}
			}
			return false
		},
	}
	// pyLocation is how Python's SyntaxError says where: "(app.py, line 3)".
	pyLocation = regexp.MustCompile(`\(\S+, line \d+\)`)
	// codeLocation is a file of the function's code, with a line, in a
	// message or stack: /var/task/index.js:3, file:///…/task/index.mjs:3.
	codeLocation = regexp.MustCompile(`(?:file://)?(/[^\s:]+\.(?:js|mjs|cjs)):(\d+)`)
)

// handlerModule is the module part of a handler, "src/app" of
// "src/app.handler".
func handlerModule(handler string) (string, bool) {
	slash := strings.LastIndex(handler, "/")
	dot := strings.Index(handler[slash+1:], ".")
	if dot <= 0 {
		return "", false
	}
	module := handler[:slash+1+dot]
	if !fs.ValidPath(module) {
		return "", false
	}
	return module, true
}

// nestedHint says so when the handler's file sits one folder down.
func nestedHint(code fs.FS, module string, exts []string) string {
	entries, err := fs.ReadDir(code, ".")
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "node_modules" || e.Name() == "__pycache__" {
			continue
		}
		for _, ext := range exts {
			name := e.Name() + "/" + module + ext
			if fi, err := fs.Stat(code, name); err == nil && !fi.IsDir() {
				return hint("the zip has " + name + ": zip the folder's contents, not the folder (cd " + e.Name() + " && zip -r ../function.zip .)")
			}
		}
	}
	return ""
}

// listHint names the files the handler could have meant.
func listHint(code fs.FS, handler, module string, exts []string) string {
	var want []string
	for _, ext := range exts {
		want = append(want, module+ext)
	}
	dir := path.Dir(module)
	entries, err := fs.ReadDir(code, dir)
	if err != nil && dir != "." {
		dir = "."
		entries, err = fs.ReadDir(code, dir)
	}
	if err != nil {
		return ""
	}
	var have []string
	for _, e := range entries {
		if !e.IsDir() && slices.Contains(exts, path.Ext(e.Name())) {
			have = append(have, path.Join(dir, e.Name()))
		}
	}
	where := "at its top level"
	if dir != "." {
		where = "in " + dir
	}
	msg := "handler " + handler + " needs " + orList(want) + ", which the zip does not have; "
	if len(have) == 0 {
		return hint(msg + "it has no " + orList(exts) + " file " + where)
	}
	if len(have) > maxHintNames {
		have = append(have[:maxHintNames], "...")
	}
	return hint(msg + "it has, " + where + ", " + strings.Join(have, ", "))
}

func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// withHint appends h to the errorMessage of an error body, keeping every
// other member as the runtime sent it; the body unchanged when it is not
// a JSON object.
func withHint(payload []byte, h string) []byte {
	var doc map[string]json.RawMessage
	if json.Unmarshal(payload, &doc) != nil || doc == nil {
		return payload
	}
	var msg string
	if raw, ok := doc["errorMessage"]; ok && json.Unmarshal(raw, &msg) != nil {
		return payload
	}
	enc, err := json.Marshal(msg + h)
	if err != nil {
		return payload
	}
	// Splice the new message in where the old one was, so the members
	// keep the runtime's order; check the result, and fall back to
	// re-encoding the object.
	if raw, ok := doc["errorMessage"]; ok {
		if i := bytes.Index(payload, []byte(`"errorMessage"`)); i >= 0 {
			if j := bytes.Index(payload[i:], raw); j >= 0 {
				at := i + j
				out := slices.Concat(payload[:at], enc, payload[at+len(raw):])
				var check struct {
					ErrorMessage string `json:"errorMessage"`
				}
				if json.Unmarshal(out, &check) == nil && check.ErrorMessage == msg+h {
					return out
				}
			}
		}
	}
	doc["errorMessage"] = enc
	out, err := json.Marshal(doc)
	if err != nil {
		return payload
	}
	return out
}
