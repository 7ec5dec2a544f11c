package deploy

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, dir, rel, content string, mode fs.FileMode) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is filtered by the umask; set it exactly.
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func entries(t *testing.T, raw []byte) map[string]*zip.File {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*zip.File{}
	for _, f := range zr.File {
		m[f.Name] = f
	}
	return m
}

func TestZipDir(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "bootstrap", "#!/bin/sh\n", 0o700)
	write(t, dir, "lib/util.js", "util", 0o600)
	write(t, dir, "lib/deep/data.txt", "data", 0o644)
	write(t, dir, ".git/config", "git", 0o644)
	write(t, dir, "debug.log", "log", 0o644)
	write(t, dir, "node_modules/x/index.js", "x", 0o644)
	write(t, dir, ".furlignore", "*.log\nnode_modules/\n", 0o644)
	if err := os.Symlink("lib/util.js", filepath.Join(dir, "util-link.js")); err != nil {
		t.Fatal(err)
	}
	ig, err := ParseIgnore(strings.NewReader("*.log\nnode_modules/\n"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ZipDir(dir, ig, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := entries(t, raw)
	var names []string
	for n := range got {
		names = append(names, n)
	}
	for _, want := range []string{"bootstrap", "lib/util.js", "lib/deep/data.txt", ".furlignore", "util-link.js"} {
		if got[want] == nil {
			t.Errorf("%s missing from the zip: %v", want, names)
		}
	}
	for _, absent := range []string{".git/config", "debug.log", "node_modules/x/index.js"} {
		if got[absent] != nil {
			t.Errorf("%s is in the zip", absent)
		}
	}
	for _, n := range names {
		if strings.Contains(n, `\`) || strings.HasPrefix(n, "/") {
			t.Errorf("entry %q is not a relative forward-slash path", n)
		}
	}
	if m := got["bootstrap"].Mode(); m.Perm() != 0o755 {
		t.Errorf("bootstrap's mode %v, want executable 0755", m)
	}
	if m := got["lib/util.js"].Mode(); m.Perm() != 0o644 {
		t.Errorf("util.js's mode %v, want 0644", m)
	}
	link := got["util-link.js"]
	if link.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("util-link.js stored with mode %v, not as a link", link.Mode())
	}
	rc, _ := link.Open()
	target, _ := io.ReadAll(rc)
	rc.Close()
	if string(target) != "lib/util.js" {
		t.Errorf("link target %q", target)
	}
	again, err := ZipDir(dir, ig, 0)
	if err != nil || !bytes.Equal(again, raw) {
		t.Errorf("zipping the same folder twice gave different bytes (err %v)", err)
	}
}

func TestZipDirRefusesEscapingLinks(t *testing.T) {
	outside := t.TempDir()
	write(t, outside, "secret", "s", 0o644)
	for _, tc := range []struct{ name, target string }{
		{"absolute", filepath.Join(outside, "secret")},
		{"relative", "../" + filepath.Base(outside) + "/secret"},
		{"dangling", "nowhere"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := filepath.Dir(outside)
			dir, err := os.MkdirTemp(parent, "fn")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			write(t, dir, "index.js", "x", 0o644)
			if err := os.Symlink(tc.target, filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
			if _, err := ZipDir(dir, nil, 0); err == nil || !strings.Contains(err.Error(), "link") {
				t.Fatalf("a link to %s was not refused: %v", tc.target, err)
			}
			// A .furlignore'd link is not zipped, so not refused.
			ig, _ := ParseIgnore(strings.NewReader("link\n"))
			if _, err := ZipDir(dir, ig, 0); err != nil {
				t.Fatalf("an ignored link was refused: %v", err)
			}
		})
	}
}

func TestZipDirSizeCap(t *testing.T) {
	dir := t.TempDir()
	noise := make([]byte, 64<<10) // random bytes do not compress
	rand.Read(noise)
	write(t, dir, "noise.bin", string(noise), 0o644)
	if _, err := ZipDir(dir, nil, 32<<10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a 64 KiB incompressible file under a 32 KiB cap: %v", err)
	}
	if _, err := ZipDir(dir, nil, 128<<10); err != nil {
		t.Fatalf("under a 128 KiB cap: %v", err)
	}
}
