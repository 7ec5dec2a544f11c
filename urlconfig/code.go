package urlconfig

import (
	"archive/zip"
	"bytes"
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

// zipSource is a request's deployment package: received on disk by the
// gateway, or given as bytes by an in-process caller.
type zipSource struct {
	upload *CodeUpload
	bytes  []byte
}

func (z zipSource) size() int64 {
	if z.upload != nil {
		return z.upload.Size()
	}
	return int64(len(z.bytes))
}

// stage validates a zip and hands it, synced, to a code archive in a
// temporary file. The caller must publish or discard the result.
func (c *codeStore) stage(src zipSource) (*codeArchive, error) {
	u := src.upload
	if u == nil {
		var err error
		if u, err = c.newUpload(); err != nil {
			return nil, err
		}
		defer u.Close()
		if _, err := u.Write(src.bytes); err != nil {
			return nil, err
		}
	}
	sum, err := u.finish()
	if err != nil {
		return nil, err
	}
	unzipped, err := inspectZip(u.f, u.size)
	if err != nil {
		return nil, err
	}
	if err := u.f.Close(); err != nil {
		return nil, fmt.Errorf("stage code: %w", err)
	}
	a := &codeArchive{
		hexSum:   hex.EncodeToString(sum),
		b64Sum:   base64.StdEncoding.EncodeToString(sum),
		size:     u.size,
		unzipped: unzipped,
		tmpPath:  u.path,
	}
	u.path = "" // the archive owns the file now
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

// inspectZip checks that the size bytes of r are a readable zip that
// extracts cleanly: its entries stay inside the directory it is extracted
// to, no two of them claim the same path or put one under a file or a link,
// and its contents, fully decompressed and checksummed, fit AWS's unzipped
// limit. It returns the unzipped size.
func inspectZip(r io.ReaderAt, size int64) (int64, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return 0, &Error{Type: ErrInvalidParameter, Message: unzipFailed, Err: err}
	}
	var total int64
	claims := map[string]pathClaim{} // cleaned entry path → what extraction makes there
	links := map[string]string{}     // cleaned entry path → link target
	for _, f := range zr.File {
		if err := checkEntryName(f.Name); err != nil {
			return 0, invalidParam("%s The entry %q %v.", unzipFailed, f.Name, err)
		}
		e := pathClaim{name: f.Name, kind: kindOf(f)}
		name := cleanEntry(f.Name)
		if err := claimPath(claims, name, e); err != nil {
			return 0, err
		}
		rc, err := f.Open()
		if err != nil {
			return 0, &Error{Type: ErrInvalidParameter, Message: unzipFailed, Err: fmt.Errorf("%s: %w", f.Name, err)}
		}
		var target bytes.Buffer
		var sink io.Writer = io.Discard
		budget := MaxUnzippedCodeSize - total
		limit := budget + 1
		if e.kind == kindLink {
			// A link's content is its target: read no more of it than
			// shows it overlong.
			sink, limit = &target, min(limit, maxLinkTarget+1)
		}
		n, err := io.Copy(sink, io.LimitReader(rc, limit))
		rc.Close()
		total += n
		if total > MaxUnzippedCodeSize {
			return 0, invalidParam("Unzipped size must be smaller than %d bytes", MaxUnzippedCodeSize)
		}
		if err != nil {
			return 0, &Error{Type: ErrInvalidParameter, Message: unzipFailed, Err: fmt.Errorf("%s: %w", f.Name, err)}
		}
		if e.kind == kindLink {
			if why := checkLinkTarget(target.String()); why != "" {
				return 0, invalidParam("%s The entry %q is a symbolic link %s.", unzipFailed, f.Name, why)
			}
			links[name] = target.String()
		}
	}
	for _, f := range zr.File {
		name := cleanEntry(f.Name)
		if parent, kind := nonDirAbove(claims, name); parent != "" {
			return 0, invalidParam("%s The entry %q lies under the %s %q.", unzipFailed, f.Name, kind.noun(), parent)
		}
		if target, ok := links[name]; ok {
			if why := linkEscapes(links, name, target); why != "" {
				return 0, invalidParam("%s The entry %q is a symbolic link %s.", unzipFailed, f.Name, why)
			}
		}
	}
	return total, nil
}

// entryKind is what extraction makes of a zip entry.
type entryKind int

const (
	kindFile entryKind = iota
	kindDir
	kindLink
)

// noun names a kind in messages.
func (k entryKind) noun() string {
	switch k {
	case kindDir:
		return "directory"
	case kindLink:
		return "symbolic link"
	}
	return "file"
}

// kindOf classifies an entry the way extraction does: a directory by its
// mode or its trailing slash, then a link by its mode, else a file.
func kindOf(f *zip.File) entryKind {
	switch m := f.Mode(); {
	case m.IsDir() || strings.HasSuffix(f.Name, "/"):
		return kindDir
	case m&os.ModeSymlink != 0:
		return kindLink
	}
	return kindFile
}

// pathClaim is what one zip entry makes of its path when extracted.
type pathClaim struct {
	name string // as the zip spells it, for messages
	kind entryKind
}

// claimPath records that an entry extracts to name, refusing a second
// entry at the same path: extraction cannot make one path both a file and
// a directory, cannot create a link twice, and would silently pick one of
// two files. Directories may repeat. The empty path is the function
// directory itself, which extraction skips.
func claimPath(claims map[string]pathClaim, name string, e pathClaim) error {
	if name == "" {
		return nil
	}
	prev, taken := claims[name]
	switch {
	case !taken:
		claims[name] = e
		return nil
	case prev.kind == kindDir && e.kind == kindDir:
		return nil
	case prev.name == e.name:
		return invalidParam("%s The entry %q appears twice.", unzipFailed, e.name)
	}
	return invalidParam("%s The entries %q and %q would be extracted to the same path.", unzipFailed, prev.name, e.name)
}

// nonDirAbove names the nearest parent directory of name that the zip
// makes a file or a symbolic link, and what it is. Extraction cannot create
// an entry under a file, and must not write through a link.
func nonDirAbove(claims map[string]pathClaim, name string) (string, entryKind) {
	for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if e, ok := claims[dir]; ok && e.kind != kindDir {
			return dir, e.kind
		}
	}
	return "", kindDir
}

