//go:build unix

package urlconfig

import (
	"io/fs"
	"os"
	"syscall"
)

// ownedByMe reports whether furl's user owns a file.
func ownedByMe(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}
