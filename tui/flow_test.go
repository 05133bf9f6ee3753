package tui

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/sottotest"
)

func (h *harness) wantCall(call string) {
	h.t.Helper()
	if !slices.Contains(h.eng.Calls(), call) {
		h.t.Fatalf("engine calls %q lack %q", h.eng.Calls(), call)
	}
}

func (h *harness) wantHandedWiped() {
	h.t.Helper()
	if len(h.prof.handed) == 0 {
		h.t.Fatal("no passphrase was handed to the profile")
	}
	for i, p := range h.prof.handed {
		if len(bytes.Trim(p, "\x00")) != 0 {
			h.t.Fatalf("passphrase slice %d not wiped: %q", i, p)
		}
	}
}

func TestFlowCreateProfile(t *testing.T) {
	h := newHarness(t, false)
	h.wantPage(pageCreate)
	h.typ("abc")
	h.key("enter") // to the second field
	h.typ("abc")
	h.key("enter")
	h.wantView("This passphrase is very weak")
	h.wantView("guess it in less than a second")
	h.key("enter") // by reflex: not a yes
	if h.prof.exists {
		t.Fatal("a weak passphrase created the profile without a yes")
	}
	h.wantView("not created: choose a stronger passphrase")
	c := h.m.screens[pageCreate].(*createScreen)
	if c.fields[0].Len() != 0 || c.fields[1].Len() != 0 {
		t.Fatal("the refused passphrase stayed in the fields")
	}
	h.typ(testPass)
	h.key("tab")
	h.typ(testPass + "!")
	h.key("enter")
	h.wantView("the two entries differ")
	h.typ(testPass)
	h.key("enter")
	h.wantPage(pageIdentities) // a new profile has no conversation
	if !h.prof.exists || string(h.prof.pass) != testPass || h.prof.opened != 1 {
		t.Fatalf("profile: exists=%v pass=%q opened=%d", h.prof.exists, h.prof.pass, h.prof.opened)
	}
	h.wantHandedWiped()
	if c.fields[0].Len() != 0 || c.fields[1].Len() != 0 {
		t.Fatal("the create screen kept the passphrase")
	}
}

func TestFlowUnlock(t *testing.T) {
	h := newHarness(t, true)
	seed(h.eng)
	h.wantPage(pageUnlock)
	h.typ("not it")
	h.key("enter")
	h.wantPage(pageUnlock)
	h.wantView("wrong passphrase")
	h.typ(testPass)
	h.key("enter")
	h.wantPage(pageConversations)
	h.wantView("bob · alice")
	h.wantHandedWiped()
	if u := h.m.screens[pageUnlock].(*unlockScreen); u.field.Len() != 0 {
		t.Fatal("the unlock screen kept the passphrase")
	}
	if len(h.titles) != 1 || h.titles[0] != "sotto" {
		t.Fatalf("window titles = %q, want only \"sotto\"", h.titles)
	}
}

func TestFlowNavigation(t *testing.T) {
	h := unlocked(t)
	h.key("enter")
	h.wantPage(pageContacts)
	h.wantView("Contacts of alice")
	h.key("enter")
	h.wantPage(pageChat)
	h.wantView("Are you there?")
	h.key("esc")
	h.wantPage(pageContacts)
	h.wantNoView("Are you there?")
	h.key("esc")
	h.wantPage(pageIdentities)
	h.key("down", "enter")
	h.wantPage(pageContacts)
	h.wantView("Contacts of burner")
	h.wantView("No contacts yet")
}

func TestFlowSendAndDelivery(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.typ("meet at noon")
	// Update alone does no I/O: the engine sees nothing until the command runs.
	before := len(h.eng.Calls())
	_, cmd := h.m.Update(tea.KeyMsg{Type: tea.KeyEnter})
	if len(h.eng.Calls()) != before {
		t.Fatal("Update called the engine")
	}
	h.run(cmd)
	h.wantCall(`Send alice bob "meet at noon"`)
	h.wantView("meet at noon")
	msgs, _ := h.eng.Messages("alice", "bob")
	id := msgs[len(msgs)-1].ID
	line := func() string {
		for _, l := range strings.Split(h.view(), "\n") {
			if strings.Contains(l, "meet at noon") {
				return l
			}
		}
		t.Fatal("message line not found")
		return ""
	}
	if !strings.Contains(line(), "◌") {
		t.Fatalf("pending message without ◌: %q", line())
	}
	h.event(sotto.SentEvent{Identity: "alice", Contact: "bob", ID: id})
	if l := line(); !strings.Contains(l, "✓") || strings.Contains(l, "✓✓") {
		t.Fatalf("sent message: %q", l)
	}
	h.event(sotto.DeliveredEvent{Identity: "alice", Contact: "bob", ID: id})
	if l := line(); !strings.Contains(l, "✓✓") {
		t.Fatalf("delivered message: %q", l)
	}
	if h.m.screens[pageChat].(*chatScreen).ta.Value() != "" {
		t.Fatal("composer not cleared after send")
	}
}

