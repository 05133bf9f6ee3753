package spawn

import (
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// startOnDyingThread starts a child with Pdeathsig from a goroutine that
// ends locked to its thread (so the thread exits), using start.
func startOnDyingThread(t *testing.T, start func(*exec.Cmd) error) *exec.Cmd {
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
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// exitedWithin reports whether cmd ended within d.
func exitedWithin(cmd *exec.Cmd, d time.Duration) bool {
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// The control: a plain cmd.Start on a thread that then exits loses the
// child. This is what Start exists for; if a kernel stops doing it, the
// test says so rather than passing for the wrong reason.
func TestPdeathsigFollowsTheThread(t *testing.T) {
	cmd := startOnDyingThread(t, (*exec.Cmd).Start)
	if !exitedWithin(cmd, 10*time.Second) {
		t.Skip("this kernel did not kill a child whose forking thread exited; Start's guarantee is not observable here")
	}
}

func TestStartOutlivesThreads(t *testing.T) {
	cmd := startOnDyingThread(t, Start)
	// More threads come and go meanwhile.
	for range 8 {
		done := make(chan struct{})
		go func() { runtime.LockOSThread(); close(done) }()
		<-done
	}
	if exitedWithin(cmd, 2*time.Second) {
		t.Fatalf("the child died with a thread that was not its spawner: %v", cmd.ProcessState)
	}
}
