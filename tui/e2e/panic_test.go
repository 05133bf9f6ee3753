package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPanicKeyHitByReflex: ctrl+\ pressed twice used to wipe the profile,
// and it is the terminal's force-quit key. Hit by reflex, again and again,
// with enter, ctrl+c and esc around it, it wipes nothing and the UI stays
// where it was; the deliberate gesture, ctrl+\ then w i p e, wipes at once
// and closes the screen.
func TestPanicKeyHitByReflex(t *testing.T) {
	need(t)
	t.Parallel()
	p := harness.NewProfile(t, "panic")
	p.Must("init")
	p.Must("id", "new", "work")
	vault := filepath.Join(p.Dir, "vault")
	m := newTmux(t, "ui", ui(p), 100, 30)
	unlock(m, "ui", p)
	m.waitText("ui", "Your identities", time.Minute)

	// Each group ends with the panel up (esc and ctrl+c cancel it; the
	// panic key again keeps it).
	for _, keys := range [][]string{
		{`C-\`, `C-\`},
		{`C-\`, `C-\`, `C-\`, `C-\`, `C-\`},
		{`C-\`, "Enter", "Enter", `C-\`},
		{`C-\`, "C-c", `C-\`, "Escape", `C-\`},
		{`C-\`, "q", "w", "i", "x", "e"}, // a wrong letter starts the word again
	} {
		for _, k := range keys {
			m.keys("ui", k)
		}
		time.Sleep(300 * time.Millisecond)
		if m.dead("ui") {
			t.Fatalf("%q ended the UI; the screen:\n%s", keys, m.screen("ui"))
		}
		if _, err := os.Stat(vault); err != nil {
			t.Fatalf("%q: the vault is gone: %v", keys, err)
		}
	}
	m.keys("ui", "Escape")
	m.waitGone("ui", "PANIC WIPE", 15*time.Second)
	m.waitText("ui", "Your identities", 5*time.Second) // esc did not navigate away

	m.keys("ui", `C-\`)
	m.waitText("ui", "PANIC WIPE", 5*time.Second)
	m.save("ui", "tmux-panic-armed")
	m.text("ui", "wipe")
	m.waitDead("ui", 30*time.Second)
	if _, err := os.Stat(vault); !os.IsNotExist(err) {
		t.Fatalf("after ctrl+\\ and wipe the vault is still there (%v)", err)
	}
}
