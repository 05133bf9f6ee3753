package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoPanesRestart runs scripts/demo.sh (make demo) on the test's
// network, detached, and quits a UI with ctrl+c: the pane used to vanish
// for good; now it offers to start the UI again, and enter does.
func TestDemoPanesRestart(t *testing.T) {
	need(t)
	t.Parallel()
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "demo.sh"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "SOTTO="+harness.Bin, "SOTTO_DEMO_NETWORK="+harness.Network, "SOTTO_DEMO_DETACH=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, out)
	}
	var sock, dir string
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "socket "); ok {
			sock = v
		}
		if v, ok := strings.CutPrefix(l, "dir "); ok {
			dir = v
		}
	}
	if sock == "" || dir == "" {
		t.Fatalf("demo.sh did not say where it runs:\n%s", out)
	}
	m := &tmux{t: t, sock: sock, session: "demo"}
	t.Cleanup(func() {
		exec.Command("tmux", "-L", sock, "kill-server").Run()
		os.RemoveAll(dir)
	})
	const pane = "0.0" // alice
	m.waitText(pane, "Unlock your Sotto profile", time.Minute)
	m.typeEnter(pane, "sotto demo only", dots("sotto demo only"))
	m.waitText(pane, "Conversations", time.Minute)
	m.waitText(pane, "bob · alice", 10*time.Second)
	m.keys(pane, "C-c")
	m.waitText(pane, "sotto quit. enter starts it again", 30*time.Second)
	m.keys(pane, "Enter")
	m.waitText(pane, "Unlock your Sotto profile", time.Minute)
}
