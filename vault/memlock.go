package vault

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// MaxOpenSecrets is how many secrets (or packs of secrets) may be open in
// locked buffers at once in this process. Opening one more waits up to
// openWait for another to close, then fails with [ErrLockedMemory]. With
// memguard's own three key pages, the default 64 KiB RLIMIT_MEMLOCK of an
// ordinary user leaves room for this many one-page buffers plus the
// transient pages memguard needs while opening and sealing.
const MaxOpenSecrets = 6

const openWait = 2 * time.Second

// ErrLockedMemory is returned instead of memguard's panic when the process
// has no locked memory left (RLIMIT_MEMLOCK) or too many secrets are open.
var ErrLockedMemory = errors.New("vault: out of locked memory")

// lockedGate serialises memguard allocations and checks each one against the
// process's RLIMIT_MEMLOCK first, because memguard panics (after wiping
// everything) when mlock fails. The limit is a property of the whole process,
// so this one gate is process-wide too: it is the only package-level state in
// the package, and it is immutable apart from its own locking.
var lockedGate = struct {
	mu    sync.Mutex
	slots chan struct{}
}{slots: make(chan struct{}, MaxOpenSecrets)}

var pageSize = os.Getpagesize()

func pagesFor(n int) int { return (n + pageSize - 1) / pageSize }

// allocLocked runs alloc, which creates memguard buffers totalling at most
// pages locked pages (transient ones included), if the limit leaves room.
func allocLocked(pages int, alloc func()) error {
	lockedGate.mu.Lock()
	defer lockedGate.mu.Unlock()
	if err := lockedRoom(pages); err != nil {
		return err
	}
	alloc()
	return nil
}

// lockedRoom reports ErrLockedMemory unless pages more pages can be locked.
func lockedRoom(pages int) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil || lim.Cur == unix.RLIM_INFINITY {
		return nil
	}
	used, capLock, err := lockedUsage()
	if err != nil || capLock {
		return nil // CAP_IPC_LOCK ignores the limit; unknown usage: let mlock decide
	}
	need := uint64(pages * pageSize)
	if used+need > lim.Cur {
		return fmt.Errorf("%w: %d KiB locked, %d KiB more needed, limit (ulimit -l) %d KiB: raise it in /etc/security/limits.conf or with ulimit -l, or close other work",
			ErrLockedMemory, used/1024, need/1024, lim.Cur/1024)
	}
	return nil
}

// takeSlot reserves one of the MaxOpenSecrets slots.
func takeSlot() (release func(), err error) {
	select {
	case lockedGate.slots <- struct{}{}:
	default:
		t := time.NewTimer(openWait)
		defer t.Stop()
		select {
		case lockedGate.slots <- struct{}{}:
		case <-t.C:
			return nil, fmt.Errorf("%w: more than %d secrets open at once", ErrLockedMemory, MaxOpenSecrets)
		}
	}
	return func() { <-lockedGate.slots }, nil
}
