package runtimeapi

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// codeCache extracts each deployment package once, into a directory named
// by its hash, and shares it between the versions and environments that
// run the same code. Extracted code is read-only: files keep only their
// executable bits, directories cannot be written. A directory goes when no
// environment uses it and no version references its code any more; furl
// empties the cache at start, so a crash leaves nothing behind for long.
type codeCache struct {
	dir string
	// referenced says whether some version still runs the code; nil means
	// always.
	referenced func(hash string) bool

	mu      sync.Mutex
	entries map[string]*codeEntry

	// removing, when set (by tests), runs just before a directory is moved
	// out of the way.
	removing func(hash string)
}

// codeEntry is one hash's extracted code. users counts the environments
// that run it; mu serialises its extraction and removal.
type codeEntry struct {
	mu    sync.Mutex
	users int // guarded by codeCache.mu
}

func newCodeCache(dir string, referenced func(string) bool) (*codeCache, error) {
	if err := removeTree(dir); err != nil {
		return nil, fmt.Errorf("clear code cache: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create code cache: %w", err)
	}
	return &codeCache{dir: dir, referenced: referenced, entries: map[string]*codeEntry{}}, nil
}

// acquire returns the directory holding the extracted code, extracting it
// on first use, for one environment; release gives it back.
func (c *codeCache) acquire(hash, zipPath string) (dir string, release func(), err error) {
	return c.acquireFilled(hash, func(dir string) error { return extractZip(zipPath, dir) })
}

// acquireFilled is acquire for a directory that fill makes, in an empty
// directory, the first time key is asked for: one zip's code, or layers
// merged.
func (c *codeCache) acquireFilled(hash string, fill func(dir string) error) (dir string, release func(), err error) {
	c.mu.Lock()
	ent := c.entries[hash]
	if ent == nil {
		ent = &codeEntry{}
		c.entries[hash] = ent
	}
	ent.users++
	c.mu.Unlock()
	var once sync.Once
	release = func() { once.Do(func() { c.release(hash, ent) }) }

	ent.mu.Lock()
	dest := filepath.Join(c.dir, hash)
	if _, err := os.Stat(dest); err == nil {
		ent.mu.Unlock()
		return dest, release, nil
	}
	err = extractInto(c.dir, hash, fill)
	// Unlocked before the release: for an unreferenced key, it removes the
	// entry under the same lock.
	ent.mu.Unlock()
	if err != nil {
		release()
		return "", nil, err
	}
	return dest, release, nil
}

