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

// identityKinds are the kinds of identity the new-identity form offers.
var identityKinds = []struct {
	name, desc      string
	ephemeral, open bool
}{
	{"normal", "kept in the vault; only contacts can reach it", false, false},
	{"ephemeral", "lives in memory only, gone when Sotto quits", true, false},
	{"open", "a tip line: strangers can send contact requests", false, true},
}

// identitiesScreen lists the local identities with their online state.
type identitiesScreen struct {
	s      *shared
	list   []sotto.IdentityInfo
	stats  map[string]idStats
	cur    int
	form   bool
	name   textinput.Model
	kind   int
	loaded bool
	w, h   int
}

func newIdentities(s *shared) *identitiesScreen {
	return &identitiesScreen{s: s, name: newInput(s, "a name only you see", 32)}
}

func (v *identitiesScreen) Init() tea.Cmd    { return nil }
func (v *identitiesScreen) SetSize(w, h int) { v.w, v.h = w, h; v.name.Width = 30 }
func (v *identitiesScreen) typing() bool     { return v.form }

// draft reports whether a new identity's name was typed and not created.
func (v *identitiesScreen) draft() bool { return v.form && v.name.Value() != "" }
func (v *identitiesScreen) wipe() {
	v.list, v.cur, v.form, v.loaded = nil, 0, false, false
	v.name.Reset()
}

func (v *identitiesScreen) enter() tea.Cmd {
	v.s.identity = ""
	v.s.contact = sotto.ContactInfo{}
	if v.s.eng == nil {
		return nil
	}
	return loadIdentities(v.s.eng)
}

func (v *identitiesScreen) ShortHelp() []key.Binding {
	k := v.s.keys
	if v.form {
		return []key.Binding{k.Submit, withHelp(k.Next, "tab", "kind"), k.Back}
	}
	return []key.Binding{k.Up, k.Down, k.Open, withHelp(k.NewID, "n", "new"), withHelp(k.Lock, "ctrl+l", "lock"), k.Quit}
}
func (v *identitiesScreen) FullHelp() [][]key.Binding { return [][]key.Binding{v.ShortHelp()} }

// withHelp returns b with other help text.
func withHelp(b key.Binding, k, desc string) key.Binding {
	b.SetHelp(k, desc)
	return b
}

func (v *identitiesScreen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k := v.s.keys
	switch msg := msg.(type) {
	case identitiesMsg:
		v.list, v.stats = msg.list, msg.stats
		v.loaded = true
		v.cur = clamp(v.cur, 0, max(len(v.list)-1, 0))
	case eventMsg:
		switch msg.ev.(type) {
		case sotto.IdentityEvent, sotto.ContactEvent, sotto.MessageEvent:
			return v, loadIdentities(v.s.eng)
		}
	case doneMsg:
		if msg.err == nil {
			v.form = false
			v.name.Reset()
		}
		return v, loadIdentities(v.s.eng)
	case tea.KeyMsg:
		if v.form {
			switch {
			case key.Matches(msg, k.Back):
				v.form = false
				v.name.Reset()
				return v, nil
			case key.Matches(msg, k.Next):
				v.kind = (v.kind + 1) % len(identityKinds)
				return v, nil
			case key.Matches(msg, k.Submit):
				name := strings.TrimSpace(v.name.Value())
				if name == "" {
					return v, nil
				}
				kind := identityKinds[v.kind]
				e, p, ctx := v.s.eng, v.s.prof, v.s.ctx
				return v, do(fmt.Sprintf("identity %s created; its onion service is being published", sanitize.Line(name)), pageNone, func() error {
					_, err := p.NewIdentity(ctx, e, name, kind.ephemeral, kind.open)
					return err
				})
			}
			var cmd tea.Cmd
			v.name, cmd = v.name.Update(msg)
			return v, cmd
		}
		switch {
		case key.Matches(msg, k.Up):
			v.cur = max(v.cur-1, 0)
		case key.Matches(msg, k.Down):
			v.cur = min(v.cur+1, max(len(v.list)-1, 0))
		case key.Matches(msg, k.NewID):
			v.form = true
			v.kind = 0
			return v, v.name.Focus()
		case key.Matches(msg, k.Open):
			if len(v.list) == 0 {
				return v, nil
			}
			id := v.list[v.cur]
			v.s.identity = id.Name
			v.s.identityOpen = id.Open
			return v, nav(pageContacts)
		}
	}
	return v, nil
}

// shortOnion abbreviates an onion address for display.
func shortOnion(a string) string {
	a = sanitize.Line(a)
	if len(a) <= 16 {
		return a
	}
	return a[:8] + "…" + a[len(a)-4:] + ".onion"
}

func (v *identitiesScreen) View() string {
	st := v.s.st
	var b strings.Builder
	b.WriteString("\n  " + st.Title.Render("Your identities") + "\n")
	b.WriteString("  " + st.Subtle.Render("Each identity is its own onion service, unlinkable to the others.") + "\n\n")
	if v.loaded && len(v.list) == 0 {
		b.WriteString("  No identity yet. Press " + st.HelpKey.Render("n") + " to create one: it is who your contacts talk to.\n")
	}
	rows := max(v.h-9, 1)
	top := max(v.cur-rows+1, 0)
	for i := top; i < len(v.list) && i < top+rows; i++ {
		id := v.list[i]
		stats := v.stats[id.Name]
		// Online: its onion service is published, contacts can reach it.
		// Connected: not published (yet), but talking with contacts over
		// connections it made itself.
		state := st.Offline.Render("○ offline  ")
		switch {
		case id.Online:
			state = st.Online.Render("● online   ")
		case stats.connected > 0:
			state = st.Online.Render("◐ connected")
		}
		var tags []string
		if id.Open {
			tags = append(tags, "open")
		}
		if id.Ephemeral {
			tags = append(tags, "ephemeral")
		}
		name := pad(sanitize.Line(id.Name), 16)
		var people string
		switch stats.contacts {
		case 0:
			people = "no contacts"
		case 1:
			people = "1 contact"
		default:
			people = fmt.Sprintf("%d contacts", stats.contacts)
		}
		people = st.Subtle.Render(people)
		if stats.unread > 0 {
			people += st.Unread.Render(fmt.Sprintf(", %d new", stats.unread))
		}
		line := fmt.Sprintf("%s  %s  %s  %s  %s", name, state, st.Subtle.Render(shortOnion(id.Onion)), st.Timer.Render(pad(strings.Join(tags, " "), 9)), people)
		if i == v.cur {
			b.WriteString(st.Cursor.Render("  › ") + st.Selected.Render(name) + line[len(name):] + "\n")
		} else {
			b.WriteString("    " + line + "\n")
		}
	}
	if v.form {
		kind := identityKinds[v.kind]
		b.WriteString("\n  " + st.Header.Render("New identity") + "\n")
		b.WriteString("  " + st.Label.Render(fmt.Sprintf("%-6s", "Name")) + st.Cursor.Render("› ") + v.name.View() + "\n")
		b.WriteString("  " + st.Label.Render(fmt.Sprintf("%-8s", "Kind")) + st.Value.Render(kind.name) + st.Subtle.Render(": "+kind.desc+" (tab)") + "\n")
	}
	return b.String()
}

// pad cuts s to n cells (with an ellipsis) or pads it with spaces to n cells.
func pad(s string, n int) string {
	s = ansi.Truncate(s, n, "…")
	if w := ansi.StringWidth(s); w < n {
		s += strings.Repeat(" ", n-w)
	}
	return s
}
