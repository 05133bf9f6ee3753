//go:build !linux && !darwin

package vault

import "errors"

// undumpable: this system offers Sotto no way to keep other processes of
// the same user out of its memory.
func undumpable() error {
	return errors.New("this system has no way to make the process non-dumpable: another process of the same user may read its memory")
}
