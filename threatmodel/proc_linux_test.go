package threatmodel

import "syscall"

// dieWithParent has the kernel kill a child when this test binary dies.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
