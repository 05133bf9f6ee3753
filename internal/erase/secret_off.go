//go:build !goexperiment.runtimesecret

package erase

// Enabled reports whether [Do] erases. This build lacks
// GOEXPERIMENT=runtimesecret, so it does not.
const Enabled = false

// Do calls f. Without runtime/secret nothing is erased.
func Do(f func()) { f() }

// Active reports whether the calling goroutine runs inside [Do] with
// erasure in effect: never, in this build.
func Active() bool { return false }
