package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textarea"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/tui/sanitize"
)

// Layout of a conversation line: "15:04 " then the author column, the text,
// and on the right the delivery state and the countdown.
const (
	timeWidth   = 6
	authorWidth = 10
	metaWidth   = 11
	composerH   = 3
	// maxMessageRunes bounds what the composer takes.
	maxMessageRunes = 4000
	// maxShownBytes bounds how much of one message a frame renders, so a
	// huge message cannot slow every frame down.
	maxShownBytes = 8 << 10
)

// chatScreen is a conversation: the messages that fit above a multi-line
// composer. Only the visible messages are rendered.
type chatScreen struct {
	s      *shared
	msgs   []sotto.Message
	scroll int // messages hidden below the view (0: at the bottom)
	ta     textarea.Model
	loaded bool
	with   [2]string // identity and contact of the draft in ta
	w, h   int
}

func newChat(s *shared) *chatScreen {
	return &chatScreen{s: s, ta: newComposer(s)}
}

// newComposer returns an empty composer.
func newComposer(s *shared) textarea.Model {
	ta := textarea.New()
	ta.ShowLineNumbers = false
	ta.Prompt = "┃ "
	ta.Placeholder = "Write a message. enter sends, alt+enter starts a new line."
	ta.CharLimit = maxMessageRunes
	ta.SetHeight(composerH)
	ta.KeyMap.InsertNewline = s.keys.Newline
	noClipboard(&ta.KeyMap.Paste)
	ta.Cursor.SetMode(cursor.CursorStatic)
	ta.FocusedStyle.CursorLine = s.st.Body
	ta.FocusedStyle.Placeholder = s.st.Subtle
	ta.BlurredStyle.Placeholder = s.st.Subtle
	ta.FocusedStyle.Prompt = s.st.Cursor
	return ta
}

func (c *chatScreen) Init() tea.Cmd { return nil }
func (c *chatScreen) SetSize(w, h int) {
	c.w, c.h = w, h
	c.ta.SetWidth(w)
}
func (c *chatScreen) typing() bool { return true }
func (c *chatScreen) wipe() {
	clear(c.msgs) // drop the references to every decrypted text
	c.msgs, c.scroll, c.loaded = nil, 0, false
	// A new composer: Reset would leave the draft in the textarea's cache
	// of wrapped lines.
	c.ta = newComposer(c.s)
	c.ta.SetWidth(c.w)
	c.with = [2]string{}
}

func (c *chatScreen) enter() tea.Cmd {
	ct := c.s.contact
	if c.with != [2]string{c.s.identity, ct.Name} {
		c.wipe() // another conversation: its draft is not for this one
		c.with = [2]string{c.s.identity, ct.Name}
	}
	clear(c.msgs)
	c.msgs, c.loaded, c.scroll = nil, false, 0
	c.ta.Focus()
	return tea.Batch(loadMessages(c.s.eng, c.s.identity, ct.Name), markRead(c.s.eng, c.s.identity, ct.Name))
}

func (c *chatScreen) ShortHelp() []key.Binding {
	k := c.s.keys
	return []key.Binding{k.Send, withHelp(k.Newline, "alt+⏎", "newline"), withHelp(k.PageUp, "pgup/pgdn", "scroll"), withHelp(k.ChatSetup, "ctrl+t", "timer"), k.Back}
}
func (c *chatScreen) FullHelp() [][]key.Binding { return [][]key.Binding{c.ShortHelp()} }

func (c *chatScreen) mine(identity, contact string) bool {
	return identity == c.s.identity && contact == c.s.contact.Name
}

func (c *chatScreen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k := c.s.keys
	switch msg := msg.(type) {
	case messagesMsg:
		if !c.mine(msg.identity, msg.contact) {
			return c, nil
		}
		if msg.err != nil {
			return c, func() tea.Msg { return errMsg{msg.err} }
		}
		c.msgs, c.loaded = msg.list, true
		c.scroll = clamp(c.scroll, 0, max(len(c.msgs)-1, 0))
		return c, c.showVisible()
	case shownMsg:
		return c, c.onShown(msg)
	case contactsMsg:
		c.s.updateContact(msg)
	case sentMsg:
		if msg.err != nil {
			return c, func() tea.Msg { return errMsg{msg.err} }
		}
		if c.mine(msg.identity, msg.contact) {
			return c, loadMessages(c.s.eng, msg.identity, msg.contact)
		}
	case doneMsg:
		return c, tea.Batch(loadMessages(c.s.eng, c.s.identity, c.s.contact.Name), loadContacts(c.s.eng, c.s.identity))
	case eventMsg:
		return c, c.onEvent(msg.ev)
	case tea.KeyMsg:
		switch {
		case key.Matches(msg, k.Back):
			return c, nav(pageContacts)
		case key.Matches(msg, k.ChatSetup):
			c.s.returnTo = pageChat
			return c, nav(pageSettings)
		case key.Matches(msg, k.PageUp):
			c.scroll = min(c.scroll+max(c.listHeight()/2, 1), max(len(c.msgs)-1, 0))
			return c, c.showVisible()
		case key.Matches(msg, k.PageDown):
			c.scroll = max(c.scroll-max(c.listHeight()/2, 1), 0)
			return c, c.showVisible()
		case key.Matches(msg, k.Send) && !msg.Alt && !msg.Paste:
			text := strings.TrimSpace(c.ta.Value())
			if text == "" {
				return c, nil
			}
			c.ta.Reset()
			c.scroll = 0
			return c, send(c.s.ctx, c.s.eng, c.s.identity, c.s.contact.Name, text)
		}
		var cmd tea.Cmd
		c.ta, cmd = c.ta.Update(msg)
		return c, cmd
	}
	return c, nil
}

