package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/tui/sanitize"
)

// convsScreen lists every conversation of every identity, newest activity
// first, with unread counts: the place to land after unlocking, one key
// (ctrl+k or f2) from anywhere.
type convsScreen struct {
	s      *shared
	list   []sotto.ContactInfo
	open   map[string]bool // identities in open mode
	cur    int
	loaded bool
	// landing: opened right after the profile was unlocked; with no
	// conversation at all the identities screen is more use.
	landing bool
	w, h    int
}

func newConvs(s *shared) *convsScreen { return &convsScreen{s: s} }

func (c *convsScreen) Init() tea.Cmd    { return nil }
func (c *convsScreen) SetSize(w, h int) { c.w, c.h = w, h }
func (c *convsScreen) typing() bool     { return false }
func (c *convsScreen) wipe()            { c.list, c.open, c.cur, c.loaded, c.landing = nil, nil, 0, false, false }

func (c *convsScreen) enter() tea.Cmd {
	c.s.identity, c.s.contact = "", sotto.ContactInfo{}
	return loadConversations(c.s.eng)
}

func (c *convsScreen) ShortHelp() []key.Binding {
	k := c.s.keys
	return []key.Binding{k.Up, k.Down, withHelp(k.Open, "enter", "chat"), withHelp(k.Back, "esc", "identities"), k.Quit}
}
func (c *convsScreen) FullHelp() [][]key.Binding { return [][]key.Binding{c.ShortHelp()} }

// sortConversations orders conversations newest activity first; those
// without a message follow, by identity and name. A time later than now
// (a contact's clock ahead of ours) counts as now.
func sortConversations(l []sotto.ContactInfo, now time.Time) {
	last := func(c sotto.ContactInfo) time.Time {
		if c.Last.After(now) {
			return now
		}
		return c.Last
	}
	slices.SortStableFunc(l, func(a, b sotto.ContactInfo) int {
		if c := last(b).Compare(last(a)); c != 0 {
			return c
		}
		if c := strings.Compare(a.Identity, b.Identity); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

func (c *convsScreen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k := c.s.keys
	switch msg := msg.(type) {
	case convsMsg:
		if msg.err != nil {
			return c, func() tea.Msg { return errMsg{msg.err} }
		}
		var keep string
		if len(c.list) > 0 {
			keep = c.list[c.cur].Identity + "\x00" + c.list[c.cur].Name
		}
		c.list, c.open, c.loaded = msg.list, msg.open, true
		sortConversations(c.list, c.s.now)
		c.cur = 0
		for i, ct := range c.list {
			if ct.Identity+"\x00"+ct.Name == keep {
				c.cur = i // the cursor stays on its conversation when the order changes
			}
		}
		if c.landing && len(c.list) == 0 {
			c.landing = false
			return c, nav(pageIdentities)
		}
		c.landing = false
	case eventMsg:
		switch msg.ev.(type) {
		case sotto.MessageEvent, sotto.ContactEvent, sotto.ExpiredEvent, sotto.IdentityEvent:
			return c, loadConversations(c.s.eng)
		}
	case tea.KeyMsg:
		switch {
		case key.Matches(msg, k.Back):
			return c, nav(pageIdentities)
		case key.Matches(msg, k.Up):
			c.cur = max(c.cur-1, 0)
		case key.Matches(msg, k.Down):
			c.cur = min(c.cur+1, max(len(c.list)-1, 0))
		case key.Matches(msg, k.Open) && len(c.list) > 0:
			ct := c.list[c.cur]
			c.s.identity, c.s.identityOpen, c.s.contact = ct.Identity, c.open[ct.Identity], ct
			c.s.chatFrom = pageConversations
			return c, nav(pageChat)
		}
	}
	return c, nil
}

func (c *convsScreen) View() string {
	st := c.s.st
	var b strings.Builder
	unread := 0
	for _, ct := range c.list {
		unread += ct.Unread
	}
	b.WriteString("\n  " + st.Title.Render("Conversations"))
	if unread > 0 {
		b.WriteString("   " + st.Unread.Render(fmt.Sprintf("%d unread", unread)))
	}
	b.WriteString("\n  " + st.Subtle.Render("Contact · your identity, newest first. ctrl+k or f2 leads here from anywhere.") + "\n\n")
	if c.loaded && len(c.list) == 0 {
		b.WriteString("  No conversations yet. esc goes to your identities: open one and press " + st.HelpKey.Render("a") + "\n")
		b.WriteString("  to add a contact.\n")
	}
	rows := max(c.h-5, 1)
	top := max(c.cur-rows+1, 0)
	for i := top; i < len(c.list) && i < top+rows; i++ {
		ct := c.list[i]
		// Fixed-width columns first, names last: a name the terminal
		// draws wider than Unicode says cannot push a column out of line.
		state := st.Offline.Render("○")
		if ct.Online {
			state = st.Online.Render("●")
		}
		news := pad("", 7)
		if ct.Unread > 0 {
			news = st.Unread.Render(pad(fmt.Sprintf("%d new", ct.Unread), 7))
		}
		when := pad("", 6)
		if !ct.Last.IsZero() {
			when = st.Time.Render(pad(clock(ct.Last, c.s.now), 6))
		}
		timer := pad("", 7)
		if ct.Timer > 0 {
			timer = st.Timer.Render(pad("⏱"+shortDuration(ct.Timer), 7))
		}
		name := sanitize.Line(ct.Name)
		via := st.Subtle.Render(" · " + sanitize.Line(ct.Identity))
		line := state + " " + news + " " + when + " " + timer + " "
		if i == c.cur {
			b.WriteString(st.Cursor.Render("  › ") + line + st.Selected.Render(name) + via + "\n")
		} else {
			b.WriteString("    " + line + name + via + "\n")
		}
	}
	return b.String()
}
