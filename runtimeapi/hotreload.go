package runtimeapi

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// A hot-reload function (Function.CodeDir set) runs its code straight from
// a host folder. Before each invocation is handed to an environment, furl
// fingerprints the folder; when that differs from the last fingerprint,
// the version's environments are retired (through the pool's fingerprint,
// so only this function version's) and the invocation gets a fresh one.
// So the first request after a save runs the saved code, deterministically:
// no watcher has to win a race against the request.

// maxHotEntries bounds the walk of a hot-reload folder. Past it the
// fingerprint says so and covers only the first entries in lexical order;
// a folder that large (a whole home directory by mistake) is logged.
const maxHotEntries = 100_000

// racyWindow is how recent a file's mtime must be for its content to be
// hashed as well. File systems keep mtime in coarse ticks (a few ms on
// Linux), so two saves of the same size within one tick would look alike
// by metadata alone: git's "racy clean" problem, solved the same way.
const racyWindow = 2 * time.Second

// maxRacyHash bounds how much of one recently changed file is hashed,
// and maxRacyTotal how much of all of them in one walk: past it, recent
// files count by their metadata only.
const (
	maxRacyHash  = 64 << 20
	maxRacyTotal = 64 << 20
)

// folderFingerprint digests what a runtime could load from dir: every
// entry's path relative to dir, its type, size, mtime (ns) and inode, a
// link's target, and the content of files changed within racyWindow of
// now. Nothing is skipped: a runtime may load any file. Links are not
// followed (a change behind a link that leaves the folder is not seen).
// truncated says the walk stopped at maxHotEntries.
func folderFingerprint(dir string, now time.Time) (fp string, truncated bool) {
	h := sha256.New()
	var buf [8]byte
	num := func(n int64) {
		binary.LittleEndian.PutUint64(buf[:], uint64(n))
		h.Write(buf[:])
	}
	str := func(s string) {
		num(int64(len(s)))
		io.WriteString(h, s)
	}
	// A file is racy if its mtime is within the window around now; one
	// dated in the future (a clock skewed, a touch -d) would otherwise be
	// hashed at every invocation, forever.
	racySince, racyUntil := now.Add(-racyWindow), now.Add(racyWindow)
	hashBudget := int64(maxRacyTotal)
	entries := 0
	errStop := errors.New("stop")
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			// An unreadable entry is part of what the runtime sees.
			str("err:" + path + ":" + err.Error())
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if entries++; entries > maxHotEntries {
			truncated = true
			return errStop
		}
		// A repository's own bookkeeping is no runtime's to load, and git
		// rewrites it at every command: a commit should not cost a cold
		// start.
		if d.IsDir() && d.Name() == ".git" && path != dir {
			return fs.SkipDir
		}
		rel, _ := filepath.Rel(dir, path)
		str(rel)
		info, err := d.Info()
		if err != nil {
			str("gone")
			return nil
		}
		num(int64(info.Mode()))
		num(info.Size())
		num(info.ModTime().UnixNano())
		num(int64(inode(info)))
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(path)
			str(target)
		case info.Mode().IsRegular() && !info.ModTime().Before(racySince) && !info.ModTime().After(racyUntil):
			if hashBudget > 0 {
				hashBudget -= hashFile(h, path, min(hashBudget, maxRacyHash))
			} else {
				str("unhashed")
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		str("err:" + err.Error())
	}
	if truncated {
		str("truncated")
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), truncated
}

// hashFile writes up to limit bytes of a file to w and returns how many.
func hashFile(w io.Writer, path string, limit int64) int64 {
	f, err := os.Open(path)
	if err != nil {
		io.WriteString(w, "unreadable")
		return 0
	}
	defer f.Close()
	n, _ := io.Copy(w, io.LimitReader(f, limit))
	return n
}

// hotFolder tracks one pool's folder: the last fingerprint and a
// generation that grows with each change, so that an invocation that
// fingerprinted the folder earlier never brings older code back.
// Invocations that arrive while a walk runs share the next one (a walk
// that starts after they arrived, so a save before any of them is seen):
// under load, at most two walks are under way or waited for, not one per
// invocation.
type hotFolder struct {
	mu      sync.Mutex
	changed *sync.Cond // a walk ended
	last    string
	gen     uint64
	warned  bool
	walking bool
	pending *walkRound // the next walk, not started: callers join it
	// walk is folderFingerprint, replaced in tests.
	walk func(dir string, now time.Time) (string, bool)
}

// walkRound is one walk and what the callers who joined it learn.
type walkRound struct {
	over bool
	gen  uint64
	warn bool
}

// observe fingerprints dir (in a walk that starts after this call) and
// returns the generation of what it found; warn is set once, for the
// first walk cut at maxHotEntries.
func (h *hotFolder) observe(dir string) (gen uint64, warn bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.changed == nil {
		h.changed = sync.NewCond(&h.mu)
	}
	if h.pending == nil {
		h.pending = &walkRound{}
	}
	r := h.pending
	for !r.over {
		if h.walking || h.pending != r {
			h.changed.Wait()
			continue
		}
		// This caller walks for the round it joined.
		h.pending, h.walking = nil, true
		walk := h.walk
		if walk == nil {
			walk = folderFingerprint
		}
		h.mu.Unlock()
		fp, truncated := walk(dir, time.Now())
		h.mu.Lock()
		if fp != h.last {
			h.last = fp
			h.gen++
		}
		r.gen = h.gen
		if truncated && !h.warned {
			h.warned, r.warn = true, true
		}
		r.over, h.walking = true, false
		h.changed.Broadcast()
	}
	return r.gen, r.warn
}

// hotFingerprint is fn's fingerprint for generation gen of its folder.
func hotFingerprint(fp string, gen uint64) string {
	return fp + "/hot" + strconv.FormatUint(gen, 10)
}
