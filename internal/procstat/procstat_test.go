package procstat

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestReadSelf(t *testing.T) {
	a, err := Read(os.Getpid())
	if err == ErrUnsupported {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	// Burn some CPU: the reading must move.
	end := time.Now().Add(150 * time.Millisecond)
	x := 0
	for time.Now().Before(end) {
		x++
	}
	b, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if b.CPU <= a.CPU || b.RSS <= 0 {
		t.Fatalf("cpu %v -> %v, rss %d (x=%d)", a.CPU, b.CPU, b.RSS, x)
	}
	if p := CPUPercent(a, b); p <= 0 || p > 200 {
		t.Fatalf("cpu %.1f %% of a core while spinning one goroutine", p)
	}
}

func TestChildren(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	cmd := exec.Command("sh", "-c", "sleep 30; :", "procstat-marker")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	got, err := Children(os.Getpid(), "sh", "procstat-marker")
	if err != nil || len(got) != 1 || got[0] != cmd.Process.Pid {
		t.Fatalf("Children = %v, %v; want [%d]", got, err, cmd.Process.Pid)
	}
	if got, _ := Children(os.Getpid(), "sh", "not-there"); len(got) != 0 {
		t.Fatalf("Children matched %v", got)
	}
	if _, err := Read(-5); err == nil {
		t.Fatal("Read of no process succeeded")
	}
}
