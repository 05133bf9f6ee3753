//go:build !linux

package vault

import "errors"

// lockedUsage: without /proc the process's locked memory is unknown, so
// every allocation is left to mlock (memguard) to decide.
func lockedUsage() (used uint64, capLock bool, err error) {
	return 0, false, errors.New("locked memory usage unknown on this system")
}
