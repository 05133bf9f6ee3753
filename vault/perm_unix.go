//go:build unix

package vault

import (
	"fmt"
	"os"
	"syscall"
)

// checkOwner refuses a path owned by another user.
func checkOwner(path string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("vault: %s belongs to user %d, not to you (%d): refusing to use it", path, st.Uid, uid)
	}
	return nil
}