type entryError struct{ msg string }

func (e *entryError) Error() string { return e.msg }

// maxNameComponent is the longest file name Linux allows (NAME_MAX).
const maxNameComponent = 255

// checkEntryName refuses names that would land outside the extraction
// directory (absolute paths, drive letters, ".." components) and names no
// file system can create: a NUL byte, or a component over NAME_MAX.
func checkEntryName(name string) error {
	n := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(n, "/") || (len(n) > 1 && n[1] == ':') {
		return &entryError{"has an absolute path"}
	}
	if strings.IndexByte(n, 0) >= 0 {
		return &entryError{"has a NUL byte in its name"}
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return &entryError{"escapes the function directory"}
		}
		if len(part) > maxNameComponent {
			return &entryError{fmt.Sprintf("has a name component longer than %d bytes", maxNameComponent)}
		}
	}
	return nil
}

// checkLinkTarget says what makes a link's target impossible to create
// ("" when nothing does).
func checkLinkTarget(target string) string {
	switch {
	case len(target) > maxLinkTarget:
		return "with an overlong target"
	case target == "":
		return "with an empty target"
	case strings.IndexByte(target, 0) >= 0:
		return "whose target holds a NUL byte"
	}
	return ""
}

// cleanEntry is an entry's path as extraction sees it: slashes, no "." or
// empty components, no trailing slash.
func cleanEntry(name string) string {
	return strings.Trim(path.Clean("/"+strings.ReplaceAll(name, `\`, "/")), "/")
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
