//go:build goexperiment.runtimesecret

package erase

import (
	"runtime"
	"runtime/secret"
)

// Enabled reports whether [Do] erases: the binary was built with
// GOEXPERIMENT=runtimesecret and runs on linux/amd64 or linux/arm64.
const Enabled = runtime.GOOS == "linux" && (runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64")

// Do calls f inside runtime/secret.Do: f's registers and stack are erased
// before Do returns and its heap allocations are zeroed when freed.
func Do(f func()) { secret.Do(f) }

// Active reports whether the calling goroutine runs inside [Do] with
// erasure in effect.
func Active() bool { return Enabled && secret.Enabled() }