func (c *chatScreen) onEvent(ev sotto.Event) tea.Cmd {
	switch ev := ev.(type) {
	case sotto.MessageEvent:
		m := ev.Message
		if !c.mine(m.Identity, m.Contact) {
			return nil
		}
		for i := len(c.msgs) - 1; i >= 0 && i >= len(c.msgs)-64; i-- {
			if c.msgs[i].ID == m.ID {
				return nil // already shown
			}
		}
		c.msgs = append(c.msgs, m)
		if c.scroll > 0 {
			c.scroll++ // keep the view where the reader is
		}
		cmds := []tea.Cmd{markRead(c.s.eng, m.Identity, m.Contact), c.showVisible()}
		if m.Kind == sotto.TimerMessage {
			cmds = append(cmds, loadContacts(c.s.eng, c.s.identity))
		}
		return tea.Batch(cmds...)
	case sotto.SentEvent:
		if c.mine(ev.Identity, ev.Contact) {
			c.setState(ev.ID, sotto.Sent)
		}
	case sotto.DeliveredEvent:
		if c.mine(ev.Identity, ev.Contact) {
			c.setState(ev.ID, sotto.Delivered)
		}
	case sotto.ExpiredEvent:
		if c.mine(ev.Identity, ev.Contact) {
			for i := range c.msgs {
				if c.msgs[i].ID == ev.ID {
					c.msgs = slices.Delete(c.msgs, i, i+1) // zeroes the freed slot
					break
				}
			}
		}
	case sotto.ContactEvent:
		if c.mine(ev.Identity, ev.Contact) {
			c.s.contact.Online = ev.Online
		}
	}
	return nil
}

func (c *chatScreen) setState(id sotto.MessageID, d sotto.Delivery) {
	for i := len(c.msgs) - 1; i >= 0; i-- {
		if c.msgs[i].ID == id {
			if c.msgs[i].State < d {
				c.msgs[i].State = d
			}
			return
		}
	}
}

// listHeight is the number of rows for messages: the body minus the
// conversation header, the rule and the composer.
func (c *chatScreen) listHeight() int { return max(c.h-2-composerH, 1) }

func (c *chatScreen) View() string {
	st := c.s.st
	ct := c.s.contact
	var head []string
	head = append(head, st.Header.Render(" "+sanitize.Line(ct.Name)))
	if ct.Online {
		head = append(head, st.Online.Render("● online"))
	} else {
		head = append(head, st.Offline.Render("○ offline"))
	}
	if ct.Verified {
		head = append(head, st.Verified.Render("✓ verified"))
	} else {
		head = append(head, st.Warn.Render("not verified"))
	}
	if ct.Timer > 0 {
		head = append(head, st.Timer.Render("⏱ "+longDuration(ct.Timer)))
	}
	if !ct.History {
		head = append(head, st.Subtle.Render("no history"))
	}
	if c.scroll > 0 {
		head = append(head, st.Unread.Render(fmt.Sprintf("↓ %d newer", c.scroll)))
	}
	lines := c.visibleLines(c.w, c.listHeight())
	var b strings.Builder
	b.WriteString(strings.Join(head, "  "))
	b.WriteByte('\n')
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	b.WriteString(st.Subtle.Render(strings.Repeat("─", max(c.w, 1))))
	b.WriteByte('\n')
	b.WriteString(c.ta.View())
	return b.String()
}

// visibleLines renders, bottom up, only the messages that fit in h rows,
// and returns exactly h lines.
func (c *chatScreen) visibleLines(w, h int) []string {
	var blocks [][]string
	n := 0
	skip := c.scroll
	now := c.s.now
	for i := len(c.msgs) - 1; i >= 0 && n < h; i-- {
		m := &c.msgs[i]
		if !m.ExpiresAt.IsZero() && !now.Before(m.ExpiresAt) {
			continue // expired: never shown, even before the engine's event
		}
		if skip > 0 {
			skip--
			continue
		}
		bl := c.renderMessage(m, w)
		blocks = append(blocks, bl)
		n += len(bl)
	}
	out := make([]string, 0, max(h, n))
	for i := 0; i < h-n; i++ {
		out = append(out, "")
	}
	if c.loaded && len(c.msgs) == 0 && h > 2 {
		out[h/2-1] = c.s.st.Subtle.Render("  No messages yet. Messages to " + sanitize.Line(c.s.contact.Name) + " wait in the outbox while they are offline.")
	}
	for i := len(blocks) - 1; i >= 0; i-- {
		out = append(out, blocks[i]...)
	}
	return out[len(out)-h:]
}