func TestFlowMultilineAndPaste(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.typ("line one")
	h.key("alt+enter")
	h.typ("line two")
	h.key("ctrl+j")
	h.paste("pasted a\npasted b")
	h.key("enter")
	h.wantCall(`Send alice bob "line one\nline two\npasted a\npasted b"`)
	// A paste that ends in a newline does not send by itself.
	h.paste("draft\n")
	if got := h.m.screens[pageChat].(*chatScreen).ta.Value(); got != "draft\n" {
		t.Fatalf("composer = %q", got)
	}
	// Empty input sends nothing.
	h.key("ctrl+u")
	n := len(h.eng.Calls())
	h.send(tea.KeyMsg{Type: tea.KeyCtrlU})
	chat := h.m.screens[pageChat].(*chatScreen)
	chat.ta.Reset()
	h.key("enter")
	if len(h.eng.Calls()) != n {
		t.Fatal("empty composer sent a message")
	}
}

func TestFlowIncomingMessages(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	in := sotto.Message{ID: sottotest.ID(100), Identity: "alice", Contact: "bob", Dir: sotto.Incoming, Text: "new from bob", At: t0}
	h.eng.PutMessages(in)
	h.event(sotto.MessageEvent{Message: in})
	h.wantView("new from bob")
	// The same message twice is shown once.
	h.event(sotto.MessageEvent{Message: in})
	if n := strings.Count(h.view(), "new from bob"); n != 1 {
		t.Fatalf("message shown %d times", n)
	}
	// A message in another conversation: a notice with the name, never the text.
	other := sotto.Message{ID: sottotest.ID(101), Identity: "alice", Contact: "carol", Dir: sotto.Incoming, Text: "secret from carol", At: t0}
	h.eng.PutMessages(other)
	h.event(sotto.MessageEvent{Message: other})
	h.wantView("new message from carol to alice")
	h.wantNoView("secret from carol")
}

func TestFlowEscapeSequencesInert(t *testing.T) {
	h := unlocked(t)
	h.eng.PutContact(sotto.ContactInfo{Identity: "alice", Name: "mallory\x1b]0;x\x07", History: true})
	evil := sotto.Message{ID: sottotest.ID(200), Identity: "alice", Contact: "bob", Dir: sotto.Incoming, At: t0,
		Text: "a\x1b]52;c;cm0gLXJmIH4=\x07b\x1b[2J\x1b[1;1Hc\x1b]0;owned\x1b\\d\u202eef\u202c\x9b31mg\x07\x08h"}
	h.eng.PutMessages(evil)
	h.key("enter", "enter")
	h.event(sotto.MessageEvent{Message: evil})
	v := h.view()
	if strings.ContainsAny(v, "\x1b\x07\x08\u009b\u202e\u202c") {
		t.Fatalf("view holds control characters: %q", v)
	}
	h.wantView("abcdefgh")
	for _, bad := range []string{"52;", "cm0g", "owned", "[2J", "31m"} {
		h.wantNoView(bad)
	}
	h.key("esc")
	if v := h.view(); strings.ContainsRune(v, 0x1b) || strings.Contains(v, "0;x") {
		t.Fatalf("contact list holds an escape sequence: %q", v)
	}
	h.wantView("mallory")
}

func TestFlowDisappearing(t *testing.T) {
	h := unlocked(t)
	h.m.idle = -1 // this test waits an hour
	h.key("enter", "enter")
	h.wantView("Got it.")
	// The countdown runs with the clock.
	h.wantView("⏱59m")
	h.tick(10 * time.Minute)
	h.wantView("⏱49m")
	// Past ExpiresAt the message is hidden even before the engine says so.
	h.tick(50 * time.Minute)
	h.wantNoView("Got it.")
	h.event(sotto.ExpiredEvent{Identity: "alice", Contact: "bob", ID: sottotest.ID(6)})
	for _, m := range h.m.screens[pageChat].(*chatScreen).msgs {
		if m.ID == sottotest.ID(6) {
			t.Fatal("expired message still in the model")
		}
	}
}

