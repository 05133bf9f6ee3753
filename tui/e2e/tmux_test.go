package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// tmux is one tmux server of a test (its own socket), session "e2e", one
// window per program.
type tmux struct {
	t       *testing.T
	sock    string
	session string // "e2e" unless set
}

// target names a window (or window.pane) of the session.
func (m *tmux) target(win string) string {
	if m.session == "" {
		return "e2e:" + win
	}
	return m.session + ":" + win
}

// newTmux starts a server whose first window, first, runs cmd in a
// terminal of w×h cells. Windows stay after their program ends
// (remain-on-exit), so its last screen can be read.
func newTmux(t *testing.T, first, cmd string, w, h int) *tmux {
	t.Helper()
	m := &tmux{t: t, sock: fmt.Sprintf("sotto-%s-%d", strings.ToLower(t.Name()), os.Getpid())}
	m.sock = strings.NewReplacer("/", "-", " ", "-").Replace(m.sock)
	if len(m.sock) > 60 {
		m.sock = m.sock[len(m.sock)-60:]
	}
	m.run("-f", "/dev/null", "new-session", "-d", "-s", "e2e", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), "-n", first, cmd)
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
	return m
}

func (m *tmux) run(args ...string) string {
	m.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", m.sock}, args...)...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// window opens another window running cmd.
func (m *tmux) window(name, cmd string) {
	m.t.Helper()
	m.run("new-window", "-d", "-t", "e2e", "-n", name, cmd)
}

// keys sends tmux key names (Enter, C-l, Down, Escape).
func (m *tmux) keys(win string, keys ...string) {
	m.t.Helper()
	m.run(append([]string{"send-keys", "-t", m.target(win)}, keys...)...)
}

// text types literal text, key by key.
func (m *tmux) text(win, s string) {
	m.t.Helper()
	m.run("send-keys", "-t", m.target(win), "-l", s)
}

// typeEnter types s, waits until the screen shows shown (what the typing
// puts there: the text itself, or a dot per character in a passphrase
// field, see dots), then presses enter: as a person types. (Text and its
// enter in one send-keys also submit: TestTwoUIsOverTor does that once.)
func (m *tmux) typeEnter(win, s, shown string) {
	m.t.Helper()
	m.text(win, s)
	m.waitText(win, shown, 30*time.Second)
	m.keys(win, "Enter")
}

// dots is what a passphrase field shows once s is typed into it.
func dots(s string) string { return strings.Repeat("•", utf8.RuneCountInString(s)) }

// paste pastes s as a terminal does: with bracketed paste when the program
// asked for it and bracketed is true, else as plain bytes, line breaks as
// CR (what a terminal without bracketed paste sends).
func (m *tmux) paste(win, s string, bracketed bool) {
	m.t.Helper()
	f := filepath.Join(m.t.TempDir(), "paste")
	if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
		m.t.Fatal(err)
	}
	m.run("load-buffer", "-b", "p", f)
	args := []string{"paste-buffer", "-d", "-b", "p", "-t", m.target(win)}
	if bracketed {
		args = append(args, "-p")
	}
	m.run(args...)
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

// joined is the window's screen with the lines the terminal wrapped
// joined again.
func (m *tmux) joined(win string) string {
	m.t.Helper()
	return m.run("capture-pane", "-p", "-J", "-t", m.target(win))
}

func (m *tmux) screen(win string) string {
	m.t.Helper()
	return m.run("capture-pane", "-p", "-t", m.target(win))
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
		time.Sleep(100 * time.Millisecond)
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

// dead reports whether the window's program has ended.
func (m *tmux) dead(win string) bool {
	m.t.Helper()
	return strings.TrimSpace(m.run("display", "-p", "-t", m.target(win), "#{pane_dead}")) == "1"
}

// waitDead waits for the window's program to end and returns its exit
// status.
func (m *tmux) waitDead(win string, timeout time.Duration) int {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	for !m.dead(win) {
		if time.Now().After(deadline) {
			m.t.Fatalf("%s: the program did not end within %v; the screen:\n%s", win, timeout, m.screen(win))
		}
		time.Sleep(100 * time.Millisecond)
	}
	var code int
	fmt.Sscan(m.run("display", "-p", "-t", m.target(win), "#{pane_dead_status}"), &code)
	return code
}
