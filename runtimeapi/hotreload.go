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

// maxRacyHash bounds how much of one recently changed file is hashed.
const maxRacyHash = 64 << 20

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
	racySince := now.Add(-racyWindow)
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
		case info.Mode().IsRegular() && !info.ModTime().Before(racySince):
			hashFile(h, path)
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

func hashFile(w io.Writer, path string) {
	f, err := os.Open(path)
	if err != nil {
		io.WriteString(w, "unreadable")
		return
	}
	defer f.Close()
	io.Copy(w, io.LimitReader(f, maxRacyHash))
}

// hotFolder tracks one pool's folder: the last fingerprint and a
// generation that grows with each change, so that an invocation that
// fingerprinted the folder earlier never brings older code back.
type hotFolder struct {
	mu     sync.Mutex
	last   string
	gen    uint64
	warned bool
}

// observe fingerprints dir and returns the generation of what it found.
func (h *hotFolder) observe(dir string) (gen uint64, warn bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fp, truncated := folderFingerprint(dir, time.Now())
	if fp != h.last {
		h.last = fp
		h.gen++
	}
	if truncated && !h.warned {
		h.warned, warn = true, true
	}
	return h.gen, warn
}

// hotFingerprint is fn's fingerprint for generation gen of its folder.
func hotFingerprint(fp string, gen uint64) string {
	return fp + "/hot" + strconv.FormatUint(gen, 10)
}