func TestFlowTimerAndHistory(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "down", "enter") // carol: no timer, no history
	h.key("ctrl+t")
	h.wantPage(pageSettings)
	h.key("down", "enter")
	h.wantCall("SetTimer alice carol 30s")
	h.wantView("messages now disappear after 30 seconds")
	h.key("h")
	h.wantCall("SetHistory alice carol true")
	h.key("esc")
	h.wantPage(pageChat)
	h.wantView("⏱ 30 seconds")
	h.wantView("you set messages to disappear after 30 seconds")
	h.typ("soon gone")
	h.key("enter")
	h.wantView("⏱30s")
	h.tick(31 * time.Second)
	h.wantNoView("soon gone")
}

func TestFlowAddContact(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "a")
	h.wantPage(pageAdd)
	for _, l := range codeLines(sottotest.MakeCode("alice"), 5) {
		h.wantView("     " + l + "  ") // in groups of five, five to a line
	}
	h.typ("dave")
	h.key("enter") // to the code field
	code := sottotest.MakeCode("dave")
	bad := code[:20] + "x" + code[21:]
	h.paste(bad)
	h.wantView("mistyped")
	h.key("enter")
	h.wantPage(pageAdd)
	if n := strings.Count(h.view(), "mistyped"); n != 1 {
		t.Fatalf("the error is shown %d times:\n%s", n, h.view())
	}
	h.key("ctrl+u")
	// The code as copied from a terminal or a mail: wrapped, indented, in
	// groups of five.
	h.paste("  " + strings.Join(codeLines(code, 5), "\n     ") + "\n")
	h.wantView("✓ the code is valid")
	h.key("enter")
	h.wantCall("AddContact alice dave " + code)
	h.wantPage(pageContacts)
	h.wantView("dave")
	h.wantView("dave added")
	h.key("ctrl+c") // nothing left unsent: quits at once
	if !h.quit {
		t.Fatal("ctrl+c after adding a contact asked about unsent text")
	}
}

func TestFlowVerify(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "down", "v")
	h.wantPage(pageVerify)
	code, _ := h.eng.SafetyCode("alice", "carol")
	h.typ("12345")
	h.key("enter")
	h.wantView("the codes differ")
	if slices.Contains(h.eng.Calls(), "Verify alice carol") {
		t.Fatal("a differing code marked the contact verified")
	}
	h.key("ctrl+u")
	h.typ(code)
	h.wantView("the codes match")
	h.key("enter")
	h.wantCall("Verify alice carol")
	h.wantPage(pageContacts)

	// ctrl+y marks verified without typing, once the person says y: a
	// reflex (enter, ctrl+y again) does not.
	h2 := unlocked(t)
	h2.key("enter", "down", "v", "ctrl+y")
	h2.wantView("Mark carol verified without typing the code?")
	h2.wantView("all 12")
	if len(h2.eng.Calls()) != 0 {
		t.Fatalf("ctrl+y alone called %q", h2.eng.Calls())
	}
	h2.key("enter")
	h2.wantView("carol is not marked verified")
	h2.key("ctrl+y", "ctrl+y")
	h2.key("ctrl+y", "y")
	if c := h2.eng.Calls(); len(c) != 1 || c[0] != "Verify alice carol" {
		t.Fatalf("calls %q, want one Verify", c)
	}
	h2.wantPage(pageContacts)
}

func TestFlowRequests(t *testing.T) {
	h := unlocked(t)
	h.key("enter")
	h.wantView("2 contact requests (r)")
	h.key("r")
	h.wantPage(pageRequests)
	h.key("a")
	h.typ("source")
	h.key("enter")
	h.wantCall("AcceptRequest alice r1 source")
	h.wantNoView("port authority")
	h.key("x")
	h.wantCall("RejectRequest alice r2")
	h.wantView("No requests.")
	h.key("esc")
	h.wantView("source")
	h.wantView("no contact requests")
	// A request arriving is announced without its text.
	h.eng.PutRequest(sotto.Request{ID: "r3", Identity: "alice", Text: "hidden text", At: t0})
	h.event(sotto.RequestEvent{Request: sotto.Request{ID: "r3", Identity: "alice", Text: "hidden text", At: t0}})
	h.wantView("1 contact request (r)")
	h.wantNoView("hidden text")
}

