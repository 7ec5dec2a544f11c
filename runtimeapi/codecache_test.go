package runtimeapi

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

type entry struct {
	name, content string
	mode          os.FileMode
}

func zipOf(t *testing.T, entries ...entry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		h.SetMode(e.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, e.content)
	}
	zw.Close()
	path := filepath.Join(t.TempDir(), "code.zip")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExtractKeepsModesAndLinks(t *testing.T) {
	c, err := newCodeCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	z := zipOf(t,
		entry{"bootstrap", "#!/bin/sh\n", 0o755},
		entry{"lib/", "", os.ModeDir | 0o755},
		entry{"lib/data.txt", "data", 0o644},
		entry{"current", "lib", os.ModeSymlink | 0o777},
		entry{"windows.txt", "no unix mode", 0},
	)
	dir, err := c.get("abc", z)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{"bootstrap": 0o755, "lib/data.txt": 0o644, "windows.txt": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", name, fi.Mode(), err, want)
		}
	}
	if target, err := os.Readlink(filepath.Join(dir, "current")); err != nil || target != "lib" {
		t.Errorf("link: %q, %v", target, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "current", "data.txt")); err != nil || string(b) != "data" {
		t.Errorf("through the link: %q, %v", b, err)
	}
	// A second get is the same directory, not a second extraction.
	os.WriteFile(filepath.Join(dir, "marker"), nil, 0o644)
	again, err := c.get("abc", z)
	if err != nil || again != dir {
		t.Fatalf("second get: %s, %v", again, err)
	}
	if _, err := os.Stat(filepath.Join(again, "marker")); err != nil {
		t.Fatal("the code was extracted twice")
	}
}

// Even an archive the upload checks would refuse cannot write outside the
// code directory: extraction goes through an os.Root.
func TestExtractStaysInside(t *testing.T) {
	outside := t.TempDir()
	for _, entries := range [][]entry{
		{{"../escape.txt", "x", 0o644}},
		{{"out", outside, os.ModeSymlink | 0o777}, {"out/escape.txt", "x", 0o644}},
	} {
		c, err := newCodeCache(filepath.Join(t.TempDir(), "cache"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.get("h", zipOf(t, entries...))
		if err == nil {
			t.Errorf("%v extracted without error", entries)
		}
		if _, err := os.Stat(filepath.Join(outside, "escape.txt")); err == nil {
			t.Fatalf("%v wrote outside the code directory", entries)
		}
	}
}
