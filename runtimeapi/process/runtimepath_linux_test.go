package process

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/furl-dev/furl/runtimeapi"
)

// A runtime runs on the interpreter --runtime-path names for it, else on
// a versioned one on the PATH (node99), else on the host's, and then its
// INIT_START line and the advice at CreateFunction say so and name the
// flag.
func TestRuntimePath(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("no node on the PATH")
	}
	bin := t.TempDir()
	// A stand-in node99: it prints 99 when asked its version.
	if err := os.WriteFile(filepath.Join(bin, "node99"), []byte("#!/bin/sh\necho 99\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	var logs bytes.Buffer
	sb := New(Options{ClientsDir: filepath.Join(t.TempDir(), "clients"), Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		RuntimePaths: map[string]string{"nodejs98.x": "/opt/node98/bin/node"}})
	if err := sb.setup(); err != nil {
		t.Fatal(err)
	}
	host := sb.nodeVersion()
	for _, tc := range []struct {
		runtime, path, note string
	}{
		{"nodejs98.x", "/opt/node98/bin/node", ""},
		{"nodejs99.x", filepath.Join(bin, "node99"), ""},
		{"nodejs" + host + ".x", sb.nodePath, ""},
		{"nodejs97.x", sb.nodePath, "host node v" + host + ".x: no nodejs97.x interpreter found; --runtime-path nodejs97.x=PATH names one"},
	} {
		t.Run(tc.runtime, func(t *testing.T) {
			note := ""
			argv, err := sb.command(runtimeapi.Spec{Function: runtimeapi.Function{Runtime: tc.runtime}, InitNote: func(n string) { note = n }})
			if err != nil {
				t.Fatal(err)
			}
			if argv[0] != tc.path || note != tc.note {
				t.Errorf("runs on %s with note %q, want %s with %q", argv[0], note, tc.path, tc.note)
			}
			err = sb.CheckRuntime(tc.runtime)
			if tc.note == "" && err != nil {
				t.Errorf("CheckRuntime: %v", err)
			}
			if tc.note != "" && (err == nil || !strings.Contains(err.Error(), "the host's node is version "+host+", not 97") ||
				!strings.Contains(err.Error(), "--runtime-path nodejs97.x=PATH")) {
				t.Errorf("CheckRuntime: %v", err)
			}
		})
	}
	if !strings.Contains(logs.String(), "--runtime-path nodejs97.x=PATH") {
		t.Errorf("the mismatch warning does not name the flag:\n%s", logs.String())
	}
}
