package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteStarter(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string // what the folder holds first
		wrote bool
	}{
		{"empty", nil, true},
		{"only hidden", map[string]string{".gitignore": "node_modules\n", ".git/HEAD": "ref: refs/heads/main\n"}, true},
		{"a handler", map[string]string{"app.py": "def handler(e, c): pass\n"}, false},
		{"an unrelated file", map[string]string{"notes.txt": "x"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range c.files {
				os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			wrote, err := writeStarter(dir, &out)
			if err != nil || wrote != c.wrote {
				t.Fatalf("writeStarter = %v, %v; want %v", wrote, err, c.wrote)
			}
			_, statErr := os.Stat(filepath.Join(dir, "index.mjs"))
			if wrote != (statErr == nil) || wrote != strings.Contains(out.String(), "starter function") {
				t.Fatalf("wrote %v, index.mjs: %v, said %q", wrote, statErr, out.String())
			}
			if !wrote {
				return
			}
			// What it wrote deploys as a streaming Node function.
			p, file, err := loadFolder(dir, true)
			if err != nil {
				t.Fatal(err)
			}
			runtime, handler, _, err := inferNode(p.fsys)
			if err != nil || !strings.HasPrefix(runtime, "nodejs") || handler != "index.handler" || !file.Stream {
				t.Fatalf("the starter infers as %q %q (%v), furl.json stream=%v", runtime, handler, err, file.Stream)
			}
		})
	}
	// A path that is no folder is left to load to explain.
	if wrote, err := writeStarter(filepath.Join(t.TempDir(), "missing"), &bytes.Buffer{}); wrote || err != nil {
		t.Errorf("a missing folder: %v, %v", wrote, err)
	}
}
