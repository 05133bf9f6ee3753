//go:build !linux

package passfield

func pagesFor(n int) int { return 1 }

// lockedRoom is false where the limit cannot be read: the field uses its
// heap buffer rather than risk memguard's panic.
func lockedRoom(pages int) bool { return false }

// lockedNow: this system does not report the process's locked memory.
func lockedNow() (uint64, bool) { return 0, false }
