//go:build !linux

package testnet

import "syscall"

// childAttr puts a tor in its own process group (no Pdeathsig outside
// Linux: Close stops it).
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
