//go:build !linux && !darwin

package sotto

import "golang.org/x/sys/unix"

// renameNoReplace: no atomic no-replace rename here; the caller falls back
// to a hard link, which fails on an existing name too.
func renameNoReplace(from, to string) error { return unix.ENOSYS }
