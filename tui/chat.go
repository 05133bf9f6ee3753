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
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/tui/sanitize"
)

// Layout of a conversation row: "15:04 " then the author column, the
// delivery mark and the countdown, then the text. The marks come before
// the text so that text the terminal draws wider or narrower than Unicode
// says (emoji joined by zero-width joiners, flags, variation selectors)
// cannot push them out of their column.
const (
	timeWidth   = 6
	authorWidth = 10
	metaWidth   = 11 // "✓✓ ⏱4m12s "
	textIndent  = timeWidth + authorWidth + metaWidth
	composerH   = 3
)

// The composer's limits. A message holds at most sotto.MaxText bytes of
// UTF-8 (the protocol's limit); the composer takes up to maxDraftBytes and
// sends a longer text, once the person confirms, as numbered parts.
const (
	// maxDraftBytes bounds a draft: four messages' worth.
	maxDraftBytes = 4 * sotto.MaxText
	// maxDraftLines bounds the lines of a draft (the text area keeps at
	// most 10,000 and would drop the rest without a word).
	maxDraftLines = 5000
	// counterFrom is where the composer starts to show the byte count.
	counterFrom = sotto.MaxText * 3 / 4
	// partMarkRoom is what a part's "(k/n) " mark may take of a message.
	partMarkRoom = 10
)

// chatScreen is a conversation: the rows that fit above a multi-line
// composer. Only the visible messages are rendered; their wrapped text is
// cached per width.
type chatScreen struct {
	s      *shared
	msgs   []sotto.Message
	scroll int // rows hidden below the view (0: at the bottom)
	ta     textarea.Model
	with   [2]string            // identity and contact of the draft in ta
	drafts map[[2]string]string // drafts of the other conversations
	// draftBytes and draftLines measure the text in ta.
	draftBytes, draftLines int
	// split holds the parts of a text longer than one message while the
	// person confirms sending it as several.
	split   []string
	loaded  bool
	wrapped map[sotto.MessageID]wrapped
	w, h    int
	files   map[sotto.MessageID]sotto.FileInfo // files of the conversation (files.go)
}

// wrapped is a message's text, cleaned and wrapped to w cells.
type wrapped struct {
	w     int
	lines []string
}

func newChat(s *shared) *chatScreen {
	return &chatScreen{s: s, ta: newComposer(s), drafts: map[[2]string]string{}, wrapped: map[sotto.MessageID]wrapped{}}
}

