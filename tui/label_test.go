package tui

import "testing"

// TestLabelOnEveryScreen: Config.Label (sotto --amnesic's notice) is in the
// header from the first screen on: unlock, the lists, a conversation, the
// lock screen.
func TestLabelOnEveryScreen(t *testing.T) {
	const label = "AMNESIC: nothing written to disk"
	h := newHarnessConfig(t, true, Config{Label: label})
	seed(h.eng)
	h.wantPage(pageUnlock)
	h.wantView(label)
	h.typ(testPass)
	h.key("enter")
	h.wantPage(pageConversations)
	h.wantView(label)
	for _, p := range []page{pageIdentities, pageContacts, pageChat, pageSettings} {
		h.run(h.m.goTo(p))
		h.wantView(label)
	}
	h.key("ctrl+l")
	h.wantView(label)

	plain := newHarness(t, false)
	plain.wantPage(pageCreate)
	plain.wantNoView("AMNESIC")
}
