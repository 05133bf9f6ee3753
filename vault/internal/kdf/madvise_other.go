//go:build !linux

package kdf

// adviseV: MADV_DONTDUMP and MADV_HUGEPAGE are Linux's; elsewhere V is an
// ordinary mapping (core dumps are off in a hardened process anyway).
func adviseV(vmem []byte) {}
