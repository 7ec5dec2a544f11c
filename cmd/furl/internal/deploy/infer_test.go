package deploy

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestInfer(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, tc := range []struct {
		name             string
		files            fstest.MapFS
		runtime, handler string
		wantRT, wantH    string
		wantErr          string
	}{
		{name: "esm", files: fstest.MapFS{"index.mjs": file("export const handler = async () => 1;")}, wantRT: RuntimeNode, wantH: "index.handler"},
		{name: "esm function", files: fstest.MapFS{"index.mjs": file("export async function handler(e) {}")}, wantRT: RuntimeNode, wantH: "index.handler"},
		{name: "cjs", files: fstest.MapFS{"index.js": file("exports.handler = async () => 1;")}, wantRT: RuntimeNode, wantH: "index.handler"},
		{name: "module.exports", files: fstest.MapFS{"index.js": file("module.exports = { handler };")}, wantRT: RuntimeNode, wantH: "index.handler"},
		{name: "node without handler", files: fstest.MapFS{"index.js": file("exports.main = 1;")}, wantErr: "give --runtime and --handler"},
		{name: "python lambda_handler", files: fstest.MapFS{"lambda_function.py": file("def lambda_handler(event, context):\n    return 1\n")}, wantRT: RuntimePython, wantH: "lambda_function.lambda_handler"},
		{name: "python handler wins", files: fstest.MapFS{"app.py": file("def lambda_handler(e, c): pass\ndef handler(e, c): pass\n")}, wantRT: RuntimePython, wantH: "app.handler"},
		{name: "python handler.py", files: fstest.MapFS{"handler.py": file("def handler(e, c): pass\n")}, wantRT: RuntimePython, wantH: "handler.handler"},
		{name: "python nested def ignored", files: fstest.MapFS{"app.py": file("class X:\n    def handler(self): pass\n")}, wantErr: "give --runtime and --handler"},
		{name: "bootstrap", files: fstest.MapFS{"bootstrap": file("#!/bin/sh")}, wantRT: RuntimeProvided, wantH: "bootstrap"},
		{name: "runtime given", files: fstest.MapFS{"app.py": file("def handler(e, c): pass\n")}, runtime: "python3.13", wantRT: "python3.13", wantH: "app.handler"},
		{name: "runtime given, no such code", files: fstest.MapFS{"app.py": file("def handler(e, c): pass\n")}, runtime: "nodejs20.x", wantErr: "give --handler"},
		{name: "handler given", files: fstest.MapFS{"index.mjs": file("export const handler = 1")}, handler: "index.other", wantRT: RuntimeNode, wantH: "index.other"},
		{name: "handler given, nothing to infer", files: fstest.MapFS{"main.rb": file("")}, handler: "main.handler", wantErr: "give --runtime"},
		{name: "both given", files: fstest.MapFS{}, runtime: "ruby3.3", handler: "main.handler", wantRT: "ruby3.3", wantH: "main.handler"},
		{name: "empty", files: fstest.MapFS{}, wantErr: "give --runtime and --handler"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, h, err := Infer(tc.files, tc.runtime, tc.handler)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want an error saying %q, got %v (%s %s)", tc.wantErr, err, rt, h)
				}
				return
			}
			if err != nil || rt != tc.wantRT || h != tc.wantH {
				t.Fatalf("got %s %s %v, want %s %s", rt, h, err, tc.wantRT, tc.wantH)
			}
		})
	}
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"my-fn":                 "my-fn",
		"My Function.v2":        "My-Function-v2",
		"--x--":                 "x",
		"été":                   "t",
		"...":                   "",
		strings.Repeat("a", 70): strings.Repeat("a", 64),
	} {
		if got := SanitizeName(in); got != want {
			t.Errorf("SanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}
