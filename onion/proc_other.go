//go:build !linux

package onion

import "syscall"

func childAttr() *syscall.SysProcAttr { return nil }
