package tui

import (
	tea "github.com/charmbracelet/bubbletea"
	"github.com/sottochat/sotto/sottotest"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto"
)

// Golden tests of every screen's View at 80x24 with the Ascii colour
// profile. Run `go test ./tui -run Golden -update` to rewrite them after a
// deliberate change, and read the diff.

func TestGoldenCreate(t *testing.T) {
	h := newHarness(t, false)
	h.wantPage(pageCreate)
	h.golden("create_empty")
	h.typ("correct horse")
	h.key("enter")
	h.typ("correct hose")
	h.golden("create_mismatch")
}

// TestGoldenCreateAmnesic: an amnesic session's create screen says that
// nothing is kept, not that what is kept is encrypted.
func TestGoldenCreateAmnesic(t *testing.T) {
	h := newHarnessConfig(t, false, Config{Amnesic: true, Label: "AMNESIC: nothing written to disk"})
	h.wantPage(pageCreate)
	h.golden("create_amnesic")
	if v := h.view(); strings.Contains(v, "keeps on this machine") || !strings.Contains(v, "memory only") {
		t.Errorf("the amnesic create screen:\n%s", v)
	}
}

func TestGoldenCreateWeak(t *testing.T) {
	h := newHarness(t, false)
	h.typ("abc")
	h.key("tab")
	h.typ("abc")
	h.key("enter")
	h.golden("create_weak")
}

func TestGoldenUnlock(t *testing.T) {
	h := newHarness(t, true)
	h.wantPage(pageUnlock)
	h.typ("wrong")
	h.golden("unlock_typing")
	h.key("enter")
	h.golden("unlock_wrong")
}

func TestGoldenIdentities(t *testing.T) {
	h := unlocked(t)
	h.golden("identities")
	h.key("n")
	h.typ("source-7")
	h.key("tab")
	h.golden("identities_new")
}

func TestGoldenIdentitiesEmpty(t *testing.T) {
	h := newHarness(t, true)
	h.typ(testPass)
	h.key("enter")
	h.golden("identities_empty")
}

func TestGoldenContacts(t *testing.T) {
	h := unlocked(t)
	h.key("enter")
	h.wantPage(pageContacts)
	h.golden("contacts")
}

func TestGoldenContactsEmpty(t *testing.T) {
	h := unlocked(t)
	h.key("down", "enter")
	h.golden("contacts_empty")
}

func TestGoldenChat(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.wantPage(pageChat)
	h.golden("chat")
	h.typ("first line")
	h.key("alt+enter")
	h.paste("pasted line 1\npasted line 2")
	h.golden("chat_composing")
}

func TestGoldenChatEmpty(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "down", "enter")
	h.golden("chat_empty")
}

func TestGoldenAddContact(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "a")
	h.wantPage(pageAdd)
	h.golden("add_empty")
	h.typ("dave")
	h.key("tab")
	h.typ("sotto1abc")
	h.golden("add_bad_code")
	h.key("ctrl+o")
	h.golden("add_qr")
}

func TestGoldenVerify(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "down", "v")
	h.wantPage(pageVerify)
	h.eng.SetSafetyCode("alice", "carol", "48213 99021 57310 08842 61177 35509 72046 11893 40527 96314 05768 23190")
	h.send(h.m.active().enter()())
	h.golden("verify_empty")
	h.typ("48213 99021 57310 08842 61177 35509 72046 11893 40527 96314 05768 23190")
	h.golden("verify_match")
}

func TestGoldenSettings(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "s")
	h.wantPage(pageSettings)
	h.golden("settings")
}

func TestGoldenRequests(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "r")
	h.wantPage(pageRequests)
	h.golden("requests")
	h.key("a")
	h.typ("source")
	h.golden("requests_accept")
}

func TestGoldenHelp(t *testing.T) {
	h := unlocked(t)
	h.key("?")
	h.golden("help")
	h.key("esc")
	// Narrow: one column that scrolls, nothing cut at the side.
	h.send(tea.WindowSizeMsg{Width: 60, Height: 24})
	h.key("enter", "enter", "f1") // in a conversation: f1, as ? is text there
	h.golden("help_60")
	h.key("pgdown")
	h.golden("help_60_more")
	h.key("pgdown", "pgdown")
	h.wantView("reject request")
	h.wantNoView("more lines")
}

func TestGoldenLocked(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.key("ctrl+l")
	h.golden("locked")
}

func TestGoldenPanicArmed(t *testing.T) {
	h := unlocked(t)
	h.key(`ctrl+\`)
	h.golden("panic_armed")
}

func TestGoldenTor(t *testing.T) {
	h := unlocked(t)
	h.event(sotto.TorEvent{Status: sotto.TorStatus{State: sotto.TorBootstrapping, Percent: 45, Summary: "Loading relay descriptors"}})
	h.golden("tor_bootstrapping")
	h.event(sotto.TorEvent{Status: sotto.TorStatus{State: sotto.TorDown, Err: "tor exited (status 1)"}})
	h.golden("tor_down")
	h.event(sotto.TorEvent{Status: sotto.TorStatus{State: sotto.TorStarting}})
	h.tick(time.Second)
	h.golden("tor_starting")
}

func TestGoldenConversations(t *testing.T) {
	h := unlocked(t)
	seedMore(h.eng)
	h.key("ctrl+k")
	h.golden("conversations")
}

// seedMore gives burner two conversations, one newer than bob's.
func seedMore(e *sottotest.Engine) {
	e.PutContact(sotto.ContactInfo{Identity: "burner", Name: "source", Onion: sottotest.Onion("source"), Online: true, Unread: 3, Timer: 5 * time.Minute, History: true})
	e.PutContact(sotto.ContactInfo{Identity: "burner", Name: "editor", Onion: sottotest.Onion("editor"), History: true})
	e.PutMessages(
		sotto.Message{ID: sottotest.ID(50), Identity: "burner", Contact: "source", Dir: sotto.Incoming, Text: "new documents", At: t0.Add(-time.Minute / 2)},
		sotto.Message{ID: sottotest.ID(51), Identity: "burner", Contact: "editor", Dir: sotto.Outgoing, Text: "filed", At: t0.Add(-26 * time.Hour), State: sotto.Delivered},
	)
}

// A text longer than one message, after enter: the question before it is
// sent in parts.
func TestGoldenChatLong(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.paste(strings.Repeat("All of the minutes, word for word. ", 600))
	h.key("enter")
	h.golden("chat_long")
}
