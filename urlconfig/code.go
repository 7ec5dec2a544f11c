package urlconfig

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// AWS's deployment package limits for direct uploads.
const (
	// MaxZippedCodeSize is the largest zip accepted in a request (50 MB).
	MaxZippedCodeSize = 50 * 1024 * 1024
	// MaxUnzippedCodeSize is the largest total size of a zip's contents (250 MB).
	MaxUnzippedCodeSize = 262144000
)

const unzipFailed = "Could not unzip uploaded file. Please check your file, then try to upload again."

// codeArchive is a validated deployment package staged on disk, not yet
// referenced by any function.
type codeArchive struct {
	hexSum   string // sha256, hex: the file name in the code store
	b64Sum   string // sha256, base64: CodeSha256 as AWS reports it
	size     int64
	unzipped int64
	tmpPath  string
}

// codeStore keeps deployment packages on disk, one file per content hash.
// Which hashes are in use is recorded in the database; the store only moves
// files. All renames and removals happen under Store.codeMu, so a file is
// never removed while a transaction is about to reference it.
type codeStore struct {
	dir string
}

func (c *codeStore) path(hexSum string) string {
	return filepath.Join(c.dir, hexSum+".zip")
}

// stage validates a zip and writes it, synced, to a temporary file. The
// caller must publish or discard the result.
func (c *codeStore) stage(zipBytes []byte) (*codeArchive, error) {
	unzipped, err := inspectZip(zipBytes)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(zipBytes)
	a := &codeArchive{
		hexSum:   hex.EncodeToString(sum[:]),
		b64Sum:   base64.StdEncoding.EncodeToString(sum[:]),
		size:     int64(len(zipBytes)),
		unzipped: unzipped,
	}
	f, err := os.CreateTemp(c.dir, "upload-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("stage code: %w", err)
	}
	a.tmpPath = f.Name()
	if _, err := f.Write(zipBytes); err != nil {
		f.Close()
		os.Remove(a.tmpPath)
		return nil, fmt.Errorf("stage code: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(a.tmpPath)
		return nil, fmt.Errorf("stage code: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(a.tmpPath)
		return nil, fmt.Errorf("stage code: %w", err)
	}
	return a, nil
}

// publish moves a staged archive to its content-addressed name and makes
// the rename durable. Publishing the same content twice is harmless.
func (c *codeStore) publish(a *codeArchive) error {
	if a.tmpPath == "" {
		return nil
	}
	if err := os.Rename(a.tmpPath, c.path(a.hexSum)); err != nil {
		return fmt.Errorf("publish code: %w", err)
	}
	a.tmpPath = ""
	return syncDir(c.dir)
}

// discard removes a staged archive that was not published.
func (c *codeStore) discard(a *codeArchive) {
	if a != nil && a.tmpPath != "" {
		os.Remove(a.tmpPath)
		a.tmpPath = ""
	}
}

func (c *codeStore) remove(hexSum string) error {
	err := os.Remove(c.path(hexSum))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove code %s: %w", hexSum, err)
	}
	return nil
}

// sweep removes temporary files and archives no transaction references:
// what a crash between staging and commit, or between commit and removal,
// leaves behind.
func (c *codeStore) sweep(referenced func(hexSum string) bool) (removed int, err error) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return 0, fmt.Errorf("sweep code: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		hexSum, isZip := strings.CutSuffix(name, ".zip")
		if isZip && referenced(hexSum) {
			continue
		}
		if isZip || strings.HasSuffix(name, ".tmp") {
			if err := os.Remove(filepath.Join(c.dir, name)); err == nil {
				removed++
			}
		}
	}
	return removed, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// maxLinkTarget bounds a symbolic link's target, which is its content.
const maxLinkTarget = 4096

// inspectZip checks that b is a readable zip whose entries stay inside the
// directory it will be extracted to, and whose contents, fully decompressed
// and checksummed, fit AWS's unzipped limit. It returns the unzipped size.
func inspectZip(b []byte) (int64, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return 0, &Error{Type: ErrInvalidParameter, Message: unzipFailed, Err: err}
	}
	var total int64
	links := map[string]string{} // cleaned entry path → link target
	for _, f := range zr.File {
		if err := checkEntryName(f.Name); err != nil {
			return 0, invalidParam("%s The entry %q %v.", unzipFailed, f.Name, err)
		}
		isLink := f.Mode()&os.ModeSymlink != 0
		rc, err := f.Open()
		if err != nil {
			return 0, &Error{Type: ErrInvalidParameter, Message: unzipFailed, Err: fmt.Errorf("%s: %w", f.Name, err)}
		}
		var target bytes.Buffer
		var sink io.Writer = io.Discard
		if isLink {
			sink = &target
		}
		budget := MaxUnzippedCodeSize - total
		n, err := io.Copy(sink, io.LimitReader(rc, budget+1))
		rc.Close()
		total += n
		if total > MaxUnzippedCodeSize {
			return 0, invalidParam("Unzipped size must be smaller than %d bytes", MaxUnzippedCodeSize)
		}
		if err != nil {
			return 0, &Error{Type: ErrInvalidParameter, Message: unzipFailed, Err: fmt.Errorf("%s: %w", f.Name, err)}
		}
		if isLink {
			if n > maxLinkTarget {
				return 0, invalidParam("%s The entry %q is a symbolic link with an overlong target.", unzipFailed, f.Name)
			}
			links[cleanEntry(f.Name)] = target.String()
		}
	}
	for _, f := range zr.File {
		name := cleanEntry(f.Name)
		if under := linkAbove(links, name); under != "" {
			return 0, invalidParam("%s The entry %q lies under the symbolic link %q.", unzipFailed, f.Name, under)
		}
		if target, ok := links[name]; ok {
			if why := linkEscapes(links, name, target); why != "" {
				return 0, invalidParam("%s The entry %q is a symbolic link %s.", unzipFailed, f.Name, why)
			}
		}
	}
	return total, nil
}

