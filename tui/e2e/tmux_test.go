// Package e2e drives two real `sotto` terminal UIs in tmux over a private
// Tor network on loopback: unlock, chat both ways, a disappearing timer,
// lock and unlock. It reads the screens with capture-pane, as a person
// would see them.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const passphrase = "e2e passphrase, not secret"

// sotto runs the binary for one profile and returns its output.
func sotto(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("sotto %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

type tmux struct {
	t    *testing.T
	sock string
}

func (m *tmux) run(args ...string) string {
	m.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", m.sock}, args...)...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// keys sends tmux key names (Enter, C-l, Down, Escape).
func (m *tmux) keys(win string, keys ...string) {
	m.t.Helper()
	m.run(append([]string{"send-keys", "-t", "e2e:" + win}, keys...)...)
}

// text types literal text.
func (m *tmux) text(win, s string) {
	m.t.Helper()
	m.run("send-keys", "-t", "e2e:"+win, "-l", s)
}

// save writes the window's screen to $SOTTO_SCREENS/name.txt when that
// variable names a directory (text captures for docs/screens).
func (m *tmux) save(win, name string) {
	m.t.Helper()
	dir := os.Getenv("SOTTO_SCREENS")
	if dir == "" {
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(m.screen(win)), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

func (m *tmux) screen(win string) string {
	m.t.Helper()
	return m.run("capture-pane", "-p", "-t", "e2e:"+win)
}

// waitFor polls the window's screen until cond holds.
func (m *tmux) waitFor(win, what string, timeout time.Duration, cond func(string) bool) string {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	var s string
	for time.Now().Before(deadline) {
		s = m.screen(win)
		if cond(s) {
			return s
		}
		time.Sleep(200 * time.Millisecond)
	}
	m.t.Fatalf("%s: never saw %s within %v; the screen:\n%s", win, what, timeout, s)
	return ""
}

func (m *tmux) waitText(win, text string, timeout time.Duration) string {
	m.t.Helper()
	return m.waitFor(win, fmt.Sprintf("%q", text), timeout, func(s string) bool { return strings.Contains(s, text) })
}

func (m *tmux) waitGone(win, text string, timeout time.Duration) {
	m.t.Helper()
	m.waitFor(win, fmt.Sprintf("%q disappear", text), timeout, func(s string) bool { return !strings.Contains(s, text) })
}

func TestTwoUIsOverTor(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private Tor network and two UIs (minutes)")
	}
	for _, tool := range []string{"tmux", "tor"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (sudo make deps)", tool)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "sotto")
	build := exec.Command("go", "build", "-o", bin, "github.com/sottochat/sotto/cmd/sotto")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	pass := filepath.Join(dir, "passphrase")
	if err := os.WriteFile(pass, []byte(passphrase), 0o600); err != nil {
		t.Fatal(err)
	}
	net := filepath.Join(dir, "net")
	sotto(t, bin, "net", "up", net)
	t.Cleanup(func() { exec.Command(bin, "net", "down", net).Run() })
	network := filepath.Join(net, "network.torrc")

	as := func(who string, args ...string) string {
		return sotto(t, bin, append([]string{"--profile", filepath.Join(dir, who), "--passphrase-file", pass, "--network", network}, args...)...)
	}
	for _, who := range []string{"alice", "bob"} {
		as(who, "init")
		as(who, "id", "new", who)
	}
	cardAlice := strings.TrimSpace(as("alice", "id", "card", "alice", "--no-qr"))
	cardBob := strings.TrimSpace(as("bob", "id", "card", "bob", "--no-qr"))

	m := &tmux{t: t, sock: fmt.Sprintf("sotto-e2e-%d", os.Getpid())}
	ui := func(who string) string {
		return fmt.Sprintf("%s --profile %s --network %s run", bin, filepath.Join(dir, who), network)
	}
	m.run("-f", "/dev/null", "new-session", "-d", "-s", "e2e", "-x", "100", "-y", "30", "-n", "alice", ui("alice"))
	t.Cleanup(func() {
		exec.Command("tmux", "-L", m.sock, "kill-server").Run()
		tmp := os.Getenv("TMUX_TMPDIR")
		if tmp == "" {
			tmp = "/tmp"
		}
		os.Remove(filepath.Join(tmp, fmt.Sprintf("tmux-%d", os.Getuid()), m.sock))
	})
	m.run("set", "-s", "escape-time", "0")
	m.run("set", "-g", "remain-on-exit", "on")
	m.run("new-window", "-d", "-t", "e2e", "-n", "bob", ui("bob"))

	// Unlock both.
	for _, who := range []string{"alice", "bob"} {
		m.waitText(who, "Unlock your Sotto profile", 30*time.Second)
		m.text(who, "not the passphrase")
		m.keys(who, "Enter")
		m.waitText(who, "wrong passphrase", 60*time.Second)
		m.text(who, passphrase)
		m.keys(who, "Enter")
		m.waitText(who, "Your identities", 60*time.Second)
	}
	m.save("alice", "tmux-alice-identities")

	// Add each other from the UI: contacts screen, a, name, code.
	add := func(who, name, code string) {
		m.keys(who, "Enter")
		m.waitText(who, "Contacts of "+who, 10*time.Second)
		m.keys(who, "a")
		m.waitText(who, "Give them your code", 10*time.Second)
		m.text(who, name)
		m.keys(who, "Tab")
		m.text(who, code)
		m.waitText(who, "the code is valid", 10*time.Second)
		m.save(who, "tmux-"+who+"-add-contact")
		m.keys(who, "Enter")
		m.waitText(who, name+" added", 30*time.Second)
		m.keys(who, "Enter") // open the conversation
		m.waitText(who, "Write a message", 10*time.Second)
	}
	add("alice", "bob", cardBob)
	add("bob", "alice", cardAlice)

	// Both ways, over onion services (publishing a descriptor can take a while).
	m.text("alice", "hello bob, from alice")
	m.keys("alice", "Enter")
	m.waitText("bob", "hello bob, from alice", 4*time.Minute)
	m.waitFor("alice", "✓✓ (delivered)", time.Minute, func(s string) bool { return strings.Contains(s, "✓✓") })
	m.text("bob", "hi alice, bob here")
	m.keys("bob", "Enter")
	m.waitText("alice", "hi alice, bob here", 2*time.Minute)
	m.save("alice", "tmux-alice-chat")

	// A 30-second timer, set by alice, shown on both sides.
	m.keys("alice", "C-t")
	m.waitText("alice", "Disappearing messages", 10*time.Second)
	m.keys("alice", "Down", "Enter")
	m.waitText("alice", "messages now disappear after 30 seconds", 30*time.Second)
	m.keys("alice", "Escape")
	m.waitText("alice", "disappear after 30 seconds ──", 10*time.Second)
	m.waitText("bob", "disappear after 30 seconds ──", 2*time.Minute)
	m.waitText("bob", "⏱ 30 seconds", 10*time.Second)
	m.text("alice", "this one disappears")
	m.keys("alice", "Enter")
	m.waitText("bob", "this one disappears", 2*time.Minute)
	m.waitText("bob", "⏱", 10*time.Second)
	m.save("bob", "tmux-bob-disappearing")
	m.waitGone("bob", "this one disappears", 90*time.Second)
	m.waitGone("alice", "this one disappears", 90*time.Second)

	// Lock: nothing of the conversation is left on screen; unlock again.
	m.keys("alice", "C-l")
	locked := m.waitText("alice", "Sotto is locked", 10*time.Second)
	m.save("alice", "tmux-alice-locked")
	for _, s := range []string{"hello bob", "hi alice", "bob"} {
		if strings.Contains(locked, s) {
			t.Fatalf("locked screen shows %q:\n%s", s, locked)
		}
	}
	m.text("alice", passphrase)
	m.keys("alice", "Enter")
	m.waitText("alice", "Write a message", 30*time.Second) // back in the conversation she locked

	// Quit both: the terminal is left clean (alternate screen).
	for _, who := range []string{"alice", "bob"} {
		m.keys(who, "C-c")
		m.waitFor(who, "the UI to exit", 30*time.Second, func(s string) bool {
			return strings.Contains(s, "Pane is dead") || !strings.Contains(s, "sotto")
		})
	}
}
