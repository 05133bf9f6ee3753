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
