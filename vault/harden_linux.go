package vault

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// undumpable makes the process non-dumpable: no core file, and another
// process of the same user can neither attach nor read /proc/PID/mem.
func undumpable() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("PR_SET_DUMPABLE: %w", err)
	}
	return nil
}
