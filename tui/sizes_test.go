package tui

import (
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/sottotest"
)

// Every screen fits the terminal at small, usual and large sizes: exactly
// height lines, none wider than width.
func TestScreensFitEverySize(t *testing.T) {
	sizes := [][2]int{{80, 24}, {60, 20}, {100, 30}, {200, 60}, {40, 12}}
	visits := []struct {
		name string
		keys []string
	}{
		{"identities", nil},
		{"contacts", []string{"enter"}},
		{"chat", []string{"enter", "enter"}},
		{"add", []string{"enter", "a"}},
		{"qr", []string{"enter", "a", "ctrl+o"}},
		{"verify", []string{"enter", "v"}},
		{"settings", []string{"enter", "s"}},
		{"requests", []string{"enter", "r"}},
		{"help", []string{"?"}},
		{"locked", []string{"ctrl+l"}},
	}
	for _, size := range sizes {
		for _, v := range visits {
			h := unlocked(t)
			h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
			h.key(v.keys...)
			checkFit(t, v.name, h.view(), size[0], size[1])
		}
		h := newHarness(t, false)
		h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		h.typ("a passphrase")
		checkFit(t, "create", h.view(), size[0], size[1])
	}
}

func checkFit(t *testing.T, name, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("%s at %dx%d: %d lines", name, w, h, len(lines))
	}
	for i, l := range lines {
		if lipgloss.Width(l) > w {
			t.Errorf("%s at %dx%d: line %d is %d wide", name, w, h, i+1, lipgloss.Width(l))
		}
	}
}

// The longest message the protocol carries is shown whole: paging up
// through it shows every one of its lines, and every frame fits.
func TestLongestMessageReadable(t *testing.T) {
	h := unlocked(t)
	var b strings.Builder
	for i := 0; b.Len() < sotto.MaxText-20; i++ {
		fmt.Fprintf(&b, "w%05d ", i)
	}
	big := b.String()
	h.eng.PutMessages(sotto.Message{ID: sottotest.ID(900), Identity: "alice", Contact: "bob", Dir: sotto.Incoming, Text: big, At: t0})
	h.key("enter", "enter")
	seen := map[string]bool{}
	for range 400 {
		v := h.view()
		checkFit(t, "chat", v, 80, 24)
		for _, w := range strings.Fields(v) {
			seen[w] = true
		}
		h.key("pgup")
	}
	for _, w := range strings.Fields(big) {
		if !seen[w] {
			t.Fatalf("%q of the %d-byte message was never on screen", w, len(big))
		}
	}
	if !seen["Are"] {
		t.Fatal("paging up never reached the first message")
	}
}

// The delivery marks stay in one column whatever the text: emoji joined by
// zero-width joiners, flags with variation selectors and wide characters
// come after them, so a terminal that draws them wider or narrower than
// Unicode says cannot move them.
func TestMarksAlignedWithEmoji(t *testing.T) {
	h := unlocked(t)
	texts := []string{"plain", "👩‍👩‍👧 family", "🏳️‍🌈 flag", "日本語", "é\u0301 combining"}
	for i, s := range texts {
		h.eng.PutMessages(sotto.Message{ID: sottotest.ID(uint64(700 + i)), Identity: "alice", Contact: "bob", Dir: sotto.Outgoing, Text: s, At: t0, State: sotto.Delivered})
	}
	h.key("enter", "enter")
	col := -1
	for _, l := range strings.Split(h.view(), "\n") {
		for _, s := range texts {
			if !strings.Contains(l, s) {
				continue
			}
			i := strings.Index(l, "✓✓")
			if i < 0 {
				t.Fatalf("no ✓✓ in %q", l)
			}
			c := lipgloss.Width(l[:i])
			if col >= 0 && c != col {
				t.Fatalf("✓✓ at cell %d in %q, at %d in an earlier row", c, l, col)
			}
			if tx := strings.Index(l, s); tx < i {
				t.Fatalf("text before the marks in %q", l)
			}
			col = c
		}
	}
	if col < 0 {
		t.Fatal("no message rows found")
	}
}

// Issue 14 item 1: the safety code is 60 digits; a narrow terminal must not
// hide any group of it on the verify screen (a person compares them all).
func TestVerifyShowsWholeCode(t *testing.T) {
	const code = "48213 99021 57310 08842 61177 35509 72046 11893 40527 96314 05768 23190"
	for _, size := range [][2]int{{200, 60}, {100, 30}, {80, 24}, {60, 20}, {50, 16}} {
		h := unlocked(t)
		h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		h.key("enter", "v")
		h.wantPage(pageVerify)
		v := h.view()
		for _, g := range strings.Fields(code) {
			if !strings.Contains(v, g) {
				t.Fatalf("%dx%d: group %s of the safety code is not on the verify screen:\n%s", size[0], size[1], g, v)
			}
		}
	}
}
