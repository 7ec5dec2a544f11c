package runtimeapi

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func layerOf(t *testing.T, name string, entries ...entry) Layer {
	t.Helper()
	return Layer{ARN: "arn:aws:lambda:us-east-1:000000000000:layer:" + name + ":1", CodeHash: name, CodePath: zipOf(t, entries...)}
}

func readIn(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Layers merge in order: a later layer's file replaces an earlier one's
// (a link too, which is replaced, not written through); the same layers
// in another order are another /opt.
func TestMergeOrderAndOverride(t *testing.T) {
	c, err := newOptCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	one := layerOf(t, "one", entry{"python/a.py", "one", 0o644}, entry{"lib/only1", "1", 0o644},
		entry{"target.txt", "kept", 0o644}, entry{"link", "target.txt", os.ModeSymlink | 0o777})
	two := layerOf(t, "two", entry{"python/a.py", "two", 0o644}, entry{"bin/tool", "#!/bin/sh", 0o755},
		entry{"link", "replaced", 0o644})

	dir, release, err := acquireOpt(c, Function{Layers: []Layer{one, two}})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for name, want := range map[string]string{"python/a.py": "two", "lib/only1": "1", "bin/tool": "#!/bin/sh", "link": "replaced", "target.txt": "kept"} {
		if got := readIn(t, dir, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if fi, err := os.Lstat(filepath.Join(dir, "link")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("link is %v (%v), want the later layer's file", fi.Mode(), err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "bin/tool")); fi.Mode().Perm() != 0o555 {
		t.Errorf("bin/tool has mode %v, want sealed r-xr-xr-x", fi.Mode().Perm())
	}
	if err := os.WriteFile(filepath.Join(dir, "python/new.py"), nil, 0o644); err == nil && os.Geteuid() != 0 {
		t.Error("the merged layers are writable")
	}

	back, releaseBack, err := acquireOpt(c, Function{Layers: []Layer{two, one}})
	if err != nil {
		t.Fatal(err)
	}
	defer releaseBack()
	if back == dir {
		t.Fatal("layers in another order share a directory")
	}
	if got := readIn(t, back, "python/a.py"); got != "one" {
		t.Errorf("python/a.py in reverse order = %q, want one", got)
	}
	if fi, err := os.Lstat(filepath.Join(back, "link")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("link in reverse order is %v (%v), want the later layer's link", fi.Mode(), err)
	}
}

// Environments with the same layers share one merge, made once; it goes
// when the last of them ends, or at a sweep, and is made again if needed.
func TestMergeSharedAndReleased(t *testing.T) {
	c, err := newOptCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fn := Function{Layers: []Layer{layerOf(t, "a", entry{"nodejs/node_modules/m/index.js", "x", 0o644}), layerOf(t, "b", entry{"bin/b", "b", 0o755})}}
	d1, r1, err := acquireOpt(c, fn)
	if err != nil {
		t.Fatal(err)
	}
	// Its zips gone, a second environment can only reuse the merge.
	zips := []string{fn.Layers[0].CodePath, fn.Layers[1].CodePath}
	saved := make([][]byte, len(zips))
	for i, z := range zips {
		saved[i], _ = os.ReadFile(z)
		os.Remove(z)
	}
	d2, r2, err := acquireOpt(c, fn)
	if err != nil {
		t.Fatalf("a second environment merged again: %v", err)
	}
	if d1 != d2 {
		t.Fatalf("two environments got %s and %s", d1, d2)
	}
	exists := func() bool { _, err := os.Stat(d1); return err == nil }
	r1()
	r1() // a second release of the same environment counts once
	c.sweep()
	if !exists() {
		t.Fatal("a merge in use was removed")
	}
	r2()
	if exists() {
		t.Fatal("the merge stayed after its last environment ended")
	}
	if entries, _ := os.ReadDir(c.dir); len(entries) != 0 {
		t.Fatalf("the cache still holds %v", entries)
	}
	for i, z := range zips {
		os.WriteFile(z, saved[i], 0o644)
	}
	if d3, r3, err := acquireOpt(c, fn); err != nil || readIn(t, d3, "bin/b") != "b" {
		t.Fatalf("merged again: %v", err)
	} else {
		r3()
	}

	// No layers, or an image: no /opt, and nothing merged.
	for _, f := range []Function{{}, {PackageType: "Image", Layers: fn.Layers}} {
		if d, r, err := acquireOpt(c, f); err != nil || d != "" {
			t.Errorf("%+v: /opt %q, %v", f, d, err)
		} else {
			r()
		}
	}
}

// A layer that would write outside /opt, or is too big unzipped, is
// refused, saying which layer; nothing is left behind.
func TestMergeRefusesBadLayers(t *testing.T) {
	outside := t.TempDir()
	var huge bytes.Buffer
	zw := zip.NewWriter(&huge)
	w, _ := zw.CreateRaw(&zip.FileHeader{Name: "big", Method: zip.Store, CompressedSize64: 1, UncompressedSize64: maxOptBytes})
	w.Write([]byte{0})
	zw.Close()
	hugePath := filepath.Join(t.TempDir(), "huge.zip")
	os.WriteFile(hugePath, huge.Bytes(), 0o644)
	good := layerOf(t, "good", entry{"python/ok.py", "x", 0o644}) // one byte: with huge, one too many

	for _, tc := range []struct {
		name   string
		layers []Layer
		want   string
	}{
		{"path traversal", []Layer{good, layerOf(t, "evil", entry{"../escape.txt", "x", 0o644})}, `layer:evil:1: extract code: entry "../escape.txt" escapes`},
		{"link out", []Layer{layerOf(t, "evil", entry{"out", outside, os.ModeSymlink | 0o777}, entry{"out/escape.txt", "x", 0o644})}, "layer:evil:1: extract code"},
		{"too big", []Layer{good, {ARN: "huge", CodeHash: "huge", CodePath: hugePath}}, "more than Lambda's 262144000"},
		{"not a zip", []Layer{{ARN: "nozip", CodeHash: "nozip", CodePath: good.CodePath + ".missing"}}, "layer nozip: open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newOptCache(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = acquireOpt(c, Function{Layers: tc.layers})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(outside, "escape.txt")); err == nil {
				t.Fatal("a layer wrote outside /opt")
			}
			if entries, _ := os.ReadDir(c.dir); len(entries) != 0 {
				t.Fatalf("the cache holds %v", entries)
			}
		})
	}
}

// A bad layer fails the invocation as bad code does, before any runtime
// starts; good layers reach the sandbox as Spec.Opt.
func TestInvokeWithLayers(t *testing.T) {
	sb := newFakeSandbox()
	m := newTestManager(t, sb)
	fn := testFunction(t, 5*time.Second)
	fn.Layers = []Layer{layerOf(t, "evil", entry{"../escape.txt", "x", 0o644})}
	_, err := m.Invoke(context.Background(), &Invocation{Function: fn, RequestID: "r1", Payload: []byte("{}")})
	if err == nil || !strings.Contains(err.Error(), "prepare layers of fn: layer arn:aws:lambda:us-east-1:000000000000:layer:evil:1: extract code") {
		t.Fatalf("err = %v, want the bad layer named", err)
	}
	select {
	case spec := <-sb.specs:
		t.Fatalf("a runtime started: %+v", spec)
	default:
	}

	fn.Layers = []Layer{layerOf(t, "good", entry{"bin/hello", "hi", 0o755})}
	fn.Fingerprint = "f2"
	out, rt, spec := startInvokeSpec(t, m, sb, fn, "{}")
	if spec.Opt == "" || readIn(t, spec.Opt, "bin/hello") != "hi" {
		t.Fatalf("Spec.Opt = %q, want the merged layers", spec.Opt)
	}
	rt.do("GET", "/runtime/invocation/next", nil, nil)
	rt.do("POST", "/runtime/invocation/11111111-2222-3333-4444-555555555555/response", strings.NewReader(`"ok"`), nil)
	if o := <-out; o.err != nil || o.body != `"ok"` {
		t.Fatalf("invocation with layers: %q, %v", o.body, o.err)
	}
}
