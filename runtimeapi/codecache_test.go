package runtimeapi

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
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

func TestExtractSealsModesAndKeepsLinks(t *testing.T) {
	c, err := newCodeCache(filepath.Join(t.TempDir(), "cache"), nil)
	if err != nil {
		t.Fatal(err)
	}
	z := zipOf(t,
		entry{"bootstrap", "#!/bin/sh\n", 0o755},
		entry{"lib/", "", os.ModeDir | 0o777},
		entry{"lib/data.txt", "data", 0o666},
		entry{"lib/tool", "#!/bin/sh\n", 0o700},
		entry{"secret.txt", "owner only", 0o600},
		entry{"current", "lib", os.ModeSymlink | 0o777},
		entry{"windows.txt", "no unix mode", 0},
	)
	dir, release, err := c.acquire("abc", z)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// Read-only, whatever the archive said: no write bit for anyone, the
	// executable bits kept.
	for name, want := range map[string]os.FileMode{
		".": 0o555, "bootstrap": 0o555, "lib": 0o555, "lib/data.txt": 0o444, "lib/tool": 0o555,
		"secret.txt": 0o444, "windows.txt": 0o444,
	} {
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
	// A second acquire is the same directory, not a second extraction.
	inode := func() uint64 {
		fi, err := os.Stat(filepath.Join(dir, "lib", "data.txt"))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	first := inode()
	again, release2, err := c.acquire("abc", z)
	if err != nil || again != dir {
		t.Fatalf("second acquire: %s, %v", again, err)
	}
	release2()
	if inode() != first {
		t.Fatal("the code was extracted twice")
	}
}

// Extracted code goes once no environment uses it and no version
// references it; it stays while either holds it.
func TestUnreferencedCodeIsRemoved(t *testing.T) {
	var mu sync.Mutex
	referenced := map[string]bool{"a": true, "b": true}
	c, err := newCodeCache(filepath.Join(t.TempDir(), "cache"), func(h string) bool {
		mu.Lock()
		defer mu.Unlock()
		return referenced[h]
	})
	if err != nil {
		t.Fatal(err)
	}
	z := zipOf(t, entry{"lib/", "", os.ModeDir | 0o755}, entry{"lib/x.txt", "x", 0o644})
	dirA, releaseA, err := c.acquire("a", z)
	if err != nil {
		t.Fatal(err)
	}
	dirB, releaseB, err := c.acquire("b", z)
	if err != nil {
		t.Fatal(err)
	}
	exists := func(d string) bool { _, err := os.Stat(d); return err == nil }

	// a loses its last version while an environment runs it: it stays
	// until that environment ends.
	mu.Lock()
	delete(referenced, "a")
	mu.Unlock()
	c.sweep()
	if !exists(dirA) {
		t.Fatal("code in use was removed")
	}
	releaseA()
	if exists(dirA) {
		t.Fatal("unused, unreferenced code stayed after its last environment ended")
	}
	// b's environment ends while a version still references it: it stays,
	// and goes at the sweep after its last version goes.
	releaseB()
	if !exists(dirB) {
		t.Fatal("referenced code was removed")
	}
	mu.Lock()
	delete(referenced, "b")
	mu.Unlock()
	c.sweep()
	if exists(dirB) {
		t.Fatal("the sweep left unreferenced code")
	}
	entries, _ := os.ReadDir(c.dir)
	if len(entries) != 0 {
		t.Fatalf("the cache still holds %v", entries)
	}
	// Needed again, it is extracted again.
	if _, release, err := c.acquire("a", z); err != nil {
		t.Fatal(err)
	} else {
		release()
	}
}

// A restart empties the cache, read-only directories and all.
func TestCacheEmptiedAtStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := newCodeCache(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.acquire("a", zipOf(t, entry{"lib/", "", os.ModeDir | 0o755}, entry{"lib/x.txt", "x", 0o644})); err != nil {
		t.Fatal(err)
	}
	if _, err := newCodeCache(dir, nil); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the cache still holds %v", entries)
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
		c, err := newCodeCache(filepath.Join(t.TempDir(), "cache"), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = c.acquire("h", zipOf(t, entries...))
		if err == nil {
			t.Errorf("%v extracted without error", entries)
		}
		if _, err := os.Stat(filepath.Join(outside, "escape.txt")); err == nil {
			t.Fatalf("%v wrote outside the code directory", entries)
		}
	}
}

// Code acquired while its directory is being removed is extracted again:
// an environment never gets a directory that is going away.
func TestAcquireDuringRemoval(t *testing.T) {
	c, err := newCodeCache(filepath.Join(t.TempDir(), "cache"), func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	z := zipOf(t, entry{"lib/", "", os.ModeDir | 0o755}, entry{"lib/x.txt", "x", 0o644})
	type got struct {
		dir     string
		release func()
		err     error
	}
	second := make(chan got, 1)
	c.removing = func(string) {
		c.removing = nil
		go func() {
			dir, release, err := c.acquire("h", z)
			second <- got{dir, release, err}
		}()
		// Give an acquire that does not wait for the removal the time to
		// return the doomed directory.
		time.Sleep(50 * time.Millisecond)
	}
	_, release, err := c.acquire("h", z)
	if err != nil {
		t.Fatal(err)
	}
	release() // unreferenced and unused: removed, racing the second acquire
	g := <-second
	if g.err != nil {
		t.Fatal(g.err)
	}
	defer g.release()
	if _, err := os.Stat(filepath.Join(g.dir, "lib", "x.txt")); err != nil {
		t.Fatalf("code acquired during its removal is missing: %v", err)
	}
}
