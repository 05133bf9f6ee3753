package testnet

import "syscall"

// childAttr puts a tor in its own process group and has the kernel kill it
// when the process that started it dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
