package runtimeapi

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Every change a runtime could notice changes the fingerprint, including
// a same-size save within one mtime tick; looking again without a change
// does not.
func TestFolderFingerprint(t *testing.T) {
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		must(t, os.MkdirAll(filepath.Join(dir, "lib"), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "index.js"), []byte("exports.handler = () => 1"), 0o644))
		must(t, os.WriteFile(filepath.Join(dir, "lib", "a.js"), []byte("a"), 0o644))
		must(t, os.Symlink("lib/a.js", filepath.Join(dir, "link.js")))
		return dir
	}
	// An old mtime takes a file out of the racy window, so that only
	// metadata tells.
	old := time.Now().Add(-time.Hour)
	tests := []struct {
		name   string
		change func(t *testing.T, dir string)
		same   bool
	}{
		{"nothing", func(t *testing.T, dir string) {}, true},
		{"edit", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "index.js"), []byte("exports.handler = () => 22"), 0o644))
		}, false},
		{"same size, same mtime, recent", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "index.js")
			fi, _ := os.Stat(p)
			must(t, os.WriteFile(p, []byte("exports.handler = () => 2"), 0o644))
			must(t, os.Chtimes(p, fi.ModTime(), fi.ModTime()))
		}, false},
		{"new file in a subfolder", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "lib", "b.js"), nil, 0o644))
		}, false},
		{"removed file", func(t *testing.T, dir string) { must(t, os.Remove(filepath.Join(dir, "lib", "a.js"))) }, false},
		{"link retargeted", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "link.js")
			must(t, os.Remove(p))
			must(t, os.Symlink("index.js", p))
		}, false},
		{"mode", func(t *testing.T, dir string) { must(t, os.Chmod(filepath.Join(dir, "index.js"), 0o755)) }, false},
		{"replaced by rename, old mtime", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "lib", "a.js")
			tmp := p + ".tmp"
			must(t, os.WriteFile(tmp, []byte("b"), 0o644))
			must(t, os.Chtimes(tmp, old, old))
			must(t, os.Rename(tmp, p))
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := setup(t)
			if tc.name == "replaced by rename, old mtime" {
				must(t, os.Chtimes(filepath.Join(dir, "lib", "a.js"), old, old))
			}
			before, _ := folderFingerprint(dir, time.Now())
			tc.change(t, dir)
			after, _ := folderFingerprint(dir, time.Now())
			if (before == after) != tc.same {
				t.Errorf("fingerprint unchanged = %v, want %v", before == after, tc.same)
			}
		})
	}
}

// The generation only grows, and only when the folder changed.
func TestHotFolderGenerations(t *testing.T) {
	dir := t.TempDir()
	var h hotFolder
	g1, _ := h.observe(dir)
	g2, _ := h.observe(dir)
	must(t, os.WriteFile(filepath.Join(dir, "x"), nil, 0o644))
	g3, _ := h.observe(dir)
	if g1 != g2 || g3 != g2+1 {
		t.Errorf("generations %d, %d, %d; want n, n, n+1", g1, g2, g3)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkFolderFingerprint measures the walk that precedes every
// invocation of a hot-reload function, for a folder of 1000 files in 20
// subfolders (a small node_modules), none of them just changed.
func BenchmarkFolderFingerprint(b *testing.B) {
	dir := b.TempDir()
	old := time.Now().Add(-time.Hour)
	for i := range 1000 {
		sub := filepath.Join(dir, fmt.Sprintf("pkg%02d", i%20))
		must(b, os.MkdirAll(sub, 0o755))
		p := filepath.Join(sub, fmt.Sprintf("f%04d.js", i))
		must(b, os.WriteFile(p, []byte("module.exports = 1\n"), 0o644))
		must(b, os.Chtimes(p, old, old))
	}
	b.ResetTimer()
	for b.Loop() {
		folderFingerprint(dir, time.Now())
	}
}
