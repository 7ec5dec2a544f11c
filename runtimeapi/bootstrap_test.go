package runtimeapi

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Lambda's words first, then furl's hint at the packaging mistake behind
// them.
func TestCheckBootstrapHints(t *testing.T) {
	for _, tc := range []struct {
		name    string
		runtime string
		files   map[string]os.FileMode // path: mode
		want    string                 // "" when the check passes
	}{
		{"executable", "provided.al2023", map[string]os.FileMode{"bootstrap": 0o755}, ""},
		{"not a custom runtime", "nodejs22.x", map[string]os.FileMode{"index.mjs": 0o644}, ""},
		{"missing", "provided.al2023", map[string]os.FileMode{"README": 0o644},
			"Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"},
		{"folder zipped", "provided.al2", map[string]os.FileMode{"build/bootstrap": 0o755},
			"Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap] (furl: the zip has build/bootstrap: zip the folder's contents, not the folder (cd build && zip -r ../function.zip .))"},
		{"not executable", "provided.al2023", map[string]os.FileMode{"bootstrap": 0o644},
			"fork/exec /var/task/bootstrap: permission denied (furl: the bootstrap in the zip is not executable: chmod +x bootstrap before zipping (archives made on Windows lose the bit))"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for p, mode := range tc.files {
				full := filepath.Join(dir, p)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte("x"), mode); err != nil {
					t.Fatal(err)
				}
			}
			err := CheckBootstrap(Spec{Function: Function{Name: "f", Runtime: tc.runtime}, Code: dir})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var se *StartError
			if !errors.As(err, &se) || se.Type != "Runtime.InvalidEntrypoint" || se.Message != tc.want {
				t.Fatalf("got %v\nwant Runtime.InvalidEntrypoint %q", err, tc.want)
			}
		})
	}
	if h := ExecHint("fork/exec /var/task/bootstrap: exec format error"); !strings.Contains(h, "GOOS=linux") {
		t.Errorf("no build hint for an exec format error: %q", h)
	}
	if h := ExecHint("fork/exec /var/task/bootstrap: no such file or directory"); h != "" {
		t.Errorf("a hint for another failure: %q", h)
	}
}
