//go:build darwin || freebsd || netbsd || openbsd

package vault

import "golang.org/x/sys/unix"

// The terminal ioctls readTTY uses.
const (
	ioctlGetTermios = unix.TIOCGETA
	ioctlSetTermios = unix.TIOCSETA
)
