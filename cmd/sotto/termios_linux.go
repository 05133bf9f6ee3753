package main

import "golang.org/x/sys/unix"

// The terminal ioctls saveTerminal and restore use.
const (
	ioctlGetTermios = unix.TCGETS
	ioctlSetTermios = unix.TCSETS
)
