//go:build !linux

package main

import "errors"

// memoryBacked: amnesic mode is Linux's (Tails, Whonix, Qubes); elsewhere
// Sotto cannot tell a memory-backed directory from a disk.
func memoryBacked(dir string) (string, error) {
	return "", errors.New("amnesic mode needs Linux (no way to check for a tmpfs here)")
}

func swapOn() bool { return false }