func TestFlowNewIdentity(t *testing.T) {
	h := unlocked(t)
	h.key("n")
	h.typ("drop-2")
	h.key("tab", "tab") // normal → ephemeral → open
	h.key("enter")
	h.wantCall("NewIdentity drop-2 ephemeral=false open=true")
	h.wantView("drop-2")
	h.wantNoView("New identity")
	// n and ? are text while the form is open.
	h.key("n")
	h.typ("n?")
	h.wantNoView("Everywhere")
	if got := h.m.screens[pageIdentities].(*identitiesScreen).name.Value(); got != "n?" {
		t.Fatalf("name field = %q", got)
	}
}

func TestFlowIdleLock(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.typ("draft not sent")
	h.tick(4 * time.Minute)
	h.key("x") // activity
	h.tick(4 * time.Minute)
	h.wantPage(pageChat)
	h.tick(61 * time.Second)
	h.wantPage(pageUnlock)
	if !h.m.locked {
		t.Fatal("not locked after the idle timeout")
	}
	assertWiped(t, h)
	// Messages arriving while locked are not kept.
	secret := sotto.Message{ID: sottotest.ID(300), Identity: "alice", Contact: "bob", Dir: sotto.Incoming, Text: "arrived while locked", At: h.now}
	h.event(sotto.MessageEvent{Message: secret})
	assertWiped(t, h)
	// Keys do not reach the app behind the lock.
	h.key("esc", "ctrl+t")
	h.wantPage(pageUnlock)
	h.typ("wrong")
	h.key("enter")
	h.wantPage(pageUnlock)
	h.wantView("wrong passphrase")
	h.typ(testPass)
	h.key("enter")
	h.wantPage(pageChat) // where the person was
	h.wantView("Are you there?")
	h.wantNoView("draft not sent") // typed text went with the lock, as the lock screen says
	if h.m.locked {
		t.Fatal("still locked")
	}
	if h.prof.opened != 1 {
		t.Fatalf("unlock reopened the profile (%d opens): it must check the passphrase only", h.prof.opened)
	}
	h.wantHandedWiped()
}

func assertWiped(t *testing.T, h *harness) {
	t.Helper()
	v := h.view()
	for _, s := range []string{"Are you there", "draft not sent", "arrived while locked", "bob", "alice"} {
		if strings.Contains(v, s) {
			t.Fatalf("locked view shows %q:\n%s", s, v)
		}
	}
	c := h.m.screens[pageChat].(*chatScreen)
	if c.msgs != nil || c.ta.Value() != "" {
		t.Fatalf("chat kept %d messages and draft %q while locked", len(c.msgs), c.ta.Value())
	}
	if h.m.s.identity != "" || h.m.s.contact.Name != "" {
		t.Fatal("current identity or contact kept while locked")
	}
	if r := h.m.screens[pageRequests].(*requestsScreen); r.list != nil {
		t.Fatal("requests kept while locked")
	}
	if a := h.m.screens[pageAdd].(*addScreen); a.card != "" {
		t.Fatal("contact code kept while locked")
	}
}

func TestFlowLockKey(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.key("ctrl+l")
	h.wantPage(pageUnlock)
	assertWiped(t, h)
	// No idle lock when turned off.
	h2 := newHarness(t, true)
	h2.m.idle = -1
	seed(h2.eng)
	h2.typ(testPass)
	h2.key("enter")
	h2.tick(24 * time.Hour)
	h2.wantPage(pageConversations)
}

