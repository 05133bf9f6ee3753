package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSignalRestoresTerminal kills a running UI with SIGTERM and SIGHUP and
// checks what the person is left with: memguard's handler wipes the secrets
// and exits at once, and before it does the terminal must be handed back as
// it was (main screen, echo and line editing on, cursor shown). The shell
// that ran sotto records the terminal mode after sotto is gone.
func TestSignalRestoresTerminal(t *testing.T) {
	need(t)
	t.Parallel()
	p := harness.NewProfile(t, "sig")
	p.Must("init")
	dir, bin, profile := t.TempDir(), harness.Bin, p.Dir
	m := newTmux(t, "idle", "sleep 600", 100, 30)

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		win := strings.ToLower(strings.TrimPrefix(sig.String(), "SIG"))
		win = strings.ReplaceAll(win, " ", "")
		pidFile := filepath.Join(dir, win+".pid")
		sttyFile := filepath.Join(dir, win+".stty")
		// sh records sotto's PID (exec keeps it), waits, then records the
		// terminal's mode and says it is done.
		script := filepath.Join(dir, win+".sh")
		body := fmt.Sprintf("sh -c 'echo $$ > %s; exec %s --profile %s run'\nstty -a > %s\necho SHELL-AFTER-SOTTO\nsleep 600\n",
			pidFile, bin, profile, sttyFile)
		if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
			t.Fatal(err)
		}
		m.run("new-window", "-d", "-t", "e2e", "-n", win, "sh "+script)
		m.waitText(win, "Unlock your Sotto profile", 60*time.Second)
		if on := strings.TrimSpace(m.run("display", "-p", "-t", "e2e:"+win, "#{alternate_on}")); on != "1" {
			t.Fatalf("%s: the UI is not on the alternate screen (alternate_on=%q)", win, on)
		}
		b, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		var pid int
		if _, err := fmt.Sscan(string(b), &pid); err != nil {
			t.Fatalf("pid file %q: %v", b, err)
		}
		if err := syscall.Kill(pid, sig); err != nil {
			t.Fatalf("kill %d: %v", pid, err)
		}
		m.waitText(win, "SHELL-AFTER-SOTTO", 30*time.Second)
		if on := strings.TrimSpace(m.run("display", "-p", "-t", "e2e:"+win, "#{alternate_on}")); on != "0" {
			t.Errorf("%s: after %v the terminal is still on the alternate screen", win, sig)
		}
		if v := strings.TrimSpace(m.run("display", "-p", "-t", "e2e:"+win, "#{cursor_flag}")); v != "1" {
			t.Errorf("%s: after %v the cursor is still hidden (cursor_flag=%q)", win, sig, v)
		}
		st, err := os.ReadFile(sttyFile)
		if err != nil {
			t.Fatal(err)
		}
		modes := " " + strings.Join(strings.Fields(string(st)), " ") + " "
		for _, want := range []string{" icanon ", " echo ", " icrnl ", " opost "} {
			if !strings.Contains(modes, want) {
				t.Errorf("%s: after %v the terminal mode lacks %q (still raw):\n%s", win, sig, strings.TrimSpace(want), st)
			}
		}
	}
}