// renderMessage renders one message as one or more lines of width w.
func (c *chatScreen) renderMessage(m *sotto.Message, w int) []string {
	st := c.s.st
	stamp := st.Time.Render(pad(clock(m.At, c.s.now), timeWidth))
	if m.Kind == sotto.TimerMessage || m.Dir == sotto.System {
		return []string{stamp + st.System.Render("── "+c.systemText(m)+" ──")}
	}
	var author string
	if m.Dir == sotto.Outgoing {
		author = st.Me.Render(pad("you", authorWidth))
	} else {
		author = st.Peer.Render(pad(sanitize.Line(m.Contact), authorWidth))
	}
	textW := max(w-timeWidth-authorWidth-metaWidth-1, 10)
	raw := m.Text
	cut := ""
	if len(raw) > maxShownBytes {
		raw = strings.ToValidUTF8(raw[:maxShownBytes], "")
		cut = fmt.Sprintf("\n[%d more bytes not shown]", len(m.Text)-len(raw))
	}
	text := ansi.Wrap(sanitize.Text(raw)+cut, textW, " -")
	parts := strings.Split(text, "\n")
	meta := c.meta(m)
	lines := make([]string, len(parts))
	indent := strings.Repeat(" ", timeWidth+authorWidth)
	for i, p := range parts {
		body := st.Body.Render(pad(p, textW))
		if i == 0 {
			lines[i] = stamp + author + body + " " + meta
		} else {
			lines[i] = indent + body
		}
	}
	return lines
}

// meta is the delivery state of an outgoing message and the countdown of a
// disappearing one, metaWidth cells wide.
func (c *chatScreen) meta(m *sotto.Message) string {
	st := c.s.st
	state := "  "
	if m.Dir == sotto.Outgoing {
		switch m.State {
		case sotto.Pending:
			state = st.Subtle.Render("◌ ")
		case sotto.Sent:
			state = st.Subtle.Render("✓ ")
		case sotto.Delivered:
			state = st.OK.Render("✓✓")
		}
	}
	left := ""
	switch {
	case m.Unshown:
		left = st.Timer.Render("⏱" + shortDuration(m.Timer)) // its clock starts once shown
	case !m.ExpiresAt.IsZero():
		left = st.Timer.Render("⏱" + shortDuration(m.ExpiresAt.Sub(c.s.now)))
	}
	return state + " " + pad(left, metaWidth-3)
}

func (c *chatScreen) systemText(m *sotto.Message) string {
	what := "turned disappearing messages off"
	if m.Timer > 0 {
		what = "set messages to disappear after " + longDuration(m.Timer)
	}
	if m.Superseded {
		// It never took effect: a later change was in force (§2.9).
		what += " (not applied: a later change was already in force)"
	}
	by := m.Dir
	if by == sotto.System && m.Kind == sotto.TimerMessage {
		by = m.By // the engine's timer lines are System lines; By says who
	}
	switch by {
	case sotto.Outgoing:
		return "you " + what
	case sotto.Incoming:
		return sanitize.Line(m.Contact) + " " + what
	}
	if m.Kind != sotto.TimerMessage {
		return sanitize.Line(m.Text)
	}
	if m.Timer > 0 {
		return "messages now disappear after " + longDuration(m.Timer)
	}
	return "disappearing messages are off"
}

// clock formats a message time: the time of day for today, else the date.
func clock(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.In(t.Location()).Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return t.Format("15:04")
	}
	return t.Format("Jan02")
}

// shortDuration formats a duration in at most 6 cells, two units at most
// and only as precise as a countdown needs: 42s, 4m12s, 50m, 3h20m, 2d5h, 4w.
func shortDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	const day, week = 24 * time.Hour, 7 * 24 * time.Hour
	two := func(a int, ua string, b int, ub string) string {
		if b == 0 {
			return fmt.Sprintf("%d%s", a, ua)
		}
		return fmt.Sprintf("%d%s%d%s", a, ua, b, ub)
	}
	s := int(d.Round(time.Second) / time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", s)
	case d < 10*time.Minute:
		return two(s/60, "m", s%60, "s")
	case d < time.Hour:
		return fmt.Sprintf("%dm", s/60)
	case d < day:
		return two(s/3600, "h", s%3600/60, "m")
	case d < week:
		return two(s/86400, "d", s%86400/3600, "h")
	}
	return two(s/604800, "w", s%604800/86400, "d")
}

// longDuration names a timer setting in words.
func longDuration(d time.Duration) string {
	for _, p := range timerPresets {
		if p.d == d {
			return p.name
		}
	}
	return d.String()
}
