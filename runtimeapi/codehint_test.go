package runtimeapi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestInitHint(t *testing.T) {
	node := func(handler string) Function { return Function{Runtime: "nodejs22.x", Handler: handler} }
	py := func(handler string) Function { return Function{Runtime: "python3.12", Handler: handler} }
	msg := func(m string, trace ...string) string {
		b, _ := json.Marshal(map[string]any{"errorMessage": m, "trace": trace})
		return string(b)
	}
	for _, tc := range []struct {
		name    string
		fn      Function
		files   []string
		errType string
		payload string
		want    string
	}{
		{"node nested", node("index.handler"), []string{"dist/index.js"}, "Runtime.ImportModuleError", msg("Error: Cannot find module 'index'"),
			" (furl: the zip has dist/index.js: zip the folder's contents, not the folder (cd dist && zip -r ../function.zip .))"},
		{"node nested in node_modules is no hint", node("index.handler"), []string{"node_modules/index.js", "a.js"}, "Runtime.ImportModuleError", msg("Error: Cannot find module 'index'"),
			" (furl: handler index.handler needs index.js, index.mjs or index.cjs, which the zip does not have; it has, at its top level, a.js)"},
		{"node no code at all", node("index.handler"), []string{"README.md"}, "Runtime.ImportModuleError", msg("Error: Cannot find module 'index'"),
			" (furl: handler index.handler needs index.js, index.mjs or index.cjs, which the zip does not have; it has no .js, .mjs or .cjs file at its top level)"},
		{"node sub folder lists that folder", node("src/app.handler"), []string{"src/main.mjs"}, "Runtime.ImportModuleError", msg("Error: Cannot find module 'src/app'"),
			" (furl: handler src/app.handler needs src/app.js, src/app.mjs or src/app.cjs, which the zip does not have; it has, in src, src/main.mjs)"},
		{"node dependency missing is not ours", node("index.handler"), []string{"index.mjs"}, "Runtime.ImportModuleError", msg("Error: Cannot find package 'left-pad'"), ""},
		{"node syntax from trace", node("index.handler"), []string{"index.mjs"}, "Runtime.UserCodeSyntaxError",
			msg("SyntaxError: Unexpected token ';'", "/var/task/lib/x.mjs:12", "Runtime.UserCodeSyntaxError: SyntaxError: Unexpected token ';'"),
			" (furl: the syntax error is in lib/x.mjs, line 12)"},
		{"node syntax nowhere", node("index.handler"), []string{"index.mjs"}, "Runtime.UserCodeSyntaxError", msg("SyntaxError: Unexpected token ';'"), ""},
		{"python nested", py("app.handler"), []string{"pkg/app.py"}, "Runtime.ImportModuleError", msg("Unable to import module 'app': No module named 'app'"),
			" (furl: the zip has pkg/app.py: zip the folder's contents, not the folder (cd pkg && zip -r ../function.zip .))"},
		{"python dotted module", py("src/app.handler"), []string{"other.py"}, "Runtime.ImportModuleError", msg("Unable to import module 'src.app': No module named 'src'"),
			" (furl: handler src/app.handler needs src/app.py, which the zip does not have; it has, at its top level, other.py)"},
		{"python dependency missing is not ours", py("app.handler"), []string{"app.py"}, "Runtime.ImportModuleError", msg("Unable to import module 'app': No module named 'requests'"), ""},
		{"python syntax says where", py("app.handler"), []string{"app.py"}, "Runtime.UserCodeSyntaxError", msg("Syntax error in module 'app': invalid syntax (app.py, line 2)"), ""},
		{"other runtime", Function{Runtime: "java21", Handler: "a.b"}, []string{"x/a.js"}, "Runtime.ImportModuleError", msg("Cannot find module 'a'"), ""},
		{"image", Function{PackageType: "Image", Runtime: "nodejs22.x", Handler: "index.handler"}, []string{"x/index.js"}, "Runtime.ImportModuleError", msg("Error: Cannot find module 'index'"), ""},
		{"bad handler", node("index"), []string{"x/index.js"}, "Runtime.ImportModuleError", msg("Error: Cannot find module 'index'"), ""},
		{"escaping handler", node("../x.handler"), []string{"a.js"}, "Runtime.ImportModuleError", msg("Error: Cannot find module '../x'"), ""},
		{"not json", node("index.handler"), []string{"x/index.js"}, "Runtime.ImportModuleError", "Cannot find module 'index'", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				p := filepath.Join(dir, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := initHint(tc.fn, dir, tc.errType, []byte(tc.payload)); got != tc.want {
				t.Fatalf("hint %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWithHint(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"keeps order", `{"errorType":"E","errorMessage":"m","trace":["a"]}`, `{"errorType":"E","errorMessage":"m (h)","trace":["a"]}`},
		{"escapes", `{"errorMessage":"say \"x\"","errorType":"E"}`, `{"errorMessage":"say \"x\" (h)","errorType":"E"}`},
		{"key inside a value first", `{"errorType":"errorMessage","errorMessage":"m"}`, `{"errorType":"errorMessage","errorMessage":"m (h)"}`},
		{"no message", `{"errorType":"E"}`, `{"errorMessage":" (h)","errorType":"E"}`},
		{"not an object", `"x"`, `"x"`},
		{"message not a string", `{"errorMessage":1}`, `{"errorMessage":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(withHint([]byte(tc.in), " (h)")); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}
