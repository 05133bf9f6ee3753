//go:build darwin || freebsd || netbsd || openbsd

package main

import "golang.org/x/sys/unix"

// The terminal ioctls saveTerminal and restore use.
const (
	ioctlGetTermios = unix.TIOCGETA
	ioctlSetTermios = unix.TIOCSETA
)