// newComposer returns an empty composer. Its limits are the screen's own
// (maxDraftBytes, maxDraftLines): the text area's would cut a paste
// without a word.
func newComposer(s *shared) textarea.Model {
	ta := textarea.New()
	ta.ShowLineNumbers = false
	ta.Prompt = "┃ "
	ta.Placeholder = fmt.Sprintf("Write a message (up to %s bytes)", thousands(sotto.MaxText))
	ta.CharLimit = 0
	ta.MaxHeight = 0
	ta.SetHeight(composerH)
	ta.KeyMap.InsertNewline = s.keys.Newline
	ta.KeyMap.DeleteBeforeCursor.SetEnabled(false) // ctrl+u clears the whole draft
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

// draft reports whether any conversation has unsent text.
func (c *chatScreen) draft() bool { return c.draftBytes > 0 || len(c.drafts) > 0 }

func (c *chatScreen) wipe() {
	clear(c.msgs) // drop the references to every decrypted text
	c.msgs, c.scroll, c.loaded, c.split = nil, 0, false, nil
	clear(c.drafts)
	clear(c.wrapped)
	c.newComposer()
	c.with = [2]string{}
}

// newComposer replaces the composer: Reset would leave the draft in the
// text area's cache of wrapped lines.
func (c *chatScreen) newComposer() {
	c.ta = newComposer(c.s)
	c.ta.SetWidth(c.w)
	c.ta.Focus()
	c.draftBytes, c.draftLines = 0, 0
}

func (c *chatScreen) enter() tea.Cmd {
	ct := c.s.contact
	if k := [2]string{c.s.identity, ct.Name}; c.with != k {
		// Another conversation: keep this draft for when the person comes
		// back, and take up that one's.
		if c.with != ([2]string{}) && c.draftBytes > 0 {
			c.drafts[c.with] = c.ta.Value()
		}
		c.newComposer()
		if d, ok := c.drafts[k]; ok {
			c.ta.SetValue(d)
			delete(c.drafts, k)
			c.measure()
		}
		c.with = k
	}
	clear(c.msgs)
	c.msgs, c.loaded, c.scroll, c.split = nil, false, 0, nil
	c.ta.Focus()
	return tea.Batch(loadMessages(c.s.eng, c.s.identity, ct.Name), markRead(c.s.eng, c.s.identity, ct.Name))
}

func (c *chatScreen) ShortHelp() []key.Binding {
	k := c.s.keys
	if c.split != nil {
		return []key.Binding{withHelp(k.Send, "enter", fmt.Sprintf("send as %d messages", len(c.split))), withHelp(k.Back, "esc", "edit")}
	}
	return []key.Binding{k.Send, withHelp(k.Newline, "alt+⏎", "newline"), withHelp(k.PageUp, "pgup/dn", "scroll"), withHelp(k.ChatSetup, "ctrl+t", "timer"), k.Back}
}
func (c *chatScreen) FullHelp() [][]key.Binding {
	return [][]key.Binding{c.ShortHelp(), {fileKeys.Attach, fileKeys.Accept, fileKeys.Cancel}} // files.go
}

func (c *chatScreen) mine(identity, contact string) bool {
	return identity == c.s.identity && contact == c.s.contact.Name
}

// measure counts the bytes and lines of the draft.
func (c *chatScreen) measure() {
	v := c.ta.Value()
	c.draftBytes, c.draftLines = len(v), strings.Count(v, "\n")+1
	if v == "" {
		c.draftLines = 0
	}
}

func (c *chatScreen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if cmd, ok := c.fileUpdate(msg); ok { // files.go
		return c, cmd
	}
	switch msg := msg.(type) {
	case messagesMsg:
		if !c.mine(msg.identity, msg.contact) {
			return c, nil
		}
		if msg.err != nil {
			return c, func() tea.Msg { return errMsg{msg.err} }
		}
		c.msgs, c.loaded = msg.list, true
		c.prune()
		c.scroll = min(c.scroll, c.maxScroll())
		return c, tea.Batch(c.showVisible(), loadFiles(c.s.eng, msg.identity, msg.contact)) // files.go
	case shownMsg:
		return c, c.onShown(msg)
	case contactsMsg:
		c.s.updateContact(msg)
	case sentMsg:
		if msg.err != nil {
			cmd := c.unsent(msg)
			if msg.sent > 0 && c.mine(msg.identity, msg.contact) {
				cmd = tea.Batch(cmd, loadMessages(c.s.eng, msg.identity, msg.contact))
			}
			return c, cmd
		}
		if c.mine(msg.identity, msg.contact) {
			return c, loadMessages(c.s.eng, msg.identity, msg.contact)
		}
	case doneMsg:
		return c, tea.Batch(loadMessages(c.s.eng, c.s.identity, c.s.contact.Name), loadContacts(c.s.eng, c.s.identity))
	case eventMsg:
		return c, c.onEvent(msg.ev)
	case tea.KeyMsg:
		return c, c.onKey(msg)
	}
	return c, nil
}

func (c *chatScreen) onKey(msg tea.KeyMsg) tea.Cmd {
	k := c.s.keys
	if c.split != nil {
		switch {
		case key.Matches(msg, k.Send):
			parts := c.split
			c.split = nil
			return c.sendParts(parts)
		case key.Matches(msg, k.Back):
			c.split = nil
			return nil
		}
		c.split = nil // any other key goes back to editing
	}
	switch {
	case key.Matches(msg, k.Back):
		return nav(c.s.chatFrom)
	case key.Matches(msg, k.ChatSetup):
		c.s.returnTo = pageChat
		return nav(pageSettings)
	case key.Matches(msg, k.PageUp):
		c.scroll = min(c.scroll+c.page(), c.maxScroll())
		return c.showVisible()
	case key.Matches(msg, k.PageDown):
		c.scroll = max(c.scroll-c.page(), 0)
		return c.showVisible()
	case key.Matches(msg, k.ClearInput):
		if c.draftBytes > 0 {
			c.newComposer()
			return info("draft cleared")
		}
		return nil
	case key.Matches(msg, k.Send) && !msg.Alt && !msg.Paste:
		text := trimDraft(c.ta.Value())
		switch {
		case text == "":
			return nil
		case len(text) > sotto.MaxText:
			c.split = splitText(text, sotto.MaxText-partMarkRoom)
			return nil
		}
		if cmd := c.fileCommand(text); cmd != nil { // "/attach PATH", "/save PATH"... (files.go)
			c.newComposer()
			return cmd
		}
		c.newComposer()
		c.scroll = 0
		return c.sendParts([]string{text})
	}
	if err := c.fits(msg); err != "" {
		return func() tea.Msg { return errMsg{fmt.Errorf("%s", err)} }
	}
	var cmd tea.Cmd
	c.ta, cmd = c.ta.Update(msg)
	c.measure()
	return cmd
}

// fits checks that a key leaves the draft within its limits; it returns
// what to tell the person when it does not.
func (c *chatScreen) fits(msg tea.KeyMsg) string {
	add, lines := 0, 0
	switch {
	case msg.Type == tea.KeyRunes:
		for _, r := range msg.Runes {
			add += len(string(r))
			if r == '\n' {
				lines++
			}
		}
	case msg.Type == tea.KeySpace:
		add = 1
	case key.Matches(msg, c.s.keys.Newline):
		add, lines = 1, 1
	default:
		return ""
	}
	what := "that key was not added"
	if msg.Paste {
		what = "nothing was pasted"
	}
	switch {
	case c.draftBytes+add > maxDraftBytes:
		return fmt.Sprintf("%s: the draft would hold %s bytes; Sotto sends at most %s at once (%d messages)",
			what, thousands(c.draftBytes+add), thousands(maxDraftBytes), maxDraftBytes/sotto.MaxText)
	case c.draftLines+lines > maxDraftLines:
		return fmt.Sprintf("%s: the draft would have %s lines; it holds at most %s", what, thousands(c.draftLines+lines), thousands(maxDraftLines))
	}
	return ""
}

// sendParts sends a text, or the parts of a long one marked (1/n)…(n/n),
// in order, in one command.
func (c *chatScreen) sendParts(parts []string) tea.Cmd {
	c.newComposer()
	c.scroll = 0
	ctx, e, id, ct := c.s.ctx, c.s.eng, c.s.identity, c.s.contact.Name
	return func() tea.Msg {
		for i, p := range parts {
			text := p
			if len(parts) > 1 {
				text = fmt.Sprintf("(%d/%d) %s", i+1, len(parts), p)
			}
			mid, err := e.Send(ctx, id, ct, text)
			if err != nil {
				return sentMsg{identity: id, contact: ct, err: err, unsent: strings.Join(parts[i:], ""), sent: i, of: len(parts)}
			}
			if i == len(parts)-1 {
				return sentMsg{identity: id, contact: ct, id: mid, sent: len(parts), of: len(parts)}
			}
		}
		return nil
	}
}

// unsent puts the text a failed send did not send back into its
// conversation's draft, and says so.
func (c *chatScreen) unsent(msg sentMsg) tea.Cmd {
	k := [2]string{msg.identity, msg.contact}
	if c.with == k {
		v := msg.unsent
		if cur := c.ta.Value(); cur != "" {
			v += "\n" + cur
		}
		c.newComposer()
		c.ta.SetValue(v)
		c.measure()
	} else {
		c.drafts[k] = msg.unsent + c.drafts[k]
	}
	what := "not sent"
	if msg.of > 1 {
		what = fmt.Sprintf("%d of %d parts sent, the rest not", msg.sent, msg.of)
	}
	err := fmt.Errorf("%s (%s); the text is back in the composer", what, errText(msg.err))
	return func() tea.Msg { return errMsg{err} }
}

// trimDraft drops blank lines and white space at the start and the end of
// a draft, and keeps the first line's indentation.
func trimDraft(s string) string {
	s = strings.TrimRight(s, " \t\n")
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 || strings.TrimSpace(s[:i]) != "" {
			break
		}
		s = s[i+1:]
	}
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return s
}

