package passfield

import (
	"bufio"
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

var pageSize = os.Getpagesize()

func pagesFor(n int) int { return (n + pageSize - 1) / pageSize }

// lockedRoom reports whether pages more pages can be locked under
// RLIMIT_MEMLOCK, given what the process has locked already (VmLck).
func lockedRoom(pages int) bool {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		return false
	}
	if lim.Cur == unix.RLIM_INFINITY {
		return true
	}
	used, ok := lockedNow()
	if !ok {
		return false
	}
	return used+uint64(pages*pageSize) <= lim.Cur
}

// lockedNow reads VmLck (in kB) from /proc/self/status.
func lockedNow() (uint64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmLck:"))
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
		if err != nil {
			return 0, false
		}
		return kb * 1024, true
	}
	return 0, false
}
