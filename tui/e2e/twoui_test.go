package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto/internal/e2e"
)

// ui is the command line of the chat screen of profile p.
func ui(p *e2e.Profile) string {
	return fmt.Sprintf("%s --profile %s --network %s run", harness.Bin, p.Dir, harness.Network)
}

// unlock types p's passphrase into its UI in window win.
func unlock(m *tmux, win string, p *e2e.Profile) {
	m.t.Helper()
	m.waitText(win, "Unlock your Sotto profile", time.Minute)
	m.text(win, p.Passphrase)
	m.keys(win, "Enter")
}

// TestTwoUIsOverTor: two real UIs in tmux unlock, add each other from the
// UI, chat both ways over onion services, set a disappearing timer, lock
// and unlock, and quit.
func TestTwoUIsOverTor(t *testing.T) {
	need(t)
	t.Parallel()
	alice, bob := harness.NewProfile(t, "alice"), harness.NewProfile(t, "bob")
	for _, p := range []*e2e.Profile{alice, bob} {
		p.Must("init")
		p.Must("id", "new", p.Name)
	}
	cardAlice := strings.TrimSpace(alice.Must("id", "card", "alice", "--no-qr"))
	cardBob := strings.TrimSpace(bob.Must("id", "card", "bob", "--no-qr"))

	m := newTmux(t, "alice", ui(alice), 100, 30)
	m.window("bob", ui(bob))

	// Unlock both: a wrong passphrase first.
	for _, p := range []*e2e.Profile{alice, bob} {
		m.waitText(p.Name, "Unlock your Sotto profile", time.Minute)
		m.text(p.Name, "not the passphrase")
		m.keys(p.Name, "Enter")
		m.waitText(p.Name, "wrong passphrase", time.Minute)
		unlock(m, p.Name, p)
		m.waitText(p.Name, "Your identities", time.Minute) // no conversation yet
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

	// Lock: nothing of the conversation is left on screen; unlocking
	// returns to the conversation.
	m.keys("alice", "C-l")
	locked := m.waitText("alice", "Sotto is locked", 10*time.Second)
	m.save("alice", "tmux-alice-locked")
	for _, s := range []string{"hello bob", "hi alice", "bob"} {
		if strings.Contains(locked, s) {
			t.Fatalf("locked screen shows %q:\n%s", s, locked)
		}
	}
	m.text("alice", alice.Passphrase)
	m.keys("alice", "Enter")
	m.waitText("alice", "Write a message", 30*time.Second)
	m.waitText("alice", "hi alice, bob here", 10*time.Second)

	// Quit both: nothing typed, so at once; the terminal is left clean.
	for _, who := range []string{"alice", "bob"} {
		m.keys(who, "C-c")
		if code := m.waitDead(who, 30*time.Second); code != 0 {
			t.Fatalf("%s: exit status %d", who, code)
		}
	}
}
