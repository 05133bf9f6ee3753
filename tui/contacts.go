package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/tui/sanitize"
)

// contactsScreen lists the contacts of the current identity.
type contactsScreen struct {
	s        *shared
	list     []sotto.ContactInfo
	cur      int
	requests int
	loaded   bool
	w, h     int
}

func newContacts(s *shared) *contactsScreen { return &contactsScreen{s: s} }

func (c *contactsScreen) Init() tea.Cmd    { return nil }
func (c *contactsScreen) SetSize(w, h int) { c.w, c.h = w, h }
func (c *contactsScreen) typing() bool     { return false }
func (c *contactsScreen) wipe()            { c.list, c.cur, c.requests, c.loaded = nil, 0, 0, false }

func (c *contactsScreen) enter() tea.Cmd {
	c.s.contact = sotto.ContactInfo{}
	cmds := []tea.Cmd{loadContacts(c.s.eng, c.s.identity)}
	if c.s.identityOpen {
		cmds = append(cmds, loadRequests(c.s.eng, c.s.identity))
	}
	return tea.Batch(cmds...)
}

func (c *contactsScreen) ShortHelp() []key.Binding {
	k := c.s.keys
	h := []key.Binding{withHelp(k.Open, "enter", "chat"), withHelp(k.Add, "a", "add"), withHelp(k.Check, "v", "verify"), withHelp(k.Setup, "s", "settings")}
	if c.s.identityOpen {
		h = append(h, withHelp(k.Reqs, "r", "requests"))
	}
	return append(h, k.Back)
}
func (c *contactsScreen) FullHelp() [][]key.Binding { return [][]key.Binding{c.ShortHelp()} }

func (c *contactsScreen) selected() (sotto.ContactInfo, bool) {
	if len(c.list) == 0 {
		return sotto.ContactInfo{}, false
	}
	return c.list[c.cur], true
}

func (c *contactsScreen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k := c.s.keys
	switch msg := msg.(type) {
	case contactsMsg:
		if msg.identity != c.s.identity {
			return c, nil
		}
		if msg.err != nil {
			return c, func() tea.Msg { return errMsg{msg.err} }
		}
		c.list, c.loaded = msg.list, true
		c.cur = clamp(c.cur, 0, max(len(c.list)-1, 0))
	case requestsMsg:
		if msg.identity == c.s.identity && msg.err == nil {
			c.requests = len(msg.list)
		}
	case eventMsg:
		switch ev := msg.ev.(type) {
		case sotto.ContactEvent:
			if ev.Identity == c.s.identity {
				return c, loadContacts(c.s.eng, c.s.identity)
			}
		case sotto.MessageEvent:
			if ev.Message.Identity == c.s.identity {
				return c, loadContacts(c.s.eng, c.s.identity)
			}
		case sotto.ExpiredEvent:
			if ev.Identity == c.s.identity {
				return c, loadContacts(c.s.eng, c.s.identity)
			}
		case sotto.RequestEvent:
			if ev.Request.Identity == c.s.identity {
				return c, loadRequests(c.s.eng, c.s.identity)
			}
		}
	case tea.KeyMsg:
		sel, ok := c.selected()
		switch {
		case key.Matches(msg, k.Back):
			return c, nav(pageIdentities)
		case key.Matches(msg, k.Up):
			c.cur = max(c.cur-1, 0)
		case key.Matches(msg, k.Down):
			c.cur = min(c.cur+1, max(len(c.list)-1, 0))
		case key.Matches(msg, k.Add):
			return c, nav(pageAdd)
		case key.Matches(msg, k.Reqs) && c.s.identityOpen:
			return c, nav(pageRequests)
		case key.Matches(msg, k.Reqs):
			return c, info(sanitize.Line(c.s.identity) + " takes no contact requests: only an open identity (a tip line) does; n on the identities screen makes one")
		case key.Matches(msg, k.Open) && ok:
			c.s.contact = sel
			c.s.chatFrom = pageContacts
			return c, nav(pageChat)
		case key.Matches(msg, k.Check) && ok:
			c.s.contact = sel
			return c, nav(pageVerify)
		case key.Matches(msg, k.Setup) && ok:
			c.s.contact = sel
			c.s.returnTo = pageContacts
			return c, nav(pageSettings)
		}
	}
	return c, nil
}

func (c *contactsScreen) View() string {
	st := c.s.st
	var b strings.Builder
	title := "Contacts of " + sanitize.Line(c.s.identity)
	b.WriteString("\n  " + st.Title.Render(title))
	if c.s.identityOpen {
		req := "no contact requests"
		switch c.requests {
		case 0:
		case 1:
			req = "1 contact request (r)"
		default:
			req = fmt.Sprintf("%d contact requests (r)", c.requests)
		}
		style := st.Subtle
		if c.requests > 0 {
			style = st.Unread
		}
		b.WriteString("   " + style.Render(req))
	}
	b.WriteString("\n\n")
	if c.loaded && len(c.list) == 0 {
		b.WriteString("  No contacts yet. Press " + st.HelpKey.Render("a") + " to add one: you give them your code,\n")
		b.WriteString("  they give you theirs.\n")
	}
	rows := max(c.h-4, 1)
	top := max(c.cur-rows+1, 0)
	for i := top; i < len(c.list) && i < top+rows; i++ {
		ct := c.list[i]
		name := pad(sanitize.Line(ct.Name), 18)
		state := st.Offline.Render("○ offline")
		if ct.Online {
			state = st.Online.Render("● online ")
		}
		verified := st.Subtle.Render(pad("not verified", 12))
		if ct.Verified {
			verified = st.Verified.Render(pad("✓ verified", 12))
		}
		unread := pad("", 8)
		if ct.Unread > 0 {
			unread = st.Unread.Render(pad(fmt.Sprintf("%d new", ct.Unread), 8))
		}
		timer := pad("", 8)
		if ct.Timer > 0 {
			timer = st.Timer.Render(pad("⏱ "+shortDuration(ct.Timer), 8))
		}
		hist := ""
		if !ct.History {
			hist = st.Subtle.Render("no history")
		}
		line := strings.Join([]string{state, verified, unread, timer, hist}, "  ")
		if i == c.cur {
			b.WriteString(st.Cursor.Render("  › ") + st.Selected.Render(name) + "  " + line + "\n")
		} else {
			b.WriteString("    " + name + "  " + line + "\n")
		}
	}
	return b.String()
}