// extractInto fills a directory beside its final place, seals it, then
// renames it there: an environment never sees half of it.
func extractInto(cacheDir, hash string, fill func(dir string) error) error {
	tmp, err := os.MkdirTemp(cacheDir, hash+".tmp-")
	if err != nil {
		return fmt.Errorf("extract code: %w", err)
	}
	if err := fill(tmp); err != nil {
		removeTree(tmp)
		return err
	}
	if err := sealTree(tmp); err != nil {
		removeTree(tmp)
		return fmt.Errorf("extract code: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(cacheDir, hash)); err != nil {
		removeTree(tmp)
		return fmt.Errorf("extract code: %w", err)
	}
	return nil
}

// release is an environment done with a hash's code: the directory goes
// when it was the last user and no version references the code.
func (c *codeCache) release(hash string, ent *codeEntry) {
	c.mu.Lock()
	ent.users--
	unused := ent.users == 0
	c.mu.Unlock()
	if unused {
		c.dropIfUnreferenced(hash, ent)
	}
}

// sweep removes every directory no environment uses whose code no version
// references: after a function's code changed or it was deleted.
func (c *codeCache) sweep() {
	c.mu.Lock()
	var unused []string
	for hash, ent := range c.entries {
		if ent.users == 0 {
			unused = append(unused, hash)
		}
	}
	c.mu.Unlock()
	for _, hash := range unused {
		c.mu.Lock()
		ent := c.entries[hash]
		c.mu.Unlock()
		if ent != nil {
			c.dropIfUnreferenced(hash, ent)
		}
	}
}

func (c *codeCache) dropIfUnreferenced(hash string, ent *codeEntry) {
	if c.referenced == nil || c.referenced(hash) {
		return
	}
	// The entry stays in the map, locked, until its directory is out of
	// the way: an acquire meanwhile takes the same entry and waits for the
	// lock, then extracts afresh.
	ent.mu.Lock()
	defer ent.mu.Unlock()
	c.mu.Lock()
	if ent.users > 0 || c.entries[hash] != ent {
		// Taken again meanwhile: it stays.
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if c.removing != nil {
		c.removing(hash)
	}
	gone := filepath.Join(c.dir, hash+".gone-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Rename(filepath.Join(c.dir, hash), gone); err != nil {
		return
	}
	c.mu.Lock()
	if ent.users == 0 && c.entries[hash] == ent {
		delete(c.entries, hash)
	}
	c.mu.Unlock()
	removeTree(gone)
}

// sealTree makes extracted code read-only: regular files r--r--r--, or
// r-xr-xr-x when the archive gave them any executable bit; directories
// r-xr-xr-x. Nobody but root can then change it without changing the
// modes first, and group and others can never write it.
func sealTree(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			dirs = append(dirs, path)
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			mode := fs.FileMode(0o444)
			if fi.Mode().Perm()&0o111 != 0 {
				mode = 0o555
			}
			return os.Chmod(path, mode)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if err := os.Chmod(d, 0o555); err != nil {
			return err
		}
	}
	return nil
}

// removeTree removes a directory tree that sealTree made read-only: its
// directories get their write bit back first (never through a symbolic
// link, which WalkDir does not follow).
func removeTree(dir string) error {
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(path, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// extractZip unpacks a zip into dir through an os.Root, so that no entry
// and no symbolic link can write outside dir, whatever the archive holds.
// Files are written owner-only; sealTree then gives them their final,
// read-only modes (a bootstrap stays executable).
func extractZip(zipPath, dir string) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("open code %s: %w", zipPath, err)
	}
	defer zr.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("extract code: %w", err)
	}
	defer root.Close()
	var links []*zip.File
	for _, f := range zr.File {
		name := strings.Trim(path.Clean("/"+strings.ReplaceAll(f.Name, `\`, "/")), "/")
		if name == "" || name == "." {
			continue
		}
		if strings.HasPrefix(f.Name, "/") || strings.Contains("/"+strings.ReplaceAll(f.Name, `\`, "/")+"/", "/../") {
			return fmt.Errorf("extract code: entry %q escapes the code directory", f.Name)
		}
		mode := f.Mode()
		switch {
		case mode.IsDir() || strings.HasSuffix(f.Name, "/"):
			if err := root.MkdirAll(name, 0o700); err != nil {
				return fmt.Errorf("extract code: %w", err)
			}
		case mode&fs.ModeSymlink != 0:
			links = append(links, f) // after the files, so none is written through a link
		default:
			if err := extractFile(root, f, name, mode); err != nil {
				return err
			}
		}
	}
	for _, f := range links {
		name := strings.Trim(path.Clean("/"+strings.ReplaceAll(f.Name, `\`, "/")), "/")
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("extract code: %s: %w", f.Name, err)
		}
		target, err := io.ReadAll(io.LimitReader(rc, 4096))
		rc.Close()
		if err != nil {
			return fmt.Errorf("extract code: %s: %w", f.Name, err)
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o700); err != nil {
				return fmt.Errorf("extract code: %w", err)
			}
		}
		if err := replaceable(root, name); err != nil {
			return err
		}
		if err := root.Symlink(string(target), name); err != nil {
			return fmt.Errorf("extract code: link %s: %w", f.Name, err)
		}
	}
	return nil
}

// replaceable removes what an earlier archive extracted into the same
// directory (a layer merged before) at name, unless it is a directory: a
// file or link is replaced, never written through.
func replaceable(root *os.Root, name string) error {
	fi, err := root.Lstat(name)
	if err != nil || fi.IsDir() {
		return nil
	}
	if err := root.Remove(name); err != nil {
		return fmt.Errorf("extract code: replace %s: %w", name, err)
	}
	return nil
}

func extractFile(root *os.Root, f *zip.File, name string, mode fs.FileMode) error {
	if d := path.Dir(name); d != "." {
		if err := root.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("extract code: %w", err)
		}
	}
	if err := replaceable(root, name); err != nil {
		return err
	}
	// The executable bits are what sealTree keeps of the archive's mode.
	perm := fs.FileMode(0o600) | mode.Perm()&0o111
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("extract code: %w", err)
	}
	rc, err := f.Open()
	if err != nil {
		out.Close()
		return fmt.Errorf("extract code: %s: %w", f.Name, err)
	}
	_, err = io.Copy(out, rc)
	rc.Close()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("extract code: %s: %w", f.Name, err)
	}
	// OpenFile's mode is filtered by the umask, which may drop an
	// executable bit: set it exactly.
	if err := root.Chmod(name, perm); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("extract code: %w", err)
	}
	return nil
}