func TestFlowPanic(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.typ("half a message")
	// Reflexes: the panic key again and again, enter, ctrl+c, esc.
	for _, k := range []string{`ctrl+\`, `ctrl+\`, `ctrl+\`, "enter", "enter", "ctrl+c"} {
		h.key(k)
		if h.prof.panicked || h.quit {
			t.Fatalf("%s wiped or quit (panicked=%v quit=%v)", k, h.prof.panicked, h.quit)
		}
	}
	h.wantPage(pageChat)
	h.wantView("half a message")
	h.wantNoView("PANIC")
	// A hammered panic key keeps the panel up (no flicker on and off).
	h.key(`ctrl+\`, `ctrl+\`)
	h.wantView("PANIC WIPE")
	h.key("esc")
	// Esc cancels without leaving the conversation.
	h.key(`ctrl+\`)
	h.wantView("PANIC WIPE")
	h.wantNoView("half a message") // nothing of the conversation behind the banner
	h.key("esc")
	h.wantPage(pageChat)
	h.wantView("half a message")
	h.wantView("panic cancelled")
	// A wrong letter starts the word again; waiting cancels.
	h.key(`ctrl+\`, "w", "i", "x", "p", "e")
	if h.prof.panicked {
		t.Fatal("w i x p e wiped")
	}
	h.tick(PanicWindow + time.Second)
	h.wantNoView("PANIC")
	h.key("w", "i", "p", "e") // not armed: typed into the composer
	if h.prof.panicked {
		t.Fatal("the word alone wiped")
	}
	// Pasted, the word does not wipe; typed fast (one message), it does
	// (below, one key at a time).
	h.key(`ctrl+\`)
	h.paste("wipe")
	if h.prof.panicked {
		t.Fatal("a pasted word wiped")
	}
	h.key("esc")
	h2 := unlocked(t)
	h2.key(`ctrl+\`)
	h2.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("wipe")})
	if !h2.prof.panicked {
		t.Fatal("the word typed fast (one key message) did not wipe")
	}
	// The gesture: the key, then the word.
	h.key(`ctrl+\`, "w", "i", "p")
	h.wantView("W I P _")
	h.key("e")
	if !h.prof.panicked || !h.quit {
		t.Fatalf("panicked=%v quit=%v", h.prof.panicked, h.quit)
	}
	if h.view() != "" {
		t.Fatalf("view after panic: %q", h.view())
	}
	if !h.eng.Closed() {
		t.Fatal("engine not closed by the panic wipe")
	}
	assertWipedModel(t, h)
}

// The panic key and word can be changed, or the key turned off.
func TestFlowPanicConfigured(t *testing.T) {
	h := newHarnessConfig(t, true, Config{PanicKey: "f12", PanicWord: "gone"})
	seed(h.eng)
	h.typ(testPass)
	h.key("enter")
	h.key(`ctrl+\`, "w", "i", "p", "e")
	h.wantNoView("PANIC")
	h.send(tea.KeyMsg{Type: tea.KeyF12})
	h.wantView("Type  gone")
	h.key("g", "o", "n", "e")
	if !h.prof.panicked {
		t.Fatal("f12 g o n e did not wipe")
	}
	h = newHarnessConfig(t, true, Config{PanicKey: "none"})
	seed(h.eng)
	h.typ(testPass)
	h.key("enter")
	h.key(`ctrl+\`, "w", "i", "p", "e")
	h.wantNoView("PANIC")
	for _, bad := range []string{"q", "enter", "ctrl+c", "esc", "f1", "ctrl+l", ""} {
		if _, err := ParsePanicKey(bad); err == nil {
			t.Errorf("ParsePanicKey(%q) accepted", bad)
		}
	}
	if k, err := ParsePanicKey(" F12 "); err != nil || k != "f12" {
		t.Errorf("ParsePanicKey(F12) = %q, %v", k, err)
	}
	for _, bad := range []string{"go", "wipe it", "w1pe", "averyveryverylongword"} {
		if _, err := ParsePanicWord(bad); err == nil {
			t.Errorf("ParsePanicWord(%q) accepted", bad)
		}
	}
}

func assertWipedModel(t *testing.T, h *harness) {
	t.Helper()
	if c := h.m.screens[pageChat].(*chatScreen); c.msgs != nil || c.ta.Value() != "" {
		t.Fatal("chat not wiped")
	}
}

func TestFlowQuit(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.key("ctrl+c") // nothing typed: quits at once
	if !h.quit || h.view() != "" {
		t.Fatalf("quit=%v view=%q", h.quit, h.view())
	}
	assertWipedModel(t, h)
}

// ctrl+c asks before discarding a draft, in this or another conversation;
// only y quits.
func TestFlowQuitWithDraft(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.typ("unsent words")
	for _, k := range []string{"ctrl+c", "ctrl+c", "ctrl+c", "enter", "ctrl+c", "n"} {
		h.key(k)
		if h.quit {
			t.Fatalf("quit on %s with a draft", k)
		}
	}
	h.wantView("unsent words")
	h.wantNoView("Quit and lose")
	if len(h.eng.Calls()) != 0 {
		t.Fatalf("calls %q", h.eng.Calls())
	}
	// The draft stays with its conversation while another is open.
	h.key("esc", "down", "enter")
	h.wantPage(pageChat)
	h.wantNoView("unsent words")
	h.key("ctrl+c")
	h.wantView("Quit and lose the text you have not sent?")
	h.key("esc")
	h.key("esc", "up", "enter")
	h.wantView("unsent words")
	h.key("ctrl+c", "y")
	if !h.quit {
		t.Fatal("y did not quit")
	}
	assertWipedModel(t, h)
}

// A text longer than one message: the counter says so where one types,
// enter asks, and the text goes as numbered parts whose concatenation is
// the text; nothing is cut.
func TestFlowLongText(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.paste(strings.Repeat("x", counterFrom-1))
	h.wantNoView("/ 16,384 bytes")
	h.typ("y")
	h.wantView(thousands(counterFrom) + " / 16,384 bytes")
	h.key("ctrl+u")
	h.wantNoView("/ 16,384 bytes")
	var b strings.Builder
	for i := 0; b.Len() < 20000; i++ {
		fmt.Fprintf(&b, "line %d of a long paste, é日本👩‍👩‍👧\n", i)
	}
	text := strings.TrimRight(b.String(), "\n")
	h.paste(text)
	h.wantView("too long for one message")
	h.key("enter")
	h.wantView("enter sends it as 2 messages")
	if len(h.eng.Calls()) != 0 {
		t.Fatal("sent before the person confirmed")
	}
	h.key("esc") // back to the draft
	h.wantNoView("enter sends it as")
	h.wantView("too long for one message")
	h.key("enter", "enter")
	calls := h.eng.Calls()
	if len(calls) != 2 {
		t.Fatalf("calls %d, want 2", len(calls))
	}
	msgs, _ := h.eng.Messages("alice", "bob")
	p1, p2 := msgs[len(msgs)-2].Text, msgs[len(msgs)-1].Text
	if !strings.HasPrefix(p1, "(1/2) ") || !strings.HasPrefix(p2, "(2/2) ") || len(p1) > sotto.MaxText || len(p2) > sotto.MaxText {
		t.Fatalf("parts: %q… (%d bytes), %q… (%d bytes)", p1[:12], len(p1), p2[:12], len(p2))
	}
	if p1[6:]+p2[6:] != text {
		t.Fatal("the parts do not add up to the text")
	}
	if !strings.HasSuffix(p1, "\n") {
		t.Fatalf("part 1 not cut at a line break: %q", p1[len(p1)-20:])
	}
	// More than a draft holds: refused whole, with a line saying so.
	h.paste(strings.Repeat("z", maxDraftBytes+1))
	h.wantView("nothing was pasted")
	if v := h.m.screens[pageChat].(*chatScreen).ta.Value(); v != "" {
		t.Fatalf("a refused paste left %d bytes in the draft", len(v))
	}
}

// ctrl+u clears the whole draft, not only its last line.
func TestFlowClearDraft(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.paste("one\ntwo\nthree")
	h.key("ctrl+u")
	if v := h.m.screens[pageChat].(*chatScreen).ta.Value(); v != "" {
		t.Fatalf("after ctrl+u the draft is %q", v)
	}
	h.wantView("draft cleared")
}

// A send the engine refuses gives the text back.
func TestFlowSendErrorKeepsText(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.typ("keep me")
	h.m.s.contact.Name = "nobody"
	h.m.screens[pageChat].(*chatScreen).with = [2]string{"alice", "nobody"}
	h.key("enter")
	h.wantView("the text is back in the composer")
	if v := h.m.screens[pageChat].(*chatScreen).ta.Value(); v != "keep me" {
		t.Fatalf("composer = %q", v)
	}
}

func TestFlowHelp(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.typ("why?")
	h.wantNoView("Everywhere")
	if got := h.m.screens[pageChat].(*chatScreen).ta.Value(); got != "why?" {
		t.Fatalf("? did not reach the composer: %q", got)
	}
	h.key("f1")
	h.wantView("Everywhere")
	h.wantView("delivered: on their device")
	for _, g := range h.m.s.keys.All() {
		for _, b := range g {
			if b.Help() == h.m.s.keys.Panic.Help() {
				h.wantView("PANIC, then type wipe")
				continue
			}
			h.wantView(b.Help().Desc)
		}
	}
	h.key("esc")
	h.wantNoView("Everywhere")
	h.wantPage(pageChat)
}

func TestFlowScroll(t *testing.T) {
	h := unlocked(t)
	for i := 0; i < 100; i++ {
		h.eng.PutMessages(sotto.Message{ID: sottotest.ID(uint64(1000 + i)), Identity: "alice", Contact: "bob", Dir: sotto.Incoming, Text: "filler " + strings.Repeat("x", i%7), At: t0})
	}
	h.key("enter", "enter")
	h.wantNoView("Are you there?")
	for i := 0; i < 20; i++ {
		h.key("pgup")
	}
	h.wantView("Are you there?")
	h.wantView("newer")
	for i := 0; i < 20; i++ {
		h.key("pgdown")
	}
	h.wantNoView("newer")
}

func TestFlowTorEvents(t *testing.T) {
	h := unlocked(t)
	h.event(sotto.TorEvent{Status: sotto.TorStatus{State: sotto.TorBootstrapping, Percent: 80, Summary: "Connecting\x1b[2J"}})
	h.wantView("80%")
	h.wantView("tor is connecting: Connecting.")
	h.event(sotto.TorEvent{Status: sotto.TorStatus{State: sotto.TorReady, Percent: 100}})
	h.wantView("tor ● ready")
	h.event(sotto.ErrorEvent{Err: errWrongPassphrase})
	h.wantView("wrong passphrase")
}

func TestWaitEventRearms(t *testing.T) {
	eng := sottotest.New(func() time.Time { return t0 })
	ev1 := sotto.TorEvent{Status: sotto.TorStatus{State: sotto.TorReady}}
	ev2 := sotto.ContactEvent{Identity: "a", Contact: "b", Online: true}
	eng.Emit(ev1)
	eng.Emit(ev2)
	if got := waitEvent(eng.Events())(); got != (eventMsg{ev1}) {
		t.Fatalf("waitEvent = %#v", got)
	}
	m := New(t.Context(), &fakeProfile{eng: eng}, Config{}, func() time.Time { return t0 })
	m.s.eng = eng
	_, cmd := m.Update(eventMsg{ev1})
	// The command Update returns after an event reads the next one.
	found := false
	var walk func(tea.Cmd)
	walk = func(c tea.Cmd) {
		if c == nil || found {
			return
		}
		switch msg := c().(type) {
		case tea.BatchMsg:
			for _, c := range msg {
				walk(c)
			}
		case eventMsg:
			found = msg == eventMsg{ev2}
		}
	}
	eng.Close()
	walk(cmd)
	if !found {
		t.Fatal("Update did not re-arm the event reader")
	}
	if got := waitEvent(eng.Events())(); got != (eventsClosedMsg{}) {
		t.Fatalf("waitEvent on a closed channel = %#v", got)
	}
}

func TestFlowNoProfileGoesToCreate(t *testing.T) {
	h := newHarness(t, true)
	h.send(openedMsg{err: fmt.Errorf("%w: %w", errNoProfile, errors.New("sotto: no profile"))})
	h.wantPage(pageCreate)
	h.wantView("no profile in this directory yet")
}

// A paste carrying escape sequences or bidi overrides reaches neither the
// composer nor the contact.
func TestFlowPasteCleaned(t *testing.T) {
	h := unlocked(t)
	h.key("enter", "enter")
	h.paste("a\x1b[31mb\x1b]0;t\x07c\u202ed")
	h.key("enter")
	h.wantCall(`Send alice bob "abcd"`)
}

// One list of every conversation, newest first, one key from anywhere
// (even from the composer, where letters are text).
func TestFlowConversations(t *testing.T) {
	h := unlocked(t)
	seedMore(h.eng)
	h.key("enter", "enter") // alice › bob
	h.typ("draft")
	h.key("ctrl+k")
	h.wantPage(pageConversations)
	v := h.view()
	if !(strings.Index(v, "bob · alice") < strings.Index(v, "source · burner") &&
		strings.Index(v, "source · burner") < strings.Index(v, "editor · burner") &&
		strings.Index(v, "editor · burner") < strings.Index(v, "carol · alice")) {
		t.Fatalf("not newest first:\n%s", v)
	}
	h.wantView("3 new")
	// A new message moves its conversation to the top; the cursor stays
	// on the conversation it was on.
	h.tick(time.Minute)
	m := sotto.Message{ID: sottotest.ID(60), Identity: "alice", Contact: "carol", Dir: sotto.Incoming, Text: "now", At: t0.Add(time.Second)}
	h.eng.PutMessages(m)
	h.event(sotto.MessageEvent{Message: m})
	v = h.view()
	if strings.Index(v, "carol · alice") > strings.Index(v, "bob · alice") {
		t.Fatalf("carol's new message did not move her up:\n%s", v)
	}
	h.key("down") // source
	h.key("enter")
	h.wantPage(pageChat)
	h.wantView("new documents")
	if h.m.s.identity != "burner" || h.m.s.contact.Name != "source" {
		t.Fatalf("opened %s › %s", h.m.s.identity, h.m.s.contact.Name)
	}
	h.key("esc") // back where the chat was opened from
	h.wantPage(pageConversations)
	h.send(tea.KeyMsg{Type: tea.KeyF2})
	h.wantPage(pageConversations)
	h.key("esc")
	h.wantPage(pageIdentities)
	// bob's draft is still there.
	h.key("enter", "enter")
	h.wantView("draft")
}

// Keys that did nothing say so.
func TestFlowSilentKeysSpeak(t *testing.T) {
	h := unlocked(t)
	h.key("q")
	h.wantView("ctrl+c quits")
	h.key("down", "enter") // burner: not a tip line
	h.key("r")
	h.wantPage(pageContacts)
	h.wantView("burner takes no contact requests")
}

// An identity whose service is not published yet but which talks with a
// contact over a connection it made is not shown as offline.
func TestIdentityConnectedNotOffline(t *testing.T) {
	h := unlocked(t)
	h.eng.PutContact(sotto.ContactInfo{Identity: "burner", Name: "source", Online: true, History: true})
	h.event(sotto.ContactEvent{Identity: "burner", Contact: "source", Online: true})
	v := h.view()
	for _, l := range strings.Split(v, "\n") {
		if strings.Contains(l, "burner") && !strings.Contains(l, "◐ connected") {
			t.Fatalf("burner row: %q", l)
		}
	}
}

// A weak passphrase is used when the person says y, as `sotto init` does
// when they type weak.
func TestFlowCreateWeakConfirmed(t *testing.T) {
	h := newHarness(t, false)
	h.typ("two words")
	h.key("tab")
	h.tick(time.Second) // the estimate follows a pause in the typing
	h.wantView("weak: guessed in")
	h.typ("two words")
	h.key("enter")
	h.wantView("y uses it anyway")
	h.key("y")
	if !h.prof.exists || string(h.prof.pass) != "two words" {
		t.Fatalf("profile: exists=%v pass=%q", h.prof.exists, h.prof.pass)
	}
	h.wantHandedWiped()
}

// Issue 18 (getting around): PgUp used to jump to the top and leave the
// screen blank. One PgUp moves up one screen less one row (that row stays
// in view for the eye to follow), never to the top, never to a blank
// screen; PgDn comes back to the same rows.
func TestFlowPgUpByPage(t *testing.T) {
	h := unlocked(t)
	for i := range 100 {
		h.eng.PutMessages(sotto.Message{ID: sottotest.ID(uint64(2000 + i)), Identity: "alice", Contact: "bob", Dir: sotto.Incoming,
			Text: fmt.Sprintf("numbered %03d", i), At: t0})
	}
	h.key("enter", "enter")
	h.wantPage(pageChat)
	re := regexp.MustCompile(`numbered ([0-9]{3})`)
	visible := func() []int {
		var n []int
		for _, m := range re.FindAllStringSubmatch(h.view(), -1) {
			v, _ := strconv.Atoi(m[1])
			n = append(n, v)
		}
		return n
	}
	bottom := visible()
	if len(bottom) < 5 || bottom[len(bottom)-1] != 99 {
		t.Fatalf("the conversation does not open at its newest rows: %v\n%s", bottom, h.view())
	}
	h.key("pgup")
	up := visible()
	if len(up) < len(bottom)-1 {
		t.Fatalf("after one pgup %d numbered rows are on screen, before %d (a page, not a blank screen):\n%s", len(up), len(bottom), h.view())
	}
	if up[0] == 0 || up[len(up)-1] != bottom[0] {
		t.Fatalf("one pgup showed %v after %v: want the page above, its last row the old top row", up, bottom)
	}
	h.key("pgdown")
	if got := visible(); fmt.Sprint(got) != fmt.Sprint(bottom) {
		t.Fatalf("pgdown after pgup shows %v, want %v again", got, bottom)
	}
}