type entryError struct{ msg string }

func (e *entryError) Error() string { return e.msg }

// checkEntryName refuses names that would land outside the extraction
// directory: absolute paths, drive letters, and ".." components.
func checkEntryName(name string) error {
	n := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(n, "/") || (len(n) > 1 && n[1] == ':') {
		return &entryError{"has an absolute path"}
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return &entryError{"escapes the function directory"}
		}
	}
	return nil
}

// cleanEntry is an entry's path as extraction sees it: slashes, no "." or
// empty components, no trailing slash.
func cleanEntry(name string) string {
	return strings.Trim(path.Clean("/"+strings.ReplaceAll(name, `\`, "/")), "/")
}

// linkAbove names a symbolic link among name's parent directories, if any:
// extracting the entry would write through that link.
func linkAbove(links map[string]string, name string) string {
	for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if _, ok := links[dir]; ok {
			return dir
		}
	}
	return ""
}

// maxLinkHops bounds link-to-link resolution, as the kernel's ELOOP does.
const maxLinkHops = 40

// linkEscapes resolves a link's target the way the kernel would once the
// zip is extracted, following the zip's other links, and says how it
// escapes the extraction directory ("" when it stays inside).
func linkEscapes(links map[string]string, name, target string) string {
	if strings.HasPrefix(target, "/") || strings.HasPrefix(target, `\`) {
		return "to an absolute path"
	}
	var cur []string
	if dir := path.Dir(name); dir != "." {
		cur = strings.Split(dir, "/")
	}
	queue := strings.Split(strings.ReplaceAll(target, `\`, "/"), "/")
	for hops := 0; len(queue) > 0; {
		part := queue[0]
		queue = queue[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return "that escapes the function directory"
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, part)
		next, isLink := links[strings.Join(cur, "/")]
		if !isLink {
			continue
		}
		if hops++; hops > maxLinkHops {
			return "in a loop of links"
		}
		if strings.HasPrefix(next, "/") || strings.HasPrefix(next, `\`) {
			return "through a link to an absolute path"
		}
		cur = cur[:len(cur)-1]
		queue = append(strings.Split(strings.ReplaceAll(next, `\`, "/"), "/"), queue...)
	}
	return ""
}
