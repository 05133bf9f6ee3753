package vault

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/awnumar/memguard"
	"golang.org/x/sys/unix"
)

// MinLockedMemory is the locked memory (RLIMIT_MEMLOCK) Sotto needs: what
// an ordinary user has by default, and what [MaxOpenSecrets] is sized for.
const MinLockedMemory = 64 << 10

// Harden prepares the process to hold secrets. Call it first thing in main,
// before anything else registers signal handlers. It
//   - turns core dumps off (RLIMIT_CORE 0) and makes the process
//     non-dumpable (Linux: PR_SET_DUMPABLE 0, which also stops other
//     processes of the same user from attaching a debugger or reading its
//     memory; macOS: PT_DENY_ATTACH, which refuses debuggers; elsewhere it
//     reports that it cannot),
//   - raises the soft RLIMIT_MEMLOCK to the hard limit, and reports a limit
//     below [MinLockedMemory] (unless CAP_IPC_LOCK lifts it),
//   - on SIGINT, SIGTERM and SIGHUP calls onSignal (if not nil; it must be
//     quick), wipes every memguard buffer and exits with status 1.
//
// It returns an error joining whatever could not be done; the caller may
// carry on (a smaller locked-memory limit still works, within it).
func Harden(onSignal func(os.Signal)) error {
	var errs []error
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		errs = append(errs, fmt.Errorf("disabling core dumps: %w", err))
	}
	if err := undumpable(); err != nil {
		errs = append(errs, err)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		errs = append(errs, fmt.Errorf("reading RLIMIT_MEMLOCK: %w", err))
	} else {
		if lim.Cur < lim.Max {
			lim.Cur = lim.Max
			if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
				errs = append(errs, fmt.Errorf("raising RLIMIT_MEMLOCK: %w", err))
				unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim)
			}
		}
		if _, capLock, _ := lockedUsage(); !capLock && lim.Cur != unix.RLIM_INFINITY && lim.Cur < MinLockedMemory {
			errs = append(errs, fmt.Errorf("the locked-memory limit is %d KiB, below the %d KiB Sotto needs: opening keys may fail; "+
				"raise it (ulimit -l %d, or memlock in /etc/security/limits.conf)", lim.Cur/1024, MinLockedMemory/1024, MinLockedMemory/1024))
		}
	}
	// CatchSignal runs the handler, purges every buffer and exits(1);
	// memguard.CatchInterrupt would cover SIGINT only.
	memguard.CatchSignal(func(sig os.Signal) {
		if onSignal != nil {
			onSignal(sig)
		}
	}, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	if len(errs) > 0 {
		return fmt.Errorf("vault: hardening: %w", errors.Join(errs...))
	}
	return nil
}

// Purge wipes every memguard buffer and key in the process. Call it on the
// way out (or use [Exit]); secrets cannot be used afterwards.
func Purge() { memguard.Purge() }

// Exit purges and exits with code.
func Exit(code int) { memguard.SafeExit(code) }
