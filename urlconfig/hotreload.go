package urlconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Hot reload follows LocalStack's convention: a Zip function whose
// Code.S3Bucket is HotReloadBucket takes its code from the host folder
// that Code.S3Key names, as it is at each invocation, instead of from a
// zip. Tools that already speak LocalStack's dialect (its CLI, CDK and
// Terraform setups, SAM's "local" flows) work unchanged.
const (
	// HotReloadBucket is the magic bucket name that marks a folder.
	HotReloadBucket = "hot-reload"
	// HotReloadCodeSha256 is what CreateFunction, GetFunction and
	// UpdateFunctionCode report as CodeSha256 for a folder: there is no
	// package to digest, and the folder changes under the function.
	// LocalStack reports the same string, so tools that compare it keep
	// working. CodeSize is 0 for the same reason.
	HotReloadCodeSha256 = "hot-reloading-hash-not-available"
)

// hotReloadDir returns the folder a hot-reload Code names ("" when the
// code is not hot reload), with its symbolic links resolved, refusing a
// path that is not absolute or not an existing directory, and the
// folders no function's code lives in (see protectedFolder). Nothing
// under the folder is read or changed.
func (s *Store) hotReloadDir(s3Bucket, s3Key, s3ObjectVersion *string, zipGiven bool) (string, error) {
	if s3Bucket == nil || *s3Bucket != HotReloadBucket {
		return "", nil
	}
	if zipGiven || s3ObjectVersion != nil {
		return "", invalidParam("Code with S3Bucket %q names a host folder in S3Key: give no ZipFile or S3ObjectVersion with it.", HotReloadBucket)
	}
	if s3Key == nil || *s3Key == "" {
		return "", invalidParam("Code with S3Bucket %q needs S3Key: the absolute path of the host folder to run the code from.", HotReloadBucket)
	}
	dir := *s3Key
	if !filepath.IsAbs(dir) {
		return "", invalidParam("Code.S3Key %q must be an absolute path of a host folder for S3Bucket %q.", dir, HotReloadBucket)
	}
	// The folder as the kernel reaches it: a link to a folder (macOS's
	// /tmp, a project linked into place) would otherwise be one entry to
	// the fingerprint, whose saves it never sees, and a link could name
	// the root or a system folder past the checks below.
	real, err := filepath.EvalSymlinks(dir)
	switch {
	case err != nil && os.IsNotExist(err):
		return "", invalidParam("Code.S3Key %q: no such folder on the host running furl.", dir)
	case err != nil:
		return "", &Error{Type: ErrInvalidParameter, Message: fmt.Sprintf("Code.S3Key %q cannot be read on the host running furl.", dir), Err: err}
	}
	if why := s.protectedFolder(real); why != "" {
		return "", invalidParam("Code.S3Key %q is %s: no function's code lives there; name the folder that holds the function's code.", dir, why)
	}
	fi, err := os.Stat(real)
	switch {
	case err != nil:
		return "", &Error{Type: ErrInvalidParameter, Message: fmt.Sprintf("Code.S3Key %q cannot be read on the host running furl.", dir), Err: err}
	case !fi.IsDir():
		return "", invalidParam("Code.S3Key %q is a file, not a folder: hot reload runs the code in a folder.", dir)
	}
	return real, nil
}

// systemFolders hold the host's own configuration, devices, sockets and
// kernel views: no function's code lives there, and a container given one
// of them (read-only or not) could read secrets or reach a daemon's
// socket (the Docker engine's, under /run).
var systemFolders = []string{"/etc", "/proc", "/sys", "/dev", "/run", "/var/run", "/boot", "/var/lib/docker"}

// protectedFolder says why dir may not be a function's folder, or "": the
// root, a system folder, furl's data directory, or any folder that holds
// one of those or the user's home folder. A folder inside the home folder
// (a project) is what hot reload is for.
func (s *Store) protectedFolder(dir string) string {
	dir = filepath.Clean(dir)
	if filepath.Dir(dir) == dir {
		// furl looks at every file of the folder before each invocation.
		return "the file system's root"
	}
	within := func(child, parent string) bool {
		rel, err := filepath.Rel(parent, child)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	}
	for _, sys := range systemFolders {
		switch {
		case within(dir, sys):
			return "in the system folder " + sys
		case within(sys, dir):
			return "a folder that holds the system folder " + sys
		}
	}
	if s.dir != "" && (within(dir, s.dir) || within(s.dir, dir)) {
		return "furl's data directory, in it or holding it"
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" && within(home, dir) {
		return "the home folder, or a folder that holds it"
	}
	return ""
}

// isHotReload says whether the configuration runs code from a host folder.
func (c *storedConfig) isHotReload() bool { return c.HotReloadDir != "" }

// applyHotReload makes c run the code in dir.
func applyHotReload(c *storedConfig, dir string) {
	c.HotReloadDir = dir
	c.CodeHash, c.UnzippedSize = "", 0
	c.CodeSize, c.CodeSha256 = 0, HotReloadCodeSha256
}
