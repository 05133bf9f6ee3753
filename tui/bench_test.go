package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/sottotest"
)

const benchMessages = 10000

// benchChat returns a harness showing a conversation of 10,000 messages of
// mixed length, direction and timers.
func benchChat(b *testing.B) *harness {
	h := newHarness(b, true)
	seed(h.eng)
	h.m.idle = -1
	words := strings.Fields("the files are in the usual place and the meeting moved to thursday bring the drive but not the phone")
	ms := make([]sotto.Message, 0, benchMessages)
	for i := 0; i < benchMessages; i++ {
		n := 3 + i%40
		var sb strings.Builder
		for j := 0; j < n; j++ {
			sb.WriteString(words[(i+j)%len(words)])
			sb.WriteByte(' ')
		}
		if i%50 == 0 {
			sb.WriteString("\x1b[31mwith escapes\x1b[0m\nand a second line")
		}
		m := sotto.Message{ID: sottotest.ID(uint64(10000 + i)), Identity: "alice", Contact: "bob", Dir: sotto.Direction(i % 2), Text: sb.String(),
			At: t0.Add(time.Duration(i-benchMessages) * time.Minute), State: sotto.Delivered}
		if i%3 == 0 {
			m.ExpiresAt = t0.Add(time.Duration(i) * time.Second)
		}
		ms = append(ms, m)
	}
	h.eng.PutMessages(ms...)
	h.typ(testPass)
	h.key("enter", "enter", "enter")
	if h.m.page != pageChat || len(h.m.screens[pageChat].(*chatScreen).msgs) < benchMessages {
		b.Fatalf("conversation not loaded: page %d", h.m.page)
	}
	return h
}

// BenchmarkView renders one frame of a conversation of 10,000 messages.
func BenchmarkView(b *testing.B) {
	h := benchChat(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = h.m.View()
	}
}

// BenchmarkViewScrolled renders a frame scrolled back into the history.
func BenchmarkViewScrolled(b *testing.B) {
	h := benchChat(b)
	h.m.screens[pageChat].(*chatScreen).scroll = benchMessages / 2
	b.ReportAllocs()
	for b.Loop() {
		_ = h.m.View()
	}
}

// BenchmarkKeystroke is one key typed in the composer (a letter or a
// backspace) and the frame it causes, with 10,000 messages loaded.
func BenchmarkKeystroke(b *testing.B) {
	h := benchChat(b)
	h.typ("a draft of some length, with a few words already in it")
	keys := []tea.KeyMsg{{Type: tea.KeyRunes, Runes: []rune{'x'}}, {Type: tea.KeyBackspace}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.m.Update(keys[i%2])
		_ = h.m.View()
		i++
	}
}

// BenchmarkIncoming is one incoming message event and the frame it causes.
func BenchmarkIncoming(b *testing.B) {
	h := benchChat(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m := sotto.Message{ID: sottotest.ID(uint64(1<<40 + i)), Identity: "alice", Contact: "bob", Dir: sotto.Incoming, Text: fmt.Sprint("incoming ", i), At: t0}
		h.m.Update(eventMsg{sotto.MessageEvent{Message: m}})
		_ = h.m.View()
		i++
	}
}
