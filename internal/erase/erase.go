// Package erase runs code whose temporary memory must not outlive it, with
// Go's runtime/secret where the toolchain and platform have it.
//
// [Do] calls f. Built with GOEXPERIMENT=runtimesecret (the Makefile sets it)
// on linux/amd64 or linux/arm64, the Go runtime then erases the registers
// and the stack f used before Do returns, and zeroes every heap allocation f
// made as soon as the garbage collector frees it; [Collect] makes that
// happen now instead of at the next collection. Everywhere else, Do only
// calls f and [Enabled] is false: heap copies made by libraries (strings,
// encoding/json's values, crypto/ed25519's and crypto/ecdh's private key
// structs, age's buffers) are freed without being zeroed and stay readable
// until their memory is reused, and only what Sotto wipes itself is gone.
//
// What runtime/secret does not cover, even when enabled: goroutines that f
// starts (each must call Do itself), values f stores in memory allocated
// outside Do (a buffer reused across calls keeps what was written into it
// until it is wiped), globals and sync.Pools that keep an allocation
// reachable, and anything still referenced. A goroutine inside Do cannot be
// preempted asynchronously, so long tight loops (scrypt) stay outside it.
//
// [runtime/secret]: https://pkg.go.dev/runtime/secret
package erase

import "runtime"

// Collect runs a garbage collection and its sweep to the end, so that
// unreachable allocations made inside [Do] are zeroed now. Without
// runtime/secret it does nothing: a collection would free memory without
// zeroing it.
func Collect() {
	if Enabled {
		runtime.GC()
	}
}
