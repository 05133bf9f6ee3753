package spawn

import (
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// child is a started "sleep 60" with Pdeathsig and the channel its one
// Wait closes.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startOnDyingThread starts a child with Pdeathsig from a goroutine that
// ends locked to its thread (so the thread exits, unless it is the main
// thread, which Go keeps), using start.
func startOnDyingThread(t *testing.T, start func(*exec.Cmd) error) child {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
		errc <- start(cmd)
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	c := child{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(c.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-c.done })
	return c
}

// exitedWithin reports whether c ended within d.
func (c child) exitedWithin(d time.Duration) bool {
	select {
	case <-c.done:
		return true
	case <-time.After(d):
		return false
	}
}

// The control: a plain cmd.Start on a thread that then exits loses the
// child. This is what Start exists for. Go keeps the main thread when a
// goroutine locked to it exits, so a few tries.
func TestPdeathsigFollowsTheThread(t *testing.T) {
	for range 5 {
		if startOnDyingThread(t, (*exec.Cmd).Start).exitedWithin(5 * time.Second) {
			return
		}
	}
	t.Skip("no child died with its forking thread in 5 tries (each thread may have been the main one, which Go keeps); Start's guarantee is not observable here")
}

func TestStartOutlivesThreads(t *testing.T) {
	c := startOnDyingThread(t, Start)
	// More threads come and go meanwhile.
	for range 8 {
		done := make(chan struct{})
		go func() { runtime.LockOSThread(); close(done) }()
		<-done
	}
	if c.exitedWithin(2 * time.Second) {
		t.Fatalf("the child died with a thread that was not its spawner: %v", c.cmd.ProcessState)
	}
}