func (c *chatScreen) onEvent(ev sotto.Event) tea.Cmd {
	if c.onFileEvent(ev) { // files.go
		return nil
	}
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
			c.scroll += c.height(&c.msgs[len(c.msgs)-1]) // keep the view where the reader is
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
			delete(c.wrapped, ev.ID)
			c.scroll = min(c.scroll, c.maxScroll())
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

// prune drops the cached wrapping of messages no longer loaded.
func (c *chatScreen) prune() {
	if len(c.wrapped) == 0 {
		return
	}
	keep := make(map[sotto.MessageID]bool, len(c.msgs))
	for i := range c.msgs {
		keep[c.msgs[i].ID] = true
	}
	for id := range c.wrapped {
		if !keep[id] {
			delete(c.wrapped, id)
		}
	}
}

// listHeight is the number of rows for messages: the body minus the
// conversation header, the rule and the composer.
func (c *chatScreen) listHeight() int { return max(c.h-2-composerH, 1) }

// page is how far PgUp and PgDn move: a screen of rows less one, so that
// one row stays in view for the eye to follow.
func (c *chatScreen) page() int { return max(c.listHeight()-1, 1) }

// maxScroll is how far up the view can go: until the first row of the
// oldest message is the top row.
func (c *chatScreen) maxScroll() int {
	h := c.listHeight()
	total := 0
	for i := len(c.msgs) - 1; i >= 0 && total < c.scroll+c.page()+h; i-- {
		total += c.height(&c.msgs[i])
	}
	return max(total-h, 0)
}

// shown reports whether a message is drawn: one whose time ran out is not,
// even before the engine's event says so.
func (c *chatScreen) shown(m *sotto.Message) bool {
	return m.ExpiresAt.IsZero() || c.s.now.Before(m.ExpiresAt)
}

// height is the number of rows a message takes (0 when not shown).
func (c *chatScreen) height(m *sotto.Message) int {
	switch {
	case !c.shown(m):
		return 0
	case m.Kind == sotto.TimerMessage || m.Dir == sotto.System:
		return len(c.systemLines(m, c.w))
	}
	return len(c.body(m, c.textWidth()))
}

// systemLines is a timer or notice line's text wrapped to fit between
// "── " and " ──" after the time column of a screen w cells wide: a notice
// ("… ran out unread") or a change that was not applied must not lose its
// end to a narrow screen.
func (c *chatScreen) systemLines(m *sotto.Message, w int) []string {
	return strings.Split(ansi.Wrap(c.systemText(m), max(w-timeWidth-6, 10), " -"), "\n")
}

// textWidth is the width of a message's text column.
func (c *chatScreen) textWidth() int { return max(c.w-textIndent-1, 10) }

// window returns the h rows of the view, c.scroll rows above the bottom
// (fewer when the conversation is shorter), and how many messages start
// below them. Only the messages in view are rendered; the others are only
// measured, from the cache of wrapped text.
func (c *chatScreen) window(h int) (rows []string, newer int) {
	bottom := 0 // rows from the bottom of the conversation to the bottom of message i
	first, last := -1, -1
	skipTop, skipBottom := 0, 0
	for i := len(c.msgs) - 1; i >= 0 && bottom < c.scroll+h; i-- {
		n := c.height(&c.msgs[i])
		if n == 0 {
			continue
		}
		top := bottom + n
		switch {
		case top <= c.scroll:
			newer++
		default:
			if last < 0 {
				last = i
				skipBottom = max(c.scroll-bottom, 0)
			}
			first = i
			skipTop = max(top-(c.scroll+h), 0)
		}
		bottom = top
	}
	if first < 0 {
		return nil, newer
	}
	for i := first; i <= last; i++ {
		if c.shown(&c.msgs[i]) {
			rows = append(rows, c.render(&c.msgs[i], c.w)...)
		}
	}
	return rows[skipTop : len(rows)-skipBottom], newer
}

func (c *chatScreen) View() string {
	st := c.s.st
	ct := c.s.contact
	h := c.listHeight()
	rows, newer := c.window(h)
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
	switch {
	case newer > 0:
		head = append(head, st.Unread.Render(fmt.Sprintf("↓ %d newer (pgdn)", newer)))
	case c.scroll > 0:
		head = append(head, st.Unread.Render("↓ more below (pgdn)"))
	}
	var b strings.Builder
	b.WriteString(strings.Join(head, "  "))
	b.WriteByte('\n')
	for i := 0; i < h-len(rows); i++ {
		if c.loaded && len(c.msgs) == 0 && i == h/2-1 {
			b.WriteString(st.Subtle.Render("  No messages yet. Messages to " + sanitize.Line(ct.Name) + " wait in the outbox while they are offline."))
		}
		b.WriteByte('\n')
	}
	for _, l := range rows {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	b.WriteString(c.rule())
	b.WriteByte('\n')
	b.WriteString(c.ta.View())
	return b.String()
}

// rule is the line above the composer: the byte count near the limit, or
// the question before a long text is sent in parts.
func (c *chatScreen) rule() string {
	st := c.s.st
	w := max(c.w, 1)
	var note string
	switch {
	case c.split != nil:
		n := len(c.split)
		marks := fmt.Sprintf("(1/%d) and (2/2)", n)
		if n > 2 {
			marks = fmt.Sprintf("(1/%d)…(%d/%d)", n, n, n)
		}
		note = st.Warn.Render(fmt.Sprintf(" %s bytes > %s: enter sends it as %d messages, %s ", thousands(c.draftBytes), thousands(sotto.MaxText), n, marks))
	case c.draftBytes > sotto.MaxText:
		note = st.Error.Render(fmt.Sprintf(" %s / %s bytes: too long for one message; enter offers to send it in parts ", thousands(c.draftBytes), thousands(sotto.MaxText)))
	case c.draftBytes >= counterFrom:
		note = st.Warn.Render(fmt.Sprintf(" %s / %s bytes ", thousands(c.draftBytes), thousands(sotto.MaxText)))
	case c.draftLines > composerH:
		note = st.Subtle.Render(fmt.Sprintf(" %d lines ", c.draftLines))
	}
	if note != "" && lipgloss.Width(note)+2 > w {
		note = ansi.Truncate(note, w-2, "…")
	}
	return st.Subtle.Render(strings.Repeat("─", max(w-lipgloss.Width(note)-1, 0))) + note + st.Subtle.Render(strings.Repeat("─", min(1, w-lipgloss.Width(note))))
}

// render renders one message as rows of width w.
func (c *chatScreen) render(m *sotto.Message, w int) []string {
	st := c.s.st
	stamp := st.Time.Render(pad(clock(m.At, c.s.now), timeWidth))
	if m.Kind == sotto.TimerMessage || m.Dir == sotto.System {
		parts := c.systemLines(m, w)
		lines := make([]string, len(parts))
		for i, p := range parts {
			lead, end := "── ", ""
			if i > 0 {
				stamp, lead = strings.Repeat(" ", timeWidth), "   "
			}
			if i == len(parts)-1 {
				end = " ──"
			}
			lines[i] = stamp + st.System.Render(lead+p+end)
		}
		return lines
	}
	var author string
	if m.Dir == sotto.Outgoing {
		author = st.Me.Render(pad("you", authorWidth))
	} else {
		author = st.Peer.Render(pad(sanitize.Line(m.Contact), authorWidth))
	}
	body := c.body(m, c.textWidth())
	lines := make([]string, len(body))
	indent := strings.Repeat(" ", textIndent)
	for i, p := range body {
		if i == 0 {
			lines[i] = stamp + author + c.meta(m) + st.Body.Render(p)
		} else {
			lines[i] = indent + st.Body.Render(p)
		}
	}
	return lines
}

// body returns a message's text, cleaned and wrapped to w cells, from the
// cache when it was wrapped to w before. Every byte that arrived is shown.
func (c *chatScreen) body(m *sotto.Message, w int) []string {
	if m.Kind == sotto.FileMessage { // its state changes: never cached (files.go)
		return strings.Split(ansi.Wrap(sanitize.Text(c.fileText(m)), w, " -"), "\n")
	}
	if x, ok := c.wrapped[m.ID]; ok && x.w == w {
		return x.lines
	}
	lines := strings.Split(ansi.Wrap(sanitize.Text(m.Text), w, " -"), "\n")
	c.wrapped[m.ID] = wrapped{w, lines}
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
		d := m.ExpiresAt.Sub(c.s.now)
		if m.Timer > 0 {
			// The clock runs out on the second after (§2.9): never show
			// more than the timer itself (31s for a 30-second timer).
			d = min(d, m.Timer)
		}
		left = st.Timer.Render("⏱" + shortDuration(d))
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

// thousands writes n with a comma between groups of three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
