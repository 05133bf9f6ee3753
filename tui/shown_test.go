package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/sottotest"
)

func shownCalls(h *harness) int {
	n := 0
	for _, c := range h.eng.Calls() {
		if strings.HasPrefix(c, "MarkShown ") {
			n++
		}
	}
	return n
}

// Issue 18 item 1: the recipient's clock starts only when the text is on
// screen. A text that arrives while the screen is locked, or while another
// page is in front, is not marked shown; opening the conversation marks it.
func TestShownOnlyWhenOnScreen(t *testing.T) {
	h := unlocked(t)
	h.m.idle = -1
	unshown := func(n uint64, text string) sotto.Message {
		m := sotto.Message{ID: sottotest.ID(n), Identity: "alice", Contact: "bob", Dir: sotto.Incoming, Text: text,
			Timer: 30 * time.Second, At: t0, ExpiresAt: t0.Add(sotto.UnshownGrace + 30*time.Second), Unshown: true}
		h.eng.PutMessages(m)
		return m
	}
	// On the identities page.
	h.event(sotto.MessageEvent{Message: unshown(20, "behind another page")})
	if n := shownCalls(h); n != 0 {
		t.Fatalf("%d MarkShown calls with the conversation not on screen", n)
	}
	// Opening the conversation shows it: its countdown starts from now.
	h.key("enter", "enter")
	h.wantPage(pageChat)
	h.wantView("behind another page")
	h.wantCall("MarkShown alice bob 1")
	h.wantView("⏱30s")
	h.tick(10 * time.Second)
	h.wantView("⏱20s")

	// While the chat is open, a new text is shown at once.
	h.event(sotto.MessageEvent{Message: unshown(21, "while open")})
	h.wantView("while open")
	if n := shownCalls(h); n != 2 {
		t.Fatalf("%d MarkShown calls, want 2", n)
	}

	// Locked: nothing reaches the screen, nothing is marked.
	h.key("ctrl+l")
	h.wantPage(pageUnlock)
	h.event(sotto.MessageEvent{Message: unshown(22, "while locked")})
	if n := shownCalls(h); n != 2 {
		t.Fatalf("%d MarkShown calls while locked, want still 2", n)
	}
	if strings.Contains(h.m.View(), "while locked") {
		t.Fatal("the text that arrived while locked is on the lock screen")
	}
	// Unlocking lands where the person was (this chat): the text is on
	// screen now, and only now is it marked shown.
	h.typ(testPass)
	h.key("enter")
	h.wantPage(pageChat)
	h.wantView("while locked")
	if !strings.Contains(strings.Join(h.eng.Calls(), "\n"), "MarkShown alice bob") || shownCalls(h) != 3 {
		t.Fatalf("unlocking into the conversation did not mark the text shown: %q", h.eng.Calls())
	}

	// Locked from the identities page: after unlock the text waits
	// unmarked until its conversation is opened.
	h.key("esc", "esc")
	h.wantPage(pageIdentities)
	h.key("ctrl+l")
	h.wantPage(pageUnlock)
	h.event(sotto.MessageEvent{Message: unshown(23, "while locked elsewhere")})
	h.typ(testPass)
	h.key("enter")
	h.wantPage(pageIdentities)
	if n := shownCalls(h); n != 3 {
		t.Fatalf("%d MarkShown calls after unlock, before the conversation is open, want still 3", n)
	}
	h.key("enter", "enter")
	h.wantView("while locked elsewhere")
	if n := shownCalls(h); n != 4 {
		t.Fatalf("%d MarkShown calls after opening the conversation, want 4", n)
	}
}

// A timer change that lost to a later one says so; a System timer line
// says who made it (Message.By).
func TestTimerLineSaysWhoAndWhetherApplied(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.event(sotto.MessageEvent{Message: sotto.Message{ID: sottotest.ID(30), Identity: "alice", Contact: "bob", Dir: sotto.System,
		By: sotto.Incoming, Kind: sotto.TimerMessage, Timer: 30 * time.Second, At: t0, Superseded: true}})
	h.wantView("bob set messages to disappear after 30 seconds (not applied")
	h.event(sotto.MessageEvent{Message: sotto.Message{ID: sottotest.ID(31), Identity: "alice", Contact: "bob", Dir: sotto.System,
		By: sotto.Outgoing, Kind: sotto.TimerMessage, Timer: 8 * time.Hour, At: t0}})
	h.wantView("you set messages to disappear after 8 hours")
}

// A clock runs out on the second after its timer (PROTOCOL §2.9), so a
// text shown just now expires up to 31 s later: its countdown still says
// no more than the 30 seconds its timer says (a tmux run saw "⏱31s").
func TestCountdownNeverAboveTimer(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.wantPage(pageChat)
	h.event(sotto.MessageEvent{Message: sotto.Message{ID: sottotest.ID(40), Identity: "alice", Contact: "bob", Dir: sotto.Incoming,
		Text: "just shown", Timer: 30 * time.Second, At: t0, ExpiresAt: h.m.s.now.Add(30*time.Second + 900*time.Millisecond)}})
	h.wantView("just shown")
	h.wantView("⏱30s")
	h.wantNoView("⏱31s")
	h.tick(10 * time.Second)
	h.wantView("⏱21s")
}

// Issue 18 item 1: a text that expired before it was shown is not gone
// without a trace: the engine's notice line reaches the open conversation
// (and one that arrives while the screen is locked is there after unlock).
func TestExpiredUnreadNoticeShown(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.wantPage(pageChat)
	notice := func(n uint64, count int, text string) sotto.Message {
		return sotto.Message{ID: sottotest.ID(n), Identity: "alice", Contact: "bob", Dir: sotto.System, By: sotto.System,
			Kind: sotto.NoticeMessage, Notice: sotto.NoticeExpiredUnread, Count: count, Text: text, At: t0}
	}
	first := notice(50, 1, "a message expired before it was shown: its disappearing timer ran out unread")
	h.eng.PutMessages(first) // stored, as the engine stores notice lines
	h.event(sotto.MessageEvent{Message: first})
	// Wrapped at 80 columns, to its end.
	h.wantView("── a message expired before it was shown: its disappearing timer ran")
	h.wantView("out unread ──")
	h.key("ctrl+l")
	h.wantPage(pageUnlock)
	const two = "2 messages expired before they were shown: their disappearing timers ran out unread"
	m := notice(51, 2, two)
	h.eng.PutMessages(m)
	h.event(sotto.MessageEvent{Message: m})
	h.wantNoView("2 messages expired")
	h.typ(testPass)
	h.key("enter")
	h.wantPage(pageChat)
	h.wantView("── a message expired before it was shown")
	h.wantView("── 2 messages expired before they were shown")
	if n := strings.Count(h.view(), "unread ──"); n != 2 {
		t.Fatalf("%d notice lines end on screen, want 2:\n%s", n, h.view())
	}
}
