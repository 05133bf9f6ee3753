package vault

import "golang.org/x/sys/unix"

// The terminal ioctls readTTY uses.
const (
	ioctlGetTermios = unix.TCGETS
	ioctlSetTermios = unix.TCSETS
)
