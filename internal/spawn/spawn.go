// Package spawn starts child processes from one OS thread that lives as
// long as the process.
//
// Linux sends a child's parent-death signal (Pdeathsig) when the thread
// that forked it exits, not when the process does (golang/go#27505). Go
// ends a thread when a goroutine locked to it (runtime.LockOSThread) returns
// without unlocking, and any goroutine may have run on the thread that
// forked: so a child with Pdeathsig started from an ordinary goroutine can
// be killed at any moment by unrelated code. A test that entered a network
// namespace on a locked thread killed a whole private Tor network that way.
// Start forks from a goroutine locked, for good, to a thread of its own.
package spawn

import (
	"os/exec"
	"runtime"
)

type request struct {
	cmd  *exec.Cmd
	done chan error
}

// requests feeds the spawning goroutine, which runs from the start of the
// process (one idle thread): a goroutine count taken at any point already
// includes it, and no caller waits for it to start.
var requests = make(chan request)

func init() {
	go func() {
		runtime.LockOSThread() // never unlocked: this thread forks every child
		for r := range requests {
			r.done <- r.cmd.Start()
		}
	}()
}

// Start is cmd.Start, forked from the process's spawning thread.
func Start(cmd *exec.Cmd) error {
	r := request{cmd: cmd, done: make(chan error, 1)}
	requests <- r
	return <-r.done
}
