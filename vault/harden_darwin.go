package vault

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// undumpable refuses debuggers (PT_DENY_ATTACH). macOS has no equivalent
// of Linux's non-dumpable flag: a process of the same user with the
// debugging entitlement, or root, can still read this one's memory.
func undumpable() error {
	if err := unix.PtraceDenyAttach(); err != nil {
		return fmt.Errorf("PT_DENY_ATTACH: %w", err)
	}
	return nil
}
