package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// hotReloadBucket is the Code.S3Bucket that makes furl run a function's
// code from the host folder that Code.S3Key names (LocalStack's
// convention, which furl's Lambda API follows).
const hotReloadBucket = "hot-reload"

// hotReloadSha256 is the CodeSha256 furl reports for such a function.
const hotReloadSha256 = "hot-reloading-hash-not-available"

// pollInterval is how often --build looks for changed files: a save is
// seen within it, and a burst of saves (an editor's save-all, a git
// checkout) within it and the next poll builds once.
const pollInterval = 100 * time.Millisecond

// maxWatchEntries bounds one look at the folder.
const maxWatchEntries = 100_000

// maxBuildOutput bounds what is kept of a build's output to show it.
const maxBuildOutput = 64 << 10

// watcher rebuilds a folder when its sources change.
type watcher struct {
	dir   string
	cmd   string
	ig    *Ignore
	skip  map[string]bool // slash paths relative to dir: the build's outputs
	out   io.Writer
	build func(ctx context.Context) (output []byte, err error)
}

func newWatcher(dir, cmd string, ig *Ignore, out io.Writer) *watcher {
	w := &watcher{dir: dir, cmd: cmd, ig: ig, out: out, skip: buildOutputs(cmd)}
	w.build = w.runBuild
	return w
}

// buildOutputs guesses what a build command writes, so that its own
// output does not start the next build: bootstrap (what a custom runtime
// runs) and whatever follows -o.
func buildOutputs(cmd string) map[string]bool {
	skip := map[string]bool{"bootstrap": true}
	words := strings.Fields(cmd)
	for i, w := range words {
		switch {
		case w == "-o" && i+1 < len(words):
			skip[filepath.ToSlash(filepath.Clean(strings.Trim(words[i+1], `'"`)))] = true
		case strings.HasPrefix(w, "-o="):
			skip[filepath.ToSlash(filepath.Clean(strings.Trim(w[3:], `'"`)))] = true
		}
	}
	return skip
}

// snapshot digests the watched files: path, size, mtime and mode of
// every file and link under dir but .git, .furlignore'd paths and build outputs.
func (w *watcher) snapshot() string {
	h := sha256.New()
	var buf [8]byte
	n := 0
	filepath.WalkDir(w.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == w.dir {
			return nil
		}
		rel, _ := filepath.Rel(w.dir, p)
		rel = filepath.ToSlash(rel)
		if d.Name() == ".git" || w.skip[rel] || w.ig.Match(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if n++; n > maxWatchEntries {
			return filepath.SkipAll
		}
		if d.IsDir() {
			// An empty folder changes no build (and a build may make
			// the folder of its output).
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		io.WriteString(h, rel+"\x00")
		for _, v := range []int64{info.Size(), info.ModTime().UnixNano(), int64(info.Mode())} {
			binary.LittleEndian.PutUint64(buf[:], uint64(v))
			h.Write(buf[:])
		}
		return nil
	})
	return string(h.Sum(nil))
}

// once runs the build and prints its line: the duration and the result,
// and the build's output when it failed. It reports whether it built.
func (w *watcher) once(ctx context.Context) bool {
	start := time.Now()
	output, err := w.build(ctx)
	d := time.Since(start).Round(time.Millisecond)
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		fmt.Fprintf(w.out, "build failed in %s (%v); still serving the last good build\n", d, err)
		w.out.Write(output)
		if len(output) > 0 && output[len(output)-1] != '\n' {
			fmt.Fprintln(w.out)
		}
		return false
	}
	fmt.Fprintf(w.out, "build ok in %s\n", d)
	return true
}

// loop rebuilds whenever the watched files change, until ctx ends. A
// change is built once the folder has looked the same for one more poll,
// so that a burst of saves builds once. The snapshot that started a build
// is the new baseline: a save during the build builds again.
func (w *watcher) loop(ctx context.Context) {
	base := w.snapshot()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	pending := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := w.snapshot()
		switch {
		case cur == base:
			pending = ""
		case cur != pending:
			pending = cur // changed: wait for it to settle
		default:
			base, pending = cur, ""
			w.once(ctx)
		}
	}
}

// runBuild runs the command through the shell in the folder, its output
// kept (bounded) for a failure's report. Ending ctx ends the build and
// everything it started.
// buildWaitDelay is how long a build's output may stay open after the
// build's shell has exited.
const buildWaitDelay = 2 * time.Second

func (w *watcher) runBuild(ctx context.Context) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", w.cmd)
	cmd.Dir = w.dir
	out := &boundedBuffer{max: maxBuildOutput}
	cmd.Stdout, cmd.Stderr = out, out
	killGroup(cmd)
	// A background child that keeps the output open does not hold the
	// build's end past this; what it left running ends with the build.
	cmd.WaitDelay = buildWaitDelay
	err := cmd.Run()
	endGroup(cmd)
	if errors.Is(err, exec.ErrWaitDelay) {
		// The build exited 0; only a child it left held the output.
		err = nil
	}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			err = fmt.Errorf("run %q: %w", w.cmd, err)
		}
	}
	return out.Bytes(), err
}

// boundedBuffer keeps the first max bytes written to it and says how
// many more there were.
type boundedBuffer struct {
	buf     bytes.Buffer
	max     int
	dropped int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	room := max(b.max-b.buf.Len(), 0)
	if room < len(p) {
		b.dropped += len(p) - room
		p = p[:room]
	}
	b.buf.Write(p)
	return n, nil
}

func (b *boundedBuffer) Bytes() []byte {
	if b.dropped > 0 {
		return append(b.buf.Bytes(), fmt.Sprintf("\n[%d more bytes of output]\n", b.dropped)...)
	}
	return b.buf.Bytes()
}

// watchHint is printed once the function is up in watch mode.
func watchHint(dir string, build bool) string {
	if build {
		return fmt.Sprintf("watching %s: a save rebuilds, and the next request after \"build ok\" runs the new build. Ctrl-C ends.", dir)
	}
	return fmt.Sprintf("watching %s: the next request after a save runs the saved code. Ctrl-C ends.", dir)
}

// absDir is the folder as the absolute path furl's Lambda API needs.
func absDir(src string) (string, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", err
	}
	// The folder itself, as furl stores it: the watcher then walks what a
	// link names, and deploy compares like with like.
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return "", fmt.Errorf("--watch runs code from a folder, and %s is a file", src)
	}
	return abs, nil
}
