package deploy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestBuildOutputs(t *testing.T) {
	tests := []struct {
		cmd  string
		want []string
	}{
		{"go build -o bootstrap .", []string{"bootstrap"}},
		{"go build -o bin/app ./cmd/app", []string{"bootstrap", "bin/app"}},
		{"go build -o=./out .", []string{"bootstrap", "out"}},
		{"make", []string{"bootstrap"}},
	}
	for _, tc := range tests {
		t.Run(tc.cmd, func(t *testing.T) {
			got := buildOutputs(tc.cmd)
			if len(got) != len(tc.want) {
				t.Errorf("buildOutputs(%q) = %v, want %v", tc.cmd, got, tc.want)
			}
			for _, w := range tc.want {
				if !got[w] {
					t.Errorf("buildOutputs(%q) = %v, lacks %q", tc.cmd, got, w)
				}
			}
		})
	}
}

// The watch sees source edits but not the build's own output or what
// .furlignore leaves out, so a build never starts the next one.
func TestWatchSnapshot(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.go", "package main")
	ig, err := ParseIgnore(strings.NewReader("tmp/\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := newWatcher(dir, "go build -o bin/app .", ig, &bytes.Buffer{})
	tests := []struct {
		name    string
		rel     string
		changed bool
	}{
		{"bootstrap", "bootstrap", false},
		{"-o output", "bin/app", false},
		{"ignored", "tmp/x", false},
		{"git", ".git/HEAD", false},
		{"source edit", "main.go", true},
		{"new source", "lib/a.go", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := w.snapshot()
			write(tc.rel, "changed "+tc.name)
			if after := w.snapshot(); (after != before) != tc.changed {
				t.Errorf("snapshot changed = %v, want %v", after != before, tc.changed)
			}
		})
	}
}

// A failed build prints its output after the line; a good one only the
// line.
func TestBuildLines(t *testing.T) {
	tests := []struct {
		cmd, wantPrefix, wantOutput string
		ok                          bool
	}{
		{"echo compiled", "build ok in ", "", true},
		{"echo 'main.go:3: undefined: x' >&2; exit 1", "build failed in ", "main.go:3: undefined: x\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.cmd, func(t *testing.T) {
			var out bytes.Buffer
			w := newWatcher(t.TempDir(), tc.cmd, nil, &out)
			if ok := w.once(context.Background()); ok != tc.ok {
				t.Errorf("once = %v, want %v", ok, tc.ok)
			}
			line, rest, _ := strings.Cut(out.String(), "\n")
			if !strings.HasPrefix(line, tc.wantPrefix) || rest != tc.wantOutput {
				t.Errorf("printed %q; want a line starting %q, then %q", out.String(), tc.wantPrefix, tc.wantOutput)
			}
		})
	}
}

func TestBoundedBuffer(t *testing.T) {
	b := &boundedBuffer{max: 4}
	for _, s := range []string{"ab", "cdef", "g"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := string(b.Bytes()); got != "abcd\n[3 more bytes of output]\n" {
		t.Errorf("Bytes = %q", got)
	}
}

// The watch loop, in a synctest bubble whose clock moves only while it
// waits: a save builds once the folder looks the same for one more poll;
// a burst of saves builds once; a save during a build builds again.
func TestWatchLoopDebounces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const p = pollInterval
		dir := t.TempDir()
		n := 0
		save := func() {
			t.Helper()
			// Each save grows the file: the size tells it apart even
			// where the file system's clock is coarser than the saves.
			n++
			if err := os.WriteFile(filepath.Join(dir, "main.go"), bytes.Repeat([]byte("x"), n), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		save()
		start := time.Now()
		var out bytes.Buffer
		ig, err := ParseIgnore(strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		w := newWatcher(dir, "true", ig, &out)
		var builds []time.Duration
		w.build = func(ctx context.Context) ([]byte, error) {
			builds = append(builds, time.Since(start))
			if len(builds) == 3 {
				time.Sleep(p + p/2) // a slow build, saved into
			}
			return nil, nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			w.loop(ctx)
			close(done)
		}()
		// Saves half-way between polls, so that no save and poll tie.
		at := func(d time.Duration) {
			t.Helper()
			time.Sleep(d - time.Since(start))
			save()
		}
		at(p / 2)                            // seen at 1p, built at 2p
		at(2*p + p/2)                        // a burst: seen at 3p,
		at(3*p + p/2)                        // changed again at 4p,
		at(4*p + p/2)                        // and at 5p, built at 6p
		at(6*p + p/2)                        // built at 8p, for 1.5p,
		at(9 * p)                            // saved into at 9p: built again
		time.Sleep(20*p - time.Since(start)) // nothing more
		cancel()
		<-done
		want := []time.Duration{2 * p, 6 * p, 8 * p, 10 * p}
		if !slices.Equal(builds, want) {
			t.Fatalf("built at %v, want %v", builds, want)
		}
		if !strings.Contains(out.String(), "build ok in 150ms\n") {
			t.Errorf("output:\n%s", out.String())
		}
	})
}
