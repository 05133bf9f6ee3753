//go:build !linux

package threatmodel

import "syscall"

// dieWithParent: only Linux kills a child when its parent dies (the
// network-namespace re-exec that uses it is Linux's too).
func dieWithParent() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
