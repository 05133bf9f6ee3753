package main

import (
	"bufio"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// memoryBacked reports the memory-backed file system dir is on ("tmpfs",
// "ramfs"), or "" for any other.
func memoryBacked(dir string) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "", err
	}
	switch uint32(st.Type) {
	case unix.TMPFS_MAGIC:
		return "tmpfs", nil
	case unix.RAMFS_MAGIC:
		return "ramfs", nil
	}
	return "", nil
}

// swapOn reports whether /proc/swaps lists an active swap area.
func swapOn() bool {
	f, err := os.Open("/proc/swaps")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		if n++; n > 1 && strings.TrimSpace(sc.Text()) != "" {
			return true
		}
	}
	return false
}
