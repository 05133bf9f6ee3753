package vault

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// lockedUsage reads VmLck and whether CAP_IPC_LOCK is effective.
func lockedUsage() (used uint64, capLock bool, err error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false, err
	}
	found := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		if v, ok := bytes.CutPrefix(line, []byte("VmLck:")); ok {
			f := bytes.Fields(v)
			if len(f) >= 1 {
				kb, err := strconv.ParseUint(string(f[0]), 10, 64)
				if err != nil {
					return 0, false, err
				}
				used, found = kb*1024, true
			}
		}
		if v, ok := bytes.CutPrefix(line, []byte("CapEff:")); ok {
			c, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 16, 64)
			if err == nil && c&(1<<unix.CAP_IPC_LOCK) != 0 {
				capLock = true
			}
		}
	}
	if !found {
		return 0, capLock, errors.New("no VmLck")
	}
	return used, capLock, nil
}
