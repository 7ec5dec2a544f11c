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
	"strings"
	"sync"
)

// codeCache extracts each deployment package once, into a directory named
// by its hash, and shares it between the versions and environments that
// run the same code. It is a cache: furl empties it at start.
type codeCache struct {
	dir string
	mu  sync.Mutex
	// busy serialises extractions of the same code.
	busy map[string]*sync.Mutex
}

func newCodeCache(dir string) (*codeCache, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("clear code cache: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create code cache: %w", err)
	}
	return &codeCache{dir: dir, busy: map[string]*sync.Mutex{}}, nil
}

// get returns the directory holding the extracted code, extracting it on
// first use.
func (c *codeCache) get(hash, zipPath string) (string, error) {
	c.mu.Lock()
	lock := c.busy[hash]
	if lock == nil {
		lock = &sync.Mutex{}
		c.busy[hash] = lock
	}
	c.mu.Unlock()
	lock.Lock()
	defer lock.Unlock()

	dest := filepath.Join(c.dir, hash)
	if _, err := os.Stat(dest); err == nil {
		return dest, nil
	}
	tmp, err := os.MkdirTemp(c.dir, hash+".tmp-")
	if err != nil {
		return "", fmt.Errorf("extract code: %w", err)
	}
	if err := extractZip(zipPath, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("extract code: %w", err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("extract code: %w", err)
	}
	return dest, nil
}

// extractZip unpacks a zip into dir through an os.Root, so that no entry
// and no symbolic link can write outside dir, whatever the archive holds.
// File modes are kept (a bootstrap stays executable); entries without
// permission bits get Lambda's defaults.
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
			if err := root.MkdirAll(name, 0o755); err != nil {
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
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("extract code: %w", err)
			}
		}
		if err := root.Symlink(string(target), name); err != nil {
			return fmt.Errorf("extract code: link %s: %w", f.Name, err)
		}
	}
	return nil
}

func extractFile(root *os.Root, f *zip.File, name string, mode fs.FileMode) error {
	if d := path.Dir(name); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("extract code: %w", err)
		}
	}
	perm := mode.Perm()
	if perm == 0 {
		perm = 0o644 // archives made on Windows carry no Unix modes
	}
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm|0o400)
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
	// OpenFile's mode is filtered by the umask; set it exactly.
	if err := root.Chmod(name, perm|0o400); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("extract code: %w", err)
	}
	return nil
}
