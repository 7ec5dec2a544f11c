package runtimeapi

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
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
		must(t, os.MkdirAll(filepath.Join(dir, ".git", "refs"), 0o755))
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
		{"git's own files", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte("ref: refs/heads/main\n"), 0o644))
			must(t, os.WriteFile(filepath.Join(dir, ".git", "refs", "main"), []byte("abc\n"), 0o644))
		}, true},
		{"a .git file is code like any other", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "lib", ".gitkeep"), nil, 0o644))
		}, false},
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

// Invocations that arrive while a walk runs share the next walk, which
// starts after all of them arrived: a save made before they arrived is
// seen by each, and a crowd costs two walks, not one each.
func TestHotFolderCallersShareAWalk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		first, release := make(chan struct{}), make(chan struct{})
		var mu sync.Mutex
		walks, content := 0, "v1"
		h := hotFolder{walk: func(string, time.Time) (string, bool) {
			mu.Lock()
			walks++
			n, fp := walks, content
			mu.Unlock()
			if n == 1 {
				close(first)
				<-release
			}
			return fp, false
		}}
		gens := make(chan uint64, 6)
		go func() { g, _ := h.observe("dir"); gens <- g }()
		<-first
		// The folder changes while the first walk runs; five callers arrive.
		mu.Lock()
		content = "v2"
		mu.Unlock()
		var joined sync.WaitGroup
		for range 5 {
			joined.Add(1)
			go func() {
				joined.Done()
				g, _ := h.observe("dir")
				gens <- g
			}()
		}
		joined.Wait()
		// Wait until all five wait for the next walk (in the bubble, until
		// every goroutine is blocked), then let the first end. Waiting only for
		// a pending round let a late caller start a third walk.
		synctest.Wait()
		close(release)
		got := map[uint64]int{}
		for range 6 {
			got[<-gens]++
		}
		mu.Lock()
		defer mu.Unlock()
		// The first caller saw v1 (generation 1); the five saw v2.
		if got[1] != 1 || got[2] != 5 {
			t.Errorf("generations seen %v, want one caller at 1 and five at 2", got)
		}
		if walks > 2 {
			t.Errorf("%d walks for 6 callers, want 2", walks)
		}
	})
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

// serveRuntime answers every event of one environment with answer, until
// its Runtime API goes away.
func serveRuntime(n *memNet, spec Spec, answer string) {
	base := "http://" + spec.RuntimeAPI + "/2018-06-01/runtime/invocation/"
	c := n.client(0)
	for {
		resp, err := c.Get(base + "next")
		if err != nil {
			return
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return
		}
		r, err := c.Post(base+id+"/response", "application/json", strings.NewReader(answer))
		if err != nil {
			return
		}
		r.Body.Close()
	}
}

// A hot-reload function runs in its folder itself; a warm environment
// serves until the folder changes, then the next invocation gets a fresh
// one, and the old one is ended.
func TestHotReloadEnvironments(t *testing.T) {
	sb := newFakeSandbox()
	m := newTestManager(t, sb)
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "index.js"), []byte("v1"), 0o644))
	fn := Function{Name: "hot", Version: "$LATEST", Region: "us-east-1", AccountID: "000000000000", Runtime: "nodejs22.x",
		Handler: "index.handler", MemoryMB: 128, Timeout: 10 * time.Second, CodeDir: dir, Fingerprint: "f1"}
	invoke := func() string {
		t.Helper()
		res, err := m.Invoke(context.Background(), &Invocation{Function: fn, RequestID: "11111111-2222-3333-4444-555555555555", Payload: []byte("{}")})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		if fe := res.Wait(); fe != nil {
			t.Fatalf("invocation failed: %v", fe)
		}
		return string(body)
	}
	started := func(answer string) {
		t.Helper()
		select {
		case spec := <-sb.specs:
			if spec.Code != dir {
				t.Errorf("the environment runs code from %q, want the folder %q", spec.Code, dir)
			}
			go serveRuntime(sb.net, spec, answer)
		case <-time.After(10 * time.Second):
			t.Fatal("no environment was started")
		}
	}
	done := make(chan string, 1)
	go func() { done <- invoke() }()
	started(`"env1"`)
	if got := <-done; got != `"env1"` {
		t.Fatalf("first invocation: %s", got)
	}
	// No change: the warm environment serves, and nothing starts.
	if got := invoke(); got != `"env1"` || len(sb.specs) != 0 {
		t.Fatalf("without a change: %s, %d starts", got, len(sb.specs))
	}
	must(t, os.WriteFile(filepath.Join(dir, "index.js"), []byte("v2"), 0o644))
	go func() { done <- invoke() }()
	started(`"env2"`)
	if got := <-done; got != `"env2"` {
		t.Fatalf("after the change: %s", got)
	}
	sb.mu.Lock()
	old := sb.procs[0]
	sb.mu.Unlock()
	select {
	case <-old.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the environment of the old code was not ended")
	}
	// Code from a folder is never extracted into the code cache.
	if names, _ := os.ReadDir(m.code.dir); len(names) != 0 {
		t.Errorf("the code cache holds %d entries", len(names))
	}
}

// An invocation that looked at the folder before another one saw it
// change never brings the older code back: it takes the newer
// environment.
func TestHotReloadOlderLookKeepsNewerCode(t *testing.T) {
	sb := newFakeSandbox()
	m := newTestManager(t, sb)
	dir := t.TempDir()
	base := Function{Name: "hot", Version: "$LATEST", Region: "us-east-1", AccountID: "000000000000", Runtime: "nodejs22.x",
		Handler: "index.handler", MemoryMB: 128, Timeout: 10 * time.Second, CodeDir: dir, Fingerprint: "f1"}
	at := func(gen uint64) Function {
		fn := base
		fn.hotBase, fn.hotGen, fn.Fingerprint = base.Fingerprint, gen, hotFingerprint(base.Fingerprint, gen)
		return fn
	}
	p, err := m.poolFor(base)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *env, 1)
	go func() {
		e, _, err := p.acquire(context.Background(), at(2))
		if err != nil {
			t.Error(err)
		}
		got <- e
	}()
	select {
	case spec := <-sb.specs:
		go serveRuntime(sb.net, spec, `"new"`)
	case <-time.After(10 * time.Second):
		t.Fatal("no environment was started")
	}
	newer := <-got
	p.release(newer)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, _, err := p.acquire(ctx, at(1))
	if err != nil {
		t.Fatal(err)
	}
	if e != newer || p.fn.hotGen != 2 {
		t.Errorf("the older look got another environment (%v) or made the pool's code generation %d", e != newer, p.fn.hotGen)
	}
	p.release(e)
}
