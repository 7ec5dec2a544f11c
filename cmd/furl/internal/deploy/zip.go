package deploy

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// MaxZipBytes is AWS's limit on a deployment package uploaded directly
// (not through S3): 50 MB zipped.
const MaxZipBytes = 50 << 20

// IgnoreFile is the name of the file that lists what a deploy leaves out.
const IgnoreFile = ".furlignore"

// ErrTooLarge says a package grew past its cap.
var ErrTooLarge = errors.New("deployment package too large")

// zipEpoch is every entry's modification time: the same folder then zips
// to the same bytes, so an unchanged deploy has an unchanged CodeSha256.
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// capWriter is a bytes.Buffer that refuses to grow past max, so a huge
// folder fails early instead of being held in memory whole.
type capWriter struct {
	buf bytes.Buffer
	max int64
}

func (w *capWriter) Write(p []byte) (int, error) {
	if int64(w.buf.Len())+int64(len(p)) > w.max {
		return 0, ErrTooLarge
	}
	return w.buf.Write(p)
}

// ZipDir zips the folder dir in memory for upload, refusing to produce
// more than max bytes (MaxZipBytes when max is 0). It skips .git and what
// ig excludes, stores paths with forward slashes, keeps the executable
// bit of files (a bootstrap must stay executable), and stores a symbolic
// link as a link when its target stays inside dir; a link that leads out
// of dir, or nowhere, is refused, as its target would not be deployed.
func ZipDir(dir string, ig *Ignore, max int64) ([]byte, error) {
	if max <= 0 {
		max = MaxZipBytes
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("zip %s: %w", dir, err)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("zip %s: %w", dir, err)
	}
	out := &capWriter{max: max}
	zw := zip.NewWriter(out)
	err = filepath.WalkDir(realRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == realRoot {
			return nil
		}
		rel, err := filepath.Rel(realRoot, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.Name() == ".git" || ig.Match(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			return addLink(zw, realRoot, p, rel)
		case info.Mode().IsRegular():
			return addFile(zw, p, rel, info.Mode())
		default:
			return fmt.Errorf("%s is neither a file, a folder nor a link", rel)
		}
	})
	if err == nil {
		err = zw.Close()
	}
	if errors.Is(err, ErrTooLarge) {
		return nil, fmt.Errorf("zip %s: more than %d MB zipped, AWS's limit for a direct upload: leave files out with %s: %w", dir, max>>20, IgnoreFile, ErrTooLarge)
	}
	if err != nil {
		return nil, fmt.Errorf("zip %s: %w", dir, err)
	}
	return out.buf.Bytes(), nil
}

func addFile(zw *zip.Writer, p, rel string, mode fs.FileMode) error {
	// Only the executable bit is the folder's to say; the rest is the
	// usual mode of a deployed file.
	perm := fs.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	h := &zip.FileHeader{Name: rel, Method: zip.Deflate, Modified: zipEpoch}
	h.SetMode(perm)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	return nil
}

func addLink(zw *zip.Writer, realRoot, p, rel string) error {
	target, err := os.Readlink(p)
	if err != nil {
		return err
	}
	// The link's own text must stay inside once extracted elsewhere, and
	// what it resolves to here (through any further links) too.
	inside := !filepath.IsAbs(target)
	if inside {
		t := path.Clean(path.Join(path.Dir(rel), filepath.ToSlash(target)))
		inside = t != ".." && !strings.HasPrefix(t, "../")
	}
	if inside {
		resolved, err := filepath.EvalSymlinks(p)
		if err != nil {
			return fmt.Errorf("symbolic link %s leads nowhere (%s): %w", rel, target, err)
		}
		r, err := filepath.Rel(realRoot, resolved)
		inside = err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator))
	}
	if !inside {
		return fmt.Errorf("symbolic link %s leads out of the folder (to %s): copy what it points to into the folder, or list the link in %s", rel, target, IgnoreFile)
	}
	h := &zip.FileHeader{Name: rel, Method: zip.Store, Modified: zipEpoch}
	h.SetMode(fs.ModeSymlink | 0o777)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, filepath.ToSlash(target))
	return err
}
