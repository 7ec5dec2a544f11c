package urlconfig

import (
	"fmt"
	"os"
	"path/filepath"
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
// code is not hot reload), refusing a path that is not absolute or not an
// existing directory. Nothing under the folder is read or changed.
func hotReloadDir(s3Bucket, s3Key, s3ObjectVersion *string, zipGiven bool) (string, error) {
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
	if filepath.Dir(filepath.Clean(dir)) == filepath.Clean(dir) {
		// The root is never a function's code, and furl looks at every
		// file of the folder before each invocation.
		return "", invalidParam("Code.S3Key %q is the file system's root: name the folder that holds the function's code.", dir)
	}
	fi, err := os.Stat(dir)
	switch {
	case err != nil && os.IsNotExist(err):
		return "", invalidParam("Code.S3Key %q: no such folder on the host running furl.", dir)
	case err != nil:
		return "", &Error{Type: ErrInvalidParameter, Message: fmt.Sprintf("Code.S3Key %q cannot be read on the host running furl.", dir), Err: err}
	case !fi.IsDir():
		return "", invalidParam("Code.S3Key %q is a file, not a folder: hot reload runs the code in a folder.", dir)
	}
	return filepath.Clean(dir), nil
}

// isHotReload says whether the configuration runs code from a host folder.
func (c *storedConfig) isHotReload() bool { return c.HotReloadDir != "" }

// applyHotReload makes c run the code in dir.
func applyHotReload(c *storedConfig, dir string) {
	c.HotReloadDir = dir
	c.CodeHash, c.UnzippedSize = "", 0
	c.CodeSize, c.CodeSha256 = 0, HotReloadCodeSha256
}
