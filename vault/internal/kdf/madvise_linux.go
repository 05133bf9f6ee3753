package kdf

import "golang.org/x/sys/unix"

// adviseV tunes V's mapping (best effort: old kernels refuse either).
func adviseV(vmem []byte) {
	// Core dumps are off in a hardened process; this keeps V out of one
	// all the same.
	_ = unix.Madvise(vmem, unix.MADV_DONTDUMP)
	// Huge pages: 256 faults instead of 131072 for 512 MiB, which keeps
	// the first touch of V from costing a tenth of the derivation.
	_ = unix.Madvise(vmem, unix.MADV_HUGEPAGE)
}
