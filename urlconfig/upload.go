package urlconfig

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
)

// CodeUpload is a deployment package being received: the gateway writes a
// request's decoded ZipFile into it as the request arrives, and
// CreateFunction or UpdateFunctionCode stage the code from it, so that no
// zip is ever held in memory. It lives in the code store's directory, where
// staging renames it into place, and is hashed as it is written.
//
// Bytes beyond MaxZippedCodeSize are counted but not kept: such a package
// is refused whole. A CodeUpload is used by one goroutine at a time.
type CodeUpload struct {
	f    *os.File
	buf  *bufio.Writer
	hash hash.Hash
	size int64
	// path is the temporary file while the upload owns it; staging hands
	// it over to the code archive and clears it.
	path string
}

// uploadBuffer is the write buffer of an upload: large enough that a 50 MB
// package takes few system calls.
const uploadBuffer = 64 << 10

// NewCodeUpload starts an empty upload. The caller must Close it.
func (s *Store) NewCodeUpload() (*CodeUpload, error) {
	return s.code.newUpload()
}

func (c *codeStore) newUpload() (*CodeUpload, error) {
	f, err := os.CreateTemp(c.dir, "upload-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("receive code: %w", err)
	}
	return &CodeUpload{f: f, buf: bufio.NewWriterSize(f, uploadBuffer), hash: sha256.New(), path: f.Name()}, nil
}

// Write appends decoded zip bytes.
func (u *CodeUpload) Write(p []byte) (int, error) {
	n := len(p)
	if room := MaxZippedCodeSize + 1 - u.size; room < int64(len(p)) {
		p = p[:max(room, 0)]
	}
	u.size += int64(n)
	if len(p) == 0 {
		return n, nil
	}
	u.hash.Write(p)
	if _, err := u.buf.Write(p); err != nil {
		return 0, fmt.Errorf("receive code: %w", err)
	}
	return n, nil
}

// Reset empties the upload: a later ZipFile member of the same request
// replaces an earlier one, as it does when JSON is decoded in memory.
func (u *CodeUpload) Reset() error {
	u.buf.Reset(u.f)
	u.hash.Reset()
	u.size = 0
	if err := u.f.Truncate(0); err != nil {
		return fmt.Errorf("receive code: %w", err)
	}
	if _, err := u.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("receive code: %w", err)
	}
	return nil
}

// Size is the number of zip bytes written, including any beyond the limit.
func (u *CodeUpload) Size() int64 { return u.size }

// Close releases the upload and removes its file, unless staging took it
// over. Closing a nil upload does nothing.
func (u *CodeUpload) Close() error {
	if u == nil || u.f == nil {
		return nil
	}
	err := u.f.Close()
	if errors.Is(err, os.ErrClosed) {
		err = nil
	}
	if u.path != "" {
		if rerr := os.Remove(u.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = rerr
		}
		u.path = ""
	}
	u.f = nil
	return err
}

// finish makes the received bytes durable and returns their SHA-256.
func (u *CodeUpload) finish() ([]byte, error) {
	if err := u.buf.Flush(); err != nil {
		return nil, fmt.Errorf("stage code: %w", err)
	}
	if err := u.f.Sync(); err != nil {
		return nil, fmt.Errorf("stage code: %w", err)
	}
	return u.hash.Sum(nil), nil
}
