//go:build unix

package ratchet

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the process has used, user and system. Benchmarks
// report it per operation beside the wall-clock ns/op: on a machine shared
// with other work, wall time measures the queue for a core as much as the
// code.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
