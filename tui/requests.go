package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/tui/sanitize"
)

// requestsScreen lists the contact requests of an open-mode identity.
type requestsScreen struct {
	s         *shared
	list      []sotto.Request
	cur       int
	accepting bool
	name      textinput.Model
	loaded    bool
	w, h      int
}

func newRequests(s *shared) *requestsScreen {
	return &requestsScreen{s: s, name: newInput(s, "a name only you see", 32)}
}

func (r *requestsScreen) Init() tea.Cmd    { return nil }
func (r *requestsScreen) SetSize(w, h int) { r.w, r.h = w, h; r.name.Width = 30 }
func (r *requestsScreen) typing() bool     { return r.accepting }

// draft reports whether a name for an accepted request was typed.
func (r *requestsScreen) draft() bool { return r.accepting && r.name.Value() != "" }
func (r *requestsScreen) wipe() {
	clear(r.list)
	r.list, r.cur, r.accepting, r.loaded = nil, 0, false, false
	r.name.Reset()
}

func (r *requestsScreen) enter() tea.Cmd {
	r.wipe()
	return loadRequests(r.s.eng, r.s.identity)
}

func (r *requestsScreen) ShortHelp() []key.Binding {
	k := r.s.keys
	if r.accepting {
		return []key.Binding{withHelp(k.Submit, "enter", "accept"), withHelp(k.Back, "esc", "cancel")}
	}
	return []key.Binding{k.Up, k.Down, k.Accept, k.Reject, k.Back}
}
func (r *requestsScreen) FullHelp() [][]key.Binding { return [][]key.Binding{r.ShortHelp()} }

func (r *requestsScreen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k := r.s.keys
	switch msg := msg.(type) {
	case requestsMsg:
		if msg.identity != r.s.identity {
			return r, nil
		}
		if msg.err != nil {
			return r, func() tea.Msg { return errMsg{msg.err} }
		}
		r.list, r.loaded = msg.list, true
		r.cur = clamp(r.cur, 0, max(len(r.list)-1, 0))
	case doneMsg:
		if msg.err == nil {
			r.accepting = false
			r.name.Reset()
		}
		return r, loadRequests(r.s.eng, r.s.identity)
	case eventMsg:
		if ev, ok := msg.ev.(sotto.RequestEvent); ok && ev.Request.Identity == r.s.identity {
			return r, loadRequests(r.s.eng, r.s.identity)
		}
	case tea.KeyMsg:
		e, ctx, id := r.s.eng, r.s.ctx, r.s.identity
		if r.accepting {
			switch {
			case key.Matches(msg, k.Back):
				r.accepting = false
				r.name.Reset()
				return r, nil
			case key.Matches(msg, k.Submit):
				name := strings.TrimSpace(r.name.Value())
				if name == "" || len(r.list) == 0 {
					return r, nil
				}
				req := r.list[r.cur].ID
				return r, do(sanitize.Line(name)+" accepted and added to your contacts", pageNone, func() error {
					return e.AcceptRequest(ctx, id, req, name)
				})
			}
			var cmd tea.Cmd
			r.name, cmd = r.name.Update(msg)
			return r, cmd
		}
		switch {
		case key.Matches(msg, k.Back):
			return r, nav(pageContacts)
		case key.Matches(msg, k.Up):
			r.cur = max(r.cur-1, 0)
		case key.Matches(msg, k.Down):
			r.cur = min(r.cur+1, max(len(r.list)-1, 0))
		case key.Matches(msg, k.Accept) && len(r.list) > 0:
			r.accepting = true
			return r, r.name.Focus()
		case key.Matches(msg, k.Reject) && len(r.list) > 0:
			req := r.list[r.cur].ID
			return r, do("request rejected", pageNone, func() error { return e.RejectRequest(ctx, id, req) })
		}
	}
	return r, nil
}

func (r *requestsScreen) View() string {
	st := r.s.st
	var b strings.Builder
	b.WriteString("\n  " + st.Title.Render("Contact requests to "+sanitize.Line(r.s.identity)) + "\n")
	b.WriteString("  " + st.Subtle.Render("Strangers who found this open identity. Nothing reaches you until you accept.") + "\n\n")
	if r.loaded && len(r.list) == 0 {
		b.WriteString("  No requests.\n")
	}
	rows := max(r.h-8, 1)
	top := max(r.cur-rows+1, 0)
	textW := max(r.w-34, 10)
	for i := top; i < len(r.list) && i < top+rows; i++ {
		q := r.list[i]
		text := strings.ReplaceAll(sanitize.Line(q.Text), "  ", " ")
		if text == "" {
			text = st.Subtle.Render("(no message)")
		} else {
			text = "“" + ansi.Truncate(text, textW, "…") + "”"
		}
		line := fmt.Sprintf("%s  %s  %s", st.Time.Render(pad(clock(q.At, r.s.now), 5)), st.Subtle.Render(pad(shortOnion(q.Onion), 19)), text)
		if i == r.cur {
			b.WriteString(st.Cursor.Render("  › ") + line + "\n")
		} else {
			b.WriteString("    " + line + "\n")
		}
	}
	if r.accepting {
		b.WriteString("\n  " + st.Header.Render("Accept") + st.Subtle.Render(": name this contact") + "  " + st.Cursor.Render("› ") + r.name.View() + "\n")
	}
	return b.String()
}
