package onion

import "syscall"

// childAttr makes the kernel kill tor if Sotto dies without closing it
// (tor's __OwningControllerProcess and TAKEOWNERSHIP do the same from
// tor's side).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
