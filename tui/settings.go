package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/tui/sanitize"
)

// timerPresets are the disappearing-timer choices (the engine takes 0 or
// 30s..4 weeks).
var timerPresets = []struct {
	d    time.Duration
	name string
}{
	{0, "off"},
	{30 * time.Second, "30 seconds"},
	{5 * time.Minute, "5 minutes"},
	{time.Hour, "1 hour"},
	{8 * time.Hour, "8 hours"},
	{24 * time.Hour, "1 day"},
	{7 * 24 * time.Hour, "1 week"},
	{4 * 7 * 24 * time.Hour, "4 weeks"},
}

// settingsScreen sets a conversation's disappearing timer and history.
type settingsScreen struct {
	s    *shared
	cur  int
	w, h int
}

func newSettings(s *shared) *settingsScreen { return &settingsScreen{s: s} }

func (v *settingsScreen) Init() tea.Cmd    { return nil }
func (v *settingsScreen) SetSize(w, h int) { v.w, v.h = w, h }
func (v *settingsScreen) typing() bool     { return false }
func (v *settingsScreen) wipe()            { v.cur = 0 }

func (v *settingsScreen) enter() tea.Cmd {
	v.cur = 0
	for i, p := range timerPresets {
		if p.d == v.s.contact.Timer {
			v.cur = i
		}
	}
	return loadContacts(v.s.eng, v.s.identity)
}

func (v *settingsScreen) ShortHelp() []key.Binding {
	k := v.s.keys
	return []key.Binding{k.Up, k.Down, withHelp(k.Submit, "enter", "set timer"), k.History, k.Back}
}
func (v *settingsScreen) FullHelp() [][]key.Binding { return [][]key.Binding{v.ShortHelp()} }

func (v *settingsScreen) back() page {
	if v.s.returnTo == pageChat {
		return pageChat
	}
	return pageContacts
}

func (v *settingsScreen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k := v.s.keys
	switch msg := msg.(type) {
	case contactsMsg:
		v.s.updateContact(msg)
	case doneMsg:
		return v, loadContacts(v.s.eng, v.s.identity)
	case eventMsg:
		if ev, ok := msg.ev.(sotto.MessageEvent); ok && ev.Message.Kind == sotto.TimerMessage {
			return v, loadContacts(v.s.eng, v.s.identity)
		}
	case tea.KeyMsg:
		e, ctx, id, ct := v.s.eng, v.s.ctx, v.s.identity, v.s.contact
		switch {
		case key.Matches(msg, k.Back):
			return v, nav(v.back())
		case key.Matches(msg, k.Up):
			v.cur = max(v.cur-1, 0)
		case key.Matches(msg, k.Down):
			v.cur = min(v.cur+1, len(timerPresets)-1)
		case key.Matches(msg, k.Submit):
			p := timerPresets[v.cur]
			info := "disappearing messages off"
			if p.d > 0 {
				info = "messages now disappear after " + p.name + " (for both of you)"
			}
			return v, do(info, pageNone, func() error { return e.SetTimer(ctx, id, ct.Name, p.d) })
		case key.Matches(msg, k.History):
			keep := !ct.History
			info := "history off: this conversation is now kept in memory only"
			if keep {
				info = "history on: this conversation is kept in the encrypted vault"
			}
			return v, do(info, pageNone, func() error { return e.SetHistory(id, ct.Name, keep) })
		}
	}
	return v, nil
}

func (v *settingsScreen) View() string {
	st := v.s.st
	ct := v.s.contact
	var b strings.Builder
	b.WriteString("\n  " + st.Title.Render("Conversation with "+sanitize.Line(ct.Name)) + "\n\n")
	b.WriteString("  " + st.Header.Render("Disappearing messages") + "\n")
	b.WriteString("  " + st.Subtle.Render("New messages are deleted on both sides this long after they are sent.") + "\n")
	for i, p := range timerPresets {
		mark := "  "
		if p.d == ct.Timer {
			mark = st.OK.Render("● ")
		}
		name := pad(p.name, 12)
		if i == v.cur {
			b.WriteString(st.Cursor.Render("  › ") + mark + st.Selected.Render(name) + "\n")
		} else {
			b.WriteString("    " + mark + name + "\n")
		}
	}
	b.WriteString("\n  " + st.Header.Render("History") + "  ")
	if ct.History {
		b.WriteString(st.OK.Render("on") + st.Subtle.Render(": kept in the encrypted vault across restarts") + "\n")
	} else {
		b.WriteString(st.Warn.Render("off") + st.Subtle.Render(": kept in memory only, gone when Sotto quits") + "\n")
	}
	toggle := "on"
	if ct.History {
		toggle = "off"
	}
	b.WriteString("  " + st.Subtle.Render(fmt.Sprintf("press h to turn it %s", toggle)) + "\n")
	return b.String()
}
