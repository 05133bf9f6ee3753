package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/term"
	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/tui/keymap"
	"github.com/sottochat/sotto/tui/sanitize"
	"github.com/sottochat/sotto/tui/styles"
)

// Component is one screen: a Bubble Tea model, a help.KeyMap and SetSize.
type Component interface {
	tea.Model
	help.KeyMap
	SetSize(width, height int)
}

// screen is a Component the root model drives.
type screen interface {
	Component
	// enter is called when the screen becomes active; it returns the
	// commands that load its data.
	enter() tea.Cmd
	// typing reports whether printable keys go to a text field.
	typing() bool
	// wipe drops decrypted text and typed input (lock, panic, quit).
	wipe()
}

type page int

const (
	pageNone page = iota
	pageLoading
	pageCreate
	pageUnlock
	pageIdentities
	pageContacts
	pageChat
	pageAdd
	pageVerify
	pageSettings
	pageRequests
	pageConversations
	pageCount
)

// where is a place in the UI: the page and whose it is. Locking keeps it
// (names only, nothing decrypted) so that unlocking lands there again.
type where struct {
	page               page
	identity           string
	identityOpen       bool
	contact            sotto.ContactInfo
	returnTo, chatFrom page
}

// shared is the state every screen reads: the engine, the keys and styles,
// the clock, and the current identity and contact.
type shared struct {
	ctx      context.Context
	prof     Profile
	eng      Engine
	keys     keymap.KeyMap
	st       styles.Styles
	now      time.Time // time of the latest tick
	identity string
	// amnesic: Config.Amnesic (the profile lives in memory only).
	amnesic bool
	// identityOpen: the current identity is in open mode (takes requests).
	identityOpen bool
	contact      sotto.ContactInfo
	// returnTo is where Back goes from the settings screen.
	returnTo page
	// chatFrom is where Back goes from a conversation.
	chatFrom page
	width    int
	height   int
}

// updateContact refreshes the current contact from a reloaded list.
func (s *shared) updateContact(msg contactsMsg) {
	if msg.err != nil || msg.identity != s.identity {
		return
	}
	for _, c := range msg.list {
		if c.Name == s.contact.Name {
			s.contact = c
			return
		}
	}
}

// Model is the root model of the UI.
type Model struct {
	s          *shared
	label      string // Config.Label, on every screen
	page       page
	screens    [pageCount]screen
	help       help.Model
	showHelp   bool
	helpTop    int // first line of the help shown
	tor        sotto.TorStatus
	status     string
	statusErr  bool
	panicAt    time.Time // when the panic key armed the wipe; zero when not armed
	panicTyped int       // letters of the panic word typed so far
	quitAsk    bool      // ctrl+c with unsent text: waiting for y
	resume     where     // where the person was when the UI locked
	lastKey    time.Time
	idle       time.Duration
	locked     bool
	quitting   bool
	err        error // returned by Run
	panicWord  string
	background bool // run the tick and the event reader (off in tests)
}

// New returns the root model for a profile. now is the clock (nil: time.Now).
func New(ctx context.Context, p Profile, c Config, now func() time.Time) *Model {
	if now == nil {
		now = time.Now
	}
	idle := c.IdleLock
	if idle == 0 {
		idle = DefaultIdleLock
	}
	keys := keymap.Default()
	keys.SetPanic(c.panicKey())
	s := &shared{ctx: ctx, prof: p, keys: keys, st: styles.Default(), now: now(), width: 80, height: 24, chatFrom: pageContacts, amnesic: c.Amnesic}
	m := &Model{s: s, page: pageLoading, idle: idle, lastKey: s.now, background: true, panicWord: c.panicWord(), label: sanitize.Line(c.Label)}
	m.help = help.New()
	m.help.ShortSeparator = " · "
	m.help.Styles.ShortKey = s.st.HelpKey
	m.help.Styles.ShortDesc = s.st.HelpDesc
	m.help.Styles.ShortSeparator = s.st.HelpDesc
	m.screens[pageLoading] = newLoading(s)
	m.screens[pageCreate] = newCreate(s)
	m.screens[pageUnlock] = newUnlock(s)
	m.screens[pageIdentities] = newIdentities(s)
	m.screens[pageContacts] = newContacts(s)
	m.screens[pageChat] = newChat(s)
	m.screens[pageAdd] = newAddContact(s)
	m.screens[pageVerify] = newVerify(s)
	m.screens[pageSettings] = newSettings(s)
	m.screens[pageRequests] = newRequests(s)
	m.screens[pageConversations] = newConvs(s)
	m.resize(80, 24)
	return m
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{tea.SetWindowTitle("sotto"), checkProfile(m.s.prof)}
	if m.background {
		cmds = append(cmds, tick())
	}
	return tea.Batch(cmds...)
}

func (m *Model) active() screen { return m.screens[m.page] }

// Update implements tea.Model. It does no I/O.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
		return m, nil
	case tickMsg:
		return m, m.onTick(time.Time(msg))
	case tea.KeyMsg:
		return m, m.onKey(msg)
	case eventMsg:
		return m, m.onEvent(msg.ev)
	case eventsClosedMsg:
		if m.s.eng != nil && !m.quitting {
			m.setError(errors.New("the engine stopped; quit and start Sotto again"))
		}
		return m, nil
	case navMsg:
		return m, m.goTo(msg.to)
	case profileCheckedMsg:
		if msg.err != nil {
			m.setError(msg.err)
		}
		if msg.exists {
			return m, m.goTo(pageUnlock)
		}
		return m, m.goTo(pageCreate)
	case openedMsg:
		if errors.Is(msg.err, errNoProfile) && m.page == pageUnlock {
			m.setInfo("there is no profile in this directory yet: create one")
			return m, m.goTo(pageCreate)
		}
		if msg.err != nil {
			break // the create/unlock screen shows it
		}
		m.s.eng = msg.eng
		m.tor = msg.eng.TorStatus()
		m.lastKey = m.s.now
		m.status = ""
		var cmds []tea.Cmd
		if m.background {
			cmds = append(cmds, waitEvent(msg.eng.Events()))
		}
		m.screens[pageConversations].(*convsScreen).landing = true
		cmds = append(cmds, m.goTo(pageConversations))
		return m, tea.Batch(cmds...)
	case unlockedMsg:
		if msg.err == nil && m.locked {
			m.locked = false
			m.lastKey = m.s.now
			m.status = ""
			_, cmd := m.active().Update(msg)
			return m, tea.Batch(cmd, m.back())
		}
	case panicDoneMsg:
		if msg.err != nil {
			m.err = fmt.Errorf("panic wipe: %w", msg.err)
		}
		return m, tea.Quit
	case sentMsg:
		// To the conversation screen wherever the person is now: a failed
		// send gives its text back to its draft.
		if !m.locked {
			_, cmd := m.screens[pageChat].Update(msg)
			return m, cmd
		}
		return m, nil
	case errMsg:
		m.setError(msg.err)
		return m, nil
	case infoMsg:
		m.setInfo(string(msg))
		return m, nil
	case doneMsg:
		if msg.err != nil {
			m.setError(msg.err)
		} else if msg.info != "" {
			m.setInfo(msg.info)
		}
		var cmds []tea.Cmd
		if msg.err == nil && msg.then != pageNone {
			cmds = append(cmds, m.goTo(msg.then))
		}
		_, cmd := m.active().Update(msg)
		return m, tea.Batch(append(cmds, cmd)...)
	}
	if m.locked && !isUnlockMsg(msg) {
		return m, nil
	}
	_, cmd := m.active().Update(msg)
	return m, cmd
}

// isUnlockMsg reports whether msg is meant for the lock screen.
func isUnlockMsg(msg tea.Msg) bool {
	switch msg.(type) {
	case unlockedMsg, tea.KeyMsg:
		return true
	}
	return false
}

func (m *Model) goTo(p page) tea.Cmd {
	if m.locked && p != pageUnlock {
		return nil
	}
	m.page = p
	m.showHelp = false
	return m.active().enter()
}

func (m *Model) resize(w, h int) {
	m.s.width, m.s.height = w, h
	m.help.Width = w
	for _, sc := range m.screens {
		if sc != nil {
			sc.SetSize(w, m.bodyHeight())
		}
	}
}

// bodyHeight is the height left for a screen: the header, the status line
// and the key line take one row each.
func (m *Model) bodyHeight() int { return max(m.s.height-3, 1) }

func (m *Model) onTick(t time.Time) tea.Cmd {
	m.s.now = t
	var cmds []tea.Cmd
	if m.background {
		cmds = append(cmds, tick())
	}
	if !m.panicAt.IsZero() && t.Sub(m.panicAt) > PanicWindow {
		m.panicAt, m.panicTyped = time.Time{}, 0
		m.setInfo("panic cancelled: nothing was wiped")
	}
	if m.idle > 0 && m.s.eng != nil && !m.locked && t.Sub(m.lastKey) >= m.idle {
		cmds = append(cmds, m.lock("locked after being idle"))
	}
	if !m.locked {
		_, cmd := m.active().Update(tickMsg(t))
		cmds = append(cmds, cmd)
	}
	return tea.Batch(cmds...)
}

func (m *Model) onKey(k tea.KeyMsg) tea.Cmd {
	keys := m.s.keys
	m.lastKey = m.s.now
	if !m.panicAt.IsZero() {
		return m.panicKey(k)
	}
	if key.Matches(k, keys.Panic) {
		m.panicAt, m.panicTyped = m.s.now, 0
		m.quitAsk = false
		return nil
	}
	if m.quitAsk {
		m.quitAsk = false
		if k.Type == tea.KeyRunes && !k.Paste && (string(k.Runes) == "y" || string(k.Runes) == "Y") {
			return m.quit()
		}
		m.setInfo("nothing was discarded")
		return nil
	}
	if k.Paste {
		// A terminal sends a pasted line break as CR (or CR LF); the
		// text fields take LF.
		r := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(k.Runes))
		k.Runes = []rune(r)
	}
	switch {
	case key.Matches(k, keys.Quit):
		if m.s.eng != nil && !m.locked && m.unsent() {
			m.quitAsk = true
			return nil
		}
		return m.quit()
	case key.Matches(k, keys.Lock):
		if m.s.eng != nil && !m.locked {
			return m.lock("locked")
		}
		return nil
	case key.Matches(k, keys.Convs) && m.s.eng != nil && !m.locked && (k.Type != tea.KeyRunes || !m.active().typing()):
		m.quitAsk = false
		return m.goTo(pageConversations)
	case key.Matches(k, keys.Help) && (k.Type != tea.KeyRunes || !m.active().typing()):
		m.showHelp = !m.showHelp
		m.helpTop = 0
		return nil
	}
	if m.showHelp {
		rows := len(m.helpLines()) - m.helpRows()
		switch {
		case key.Matches(k, keys.Back):
			m.showHelp = false
		case key.Matches(k, keys.Up):
			m.helpTop = max(m.helpTop-1, 0)
		case key.Matches(k, keys.Down):
			m.helpTop = min(m.helpTop+1, max(rows, 0))
		case key.Matches(k, keys.PageUp):
			m.helpTop = max(m.helpTop-m.helpRows()+1, 0)
		case key.Matches(k, keys.PageDown):
			m.helpTop = min(m.helpTop+m.helpRows()-1, max(rows, 0))
		}
		return nil
	}
	if m.statusErr || m.status != "" {
		m.status, m.statusErr = "", false
	}
	if k.Type == tea.KeyRunes && !k.Paste && string(k.Runes) == "q" && !m.active().typing() {
		m.setInfo("q does nothing here: ctrl+c quits, esc goes back")
		return nil
	}
	if k.Type == tea.KeyCtrlV && m.active().typing() {
		m.setInfo(pasteHint)
		return nil
	}
	if k.Type == tea.KeyRunes && m.page != pageCreate && m.page != pageUnlock {
		// Typed or pasted text is cleaned like a peer's: a paste from a
		// hostile page must not carry escape or bidi characters into the
		// composer, a name or a code. (Passphrase keys are left alone: a
		// string copy of them could not be wiped; the field drops
		// non-printable runes itself.)
		k.Runes = []rune(sanitize.Text(string(k.Runes)))
	}
	_, cmd := m.active().Update(k)
	return cmd
}

// back returns to where the person was when the UI locked.
func (m *Model) back() tea.Cmd {
	r := m.resume
	m.resume = where{}
	if r.page == pageNone {
		r.page = pageConversations
	}
	m.s.identity, m.s.identityOpen, m.s.contact = r.identity, r.identityOpen, r.contact
	m.s.returnTo, m.s.chatFrom = r.returnTo, r.chatFrom
	return m.goTo(r.page)
}

// panicKey handles a key while the panic wipe is armed: the letters of
// the panic word, in order, wipe; esc or ctrl+c cancel without doing
// anything else; the panic key again keeps the panel (and its time) as it
// is new; any other key starts the word again. A key hit by reflex (the
// panic key again and again, enter, ctrl+c, esc) never wipes, and the
// panel does not flicker on and off under a hammered key.
func (m *Model) panicKey(k tea.KeyMsg) tea.Cmd {
	word := []rune(m.panicWord)
	switch {
	case k.Type == tea.KeyEsc, k.Type == tea.KeyCtrlC:
		m.panicAt, m.panicTyped = time.Time{}, 0
		m.setInfo("panic cancelled: nothing was wiped")
		return nil
	case key.Matches(k, m.s.keys.Panic):
		m.panicAt, m.panicTyped = m.s.now, 0
		return nil
	case k.Type == tea.KeyRunes && !k.Paste:
		// Letters typed fast can come in one message: each counts. A
		// paste never does (a clipboard holding the word, pasted by
		// reflex, must not wipe).
		for _, r := range k.Runes {
			if m.panicTyped < len(word) && unicode.ToLower(r) == unicode.ToLower(word[m.panicTyped]) {
				m.panicTyped++
			} else {
				m.panicTyped = 0
			}
			if m.panicTyped == len(word) {
				return m.panic()
			}
		}
		return nil
	}
	m.panicTyped = 0
	return nil
}

// unsent reports whether the person typed text and has not sent or saved
// it: a draft in any conversation (drafts are kept per conversation), or
// a half-filled form on the screen in front of them (a form left is
// emptied when it is opened again).
func (m *Model) unsent() bool {
	for _, sc := range []screen{m.screens[pageChat], m.active()} {
		if d, ok := sc.(interface{ draft() bool }); ok && d.draft() {
			return true
		}
	}
	return false
}

// pasteHint answers ctrl+v in a text field: Sotto never reads the
// clipboard itself (see noClipboard).
const pasteHint = "Sotto does not read the clipboard: paste with your terminal (ctrl+shift+v, shift+insert or the middle button)"

// lock drops every decrypted string from the model, clears the screen and
// asks for the passphrase again.
func (m *Model) lock(why string) tea.Cmd {
	m.resume = where{page: m.page, identity: m.s.identity, identityOpen: m.s.identityOpen, contact: m.s.contact,
		returnTo: m.s.returnTo, chatFrom: m.s.chatFrom}
	if m.page < pageIdentities {
		m.resume.page = pageConversations
	}
	m.wipeAll()
	m.locked = true
	m.showHelp = false
	m.quitAsk = false
	m.page = pageUnlock
	u := m.screens[pageUnlock].(*unlockScreen)
	u.locked = true
	m.setInfo(why)
	return tea.Batch(tea.ClearScreen, u.enter())
}

func (m *Model) wipeAll() {
	for _, sc := range m.screens {
		if sc != nil {
			sc.wipe()
		}
	}
	m.s.identity = ""
	m.s.contact = sotto.ContactInfo{}
}

func (m *Model) quit() tea.Cmd {
	m.wipeAll()
	m.quitting = true
	return tea.Batch(tea.ClearScreen, tea.Quit)
}

func (m *Model) panic() tea.Cmd {
	m.wipeAll()
	m.quitting = true
	m.panicAt, m.panicTyped = time.Time{}, 0
	return tea.Batch(tea.ClearScreen, wipeProfile(m.s.prof, m.s.eng))
}

func (m *Model) onEvent(ev sotto.Event) tea.Cmd {
	var cmds []tea.Cmd
	if m.background && m.s.eng != nil {
		cmds = append(cmds, waitEvent(m.s.eng.Events()))
	}
	switch ev := ev.(type) {
	case sotto.TorEvent:
		m.tor = ev.Status
		return tea.Batch(cmds...)
	case sotto.ErrorEvent:
		if !m.locked {
			m.setError(ev.Err)
		}
		return tea.Batch(cmds...)
	case sotto.MessageEvent:
		msg := ev.Message
		if !m.locked && (m.page != pageChat || msg.Identity != m.s.identity || msg.Contact != m.s.contact.Name) && msg.Dir == sotto.Incoming && msg.Kind == sotto.TextMessage {
			m.setInfo(fmt.Sprintf("new message from %s to %s: ctrl+k lists every conversation", sanitize.Line(msg.Contact), sanitize.Line(msg.Identity)))
		}
	case sotto.RequestEvent:
		if !m.locked {
			m.setInfo(fmt.Sprintf("new contact request to %s: press r on its contact list", sanitize.Line(ev.Request.Identity)))
		}
	}
	if m.locked {
		// Nothing decrypted is kept while locked; screens reload on unlock.
		return tea.Batch(cmds...)
	}
	for _, sc := range m.screens {
		if sc == nil {
			continue
		}
		if sc == m.active() {
			_, cmd := sc.Update(eventMsg{ev})
			cmds = append(cmds, cmd)
		}
	}
	return tea.Batch(cmds...)
}

func (m *Model) setError(err error) {
	m.status, m.statusErr = sanitize.Line(errText(err)), true
}

func (m *Model) setInfo(s string) { m.status, m.statusErr = s, false }

// errText is the message of an error for a person: the engine's own error
// strings start with "sotto: "; the prefix means nothing on screen.
func errText(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "sotto: ")
	return s
}

// View implements tea.Model.
func (m *Model) View() string {
	if m.quitting {
		return ""
	}
	w := m.s.width
	st := m.s.st
	if fs, ok := m.active().(interface{ fullscreen() bool }); ok && fs.fullscreen() && !m.showHelp && m.panicAt.IsZero() {
		return fit(m.active().View(), w, m.s.height)
	}
	header := m.header()
	var body string
	switch {
	case !m.panicAt.IsZero():
		body = m.panicView()
	case m.showHelp:
		body = m.helpView()
	default:
		body = m.active().View()
	}
	body = fit(body, w, m.bodyHeight())
	var status string
	switch {
	case !m.panicAt.IsZero():
		status = st.Panic.Render(ansi.Truncate(fmt.Sprintf(" PANIC: type %s to wipe this profile and quit · esc cancels", m.panicWord), w, "…"))
	case m.quitAsk:
		status = st.Warn.Render(ansi.Truncate(" Quit and lose the text you have not sent? y quits · any other key keeps it", w, "…"))
	case m.status != "" && m.statusErr:
		status = st.Error.Render(ansi.Truncate(m.status, w, "…"))
	case m.status != "":
		status = st.Subtle.Render(ansi.Truncate(m.status, w, "…"))
	default:
		status = m.torDetail()
	}
	help := m.s.keys.Help
	if m.active().typing() {
		help = withHelp(help, "f1", "help") // "?" is text here
	}
	keys := m.keyLine(m.active().ShortHelp(), help)
	switch {
	case !m.panicAt.IsZero():
		keys = m.help.ShortHelpView([]key.Binding{withHelp(m.s.keys.Back, "esc", "cancel the wipe")})
	case m.showHelp && len(m.helpLines()) > m.helpRows():
		keys = m.help.ShortHelpView([]key.Binding{withHelp(m.s.keys.Down, "↑/↓ pgup/pgdn", "scroll"), withHelp(m.s.keys.Back, "esc", "close")})
	case m.showHelp:
		keys = m.help.ShortHelpView([]key.Binding{withHelp(m.s.keys.Back, "esc", "close")})
	}
	return lipgloss.JoinVertical(lipgloss.Left, header, body, fit(status, w, 1), fit(keys, w, 1))
}

// keyLine is the bottom line: the screen's keys, cut to fit, and the help
// key always at the end, so that the line never hides where help is.
func (m *Model) keyLine(screen []key.Binding, help key.Binding) string {
	last := m.help.ShortHelpView([]key.Binding{help})
	hm := m.help
	hm.Width = max(m.s.width-lipgloss.Width(last)-lipgloss.Width(hm.ShortSeparator), 1)
	return hm.ShortHelpView(screen) + m.s.st.HelpDesc.Render(hm.ShortSeparator) + last
}

// panicView is the armed panic wipe: what it does, how to go on, how to
// get out, and the letters typed so far.
func (m *Model) panicView() string {
	st := m.s.st
	word := []rune(m.panicWord)
	var typed strings.Builder
	for i, r := range word {
		if i > 0 {
			typed.WriteByte(' ')
		}
		if i < m.panicTyped {
			typed.WriteRune(unicode.ToUpper(r))
		} else {
			typed.WriteByte('_')
		}
	}
	lines := []string{
		"",
		"PANIC WIPE",
		"",
		fmt.Sprintf("Type  %s  to erase this profile for good and quit:", m.panicWord),
		"every identity, contact, conversation and key, and tor's state.",
		"Nothing can bring it back.",
		"",
		typed.String(),
		"",
		"esc cancels; nothing happens if you wait.",
		"",
	}
	w := min(max(m.s.width-4, 20), 72)
	box := st.Panic.Width(w).Align(lipgloss.Center).Render(strings.Join(lines, "\n"))
	return "\n" + lipgloss.PlaceHorizontal(m.s.width, lipgloss.Center, box)
}

// header is the top line: where you are on the left, tor on the right.
func (m *Model) header() string {
	st := m.s.st
	w := m.s.width
	left := st.Title.Render(" sotto")
	if m.label != "" {
		left += " " + st.Warn.Render(m.label)
	}
	if m.page >= pageIdentities && !m.locked {
		crumbs := ""
		if m.s.identity != "" && m.page != pageIdentities {
			crumbs += " › " + sanitize.Line(m.s.identity)
		}
		if m.s.contact.Name != "" && (m.page == pageChat || m.page == pageVerify || m.page == pageSettings) {
			crumbs += " › " + sanitize.Line(m.s.contact.Name)
		}
		left += st.Header.Render(crumbs)
	}
	right := ""
	if m.s.eng != nil {
		right = m.torBadge() + " "
	}
	gap := w - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		left = ansi.Truncate(left, max(w-lipgloss.Width(right)-1, 0), "…")
		gap = 1
	}
	return left + strings.Repeat(" ", gap) + right
}

// torBadge is the tor state in a few cells: a progress bar while tor
// bootstraps.
func (m *Model) torBadge() string {
	st := m.s.st
	switch m.tor.State {
	case sotto.TorStarting:
		return st.Warn.Render("tor ◌ starting")
	case sotto.TorBootstrapping:
		return st.Warn.Render("tor ") + progressBar(st, m.tor.Percent, 12) + st.Warn.Render(fmt.Sprintf(" %3d%%", clamp(m.tor.Percent, 0, 100)))
	case sotto.TorReady:
		return st.OK.Render("tor ● ready")
	case sotto.TorDown:
		return st.Error.Render("tor ✗ down")
	}
	return ""
}

// torDetail is the status line when there is nothing else to say.
func (m *Model) torDetail() string {
	st := m.s.st
	w := m.s.width
	if m.s.eng == nil {
		return ""
	}
	var s string
	switch m.tor.State {
	case sotto.TorStarting:
		s = st.Subtle.Render(" starting tor…")
	case sotto.TorBootstrapping:
		s = st.Subtle.Render(" tor is connecting: " + sanitize.Line(m.tor.Summary) + ". Messages wait in the outbox.")
	case sotto.TorDown:
		why := sanitize.Line(m.tor.Err)
		if why == "" {
			why = "unknown reason"
		}
		s = st.Error.Render(" tor is down (" + why + "). Nothing is sent without tor; retrying.")
	}
	return ansi.Truncate(s, w, "…")
}

func progressBar(st styles.Styles, pct, width int) string {
	pct = clamp(pct, 0, 100)
	full := pct * width / 100
	return st.BarFull.Render(strings.Repeat("█", full)) + st.BarEmpty.Render(strings.Repeat("░", width-full))
}

func clamp(v, lo, hi int) int { return min(max(v, lo), hi) }

// helpLines is the help: every key of the key map and what the marks of
// a conversation mean, in two columns when the terminal is wide enough,
// else in one.
func (m *Model) helpLines() []string {
	st := m.s.st
	k := m.s.keys
	groups := k.All()
	titles := []string{"Everywhere", "Lists", "Conversation", "Forms, settings, requests"}
	group := func(i int) []string {
		out := []string{st.Header.Render(titles[i])}
		for _, bind := range groups[i] {
			h := bind.Help()
			desc := h.Desc
			if i == 0 && h == k.Panic.Help() && k.Panic.Enabled() {
				desc = fmt.Sprintf("PANIC, then type %s", m.panicWord)
			}
			out = append(out, st.HelpKey.Render(fmt.Sprintf("%-13s", h.Key))+st.HelpDesc.Render(desc))
		}
		return out
	}
	marks := []string{
		st.Header.Render("Marks in a conversation"),
		st.HelpKey.Render(fmt.Sprintf("%-4s", "◌")) + st.HelpDesc.Render("waiting in the outbox, not sent yet"),
		st.HelpKey.Render(fmt.Sprintf("%-4s", "✓")) + st.HelpDesc.Render("sent, not yet confirmed"),
		st.HelpKey.Render(fmt.Sprintf("%-4s", "✓✓")) + st.HelpDesc.Render("delivered: stored on their device"),
		st.HelpKey.Render(fmt.Sprintf("%-4s", "⏱")) + st.HelpDesc.Render("time left before it disappears"),
	}
	join := func(parts ...[]string) []string {
		var out []string
		for i, p := range parts {
			if i > 0 {
				out = append(out, "")
			}
			out = append(out, p...)
		}
		return out
	}
	left := join(group(0), group(1))
	right := join(group(2), group(3))
	if m.s.width < 78 {
		return join(marks, left, right)
	}
	out := make([]string, max(len(left), len(right)))
	for i := range out {
		var l, r string
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		out[i] = pad(l, 38) + r
	}
	line := st.HelpKey.Render("◌") + st.HelpDesc.Render(" not sent yet · ") + st.HelpKey.Render("✓") + st.HelpDesc.Render(" sent · ") +
		st.HelpKey.Render("✓✓") + st.HelpDesc.Render(" delivered: on their device · ") + st.HelpKey.Render("⏱") + st.HelpDesc.Render(" disappears in")
	return append([]string{line, ""}, out...)
}

// helpRows is the number of help lines the overlay shows at once.
func (m *Model) helpRows() int { return max(m.bodyHeight()-2, 1) }

// helpView is the help overlay: the lines that fit, with arrows saying
// where more is and how to get to it.
func (m *Model) helpView() string {
	st := m.s.st
	lines := m.helpLines()
	rows := m.helpRows()
	top := min(m.helpTop, max(len(lines)-rows, 0))
	end := min(top+rows, len(lines))
	view := slices.Clone(lines[top:end])
	if end < len(lines) {
		view[len(view)-1] = st.Unread.Render(fmt.Sprintf("↓ %d more lines: ↓ or pgdn", len(lines)-end))
	}
	if top > 0 {
		view[0] = st.Unread.Render("↑ more above: ↑ or pgup")
	}
	w := max(m.s.width-2, 10)
	body := make([]string, len(view))
	for i, l := range view {
		body[i] = pad(l, w-2)
	}
	return st.Overlay.Padding(0, 1).Render(strings.Join(body, "\n"))
}

// fit cuts or pads s to exactly h lines of at most w cells.
func fit(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if lipgloss.Width(l) > w {
			lines[i] = ansi.Truncate(l, w, "")
		}
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// Close wipes what the model still holds and closes the engine. Run calls it
// when the program ends.
func (m *Model) Close() error {
	m.wipeAll()
	for _, sc := range m.screens {
		if d, ok := sc.(interface{ destroy() }); ok {
			d.destroy()
		}
	}
	if m.s.eng != nil {
		err := m.s.eng.Close()
		m.s.eng = nil
		return err
	}
	return nil
}

// Err is the error Run reports after the program ended (a failed panic wipe).
func (m *Model) Err() error { return m.err }

// RunProfile runs the UI for a profile until the person quits. It uses the
// alternate screen and leaves it cleared.
func RunProfile(ctx context.Context, p Profile, c Config) error {
	in, closeIn, err := terminalInput()
	if err != nil {
		return err
	}
	defer closeIn()
	return runProgram(ctx, p, c, tea.WithInput(in))
}

// terminalInput is the terminal the UI reads, behind a pasteReader:
// standard input when it is a terminal, else /dev/tty (as Bubble Tea
// itself would choose).
func terminalInput() (io.Reader, func(), error) {
	if term.IsTerminal(os.Stdin.Fd()) {
		return &pasteFile{newPasteReader(os.Stdin, nil), os.Stdin}, func() {}, nil
	}
	f, err := os.Open("/dev/tty")
	if err != nil {
		return nil, nil, fmt.Errorf("tui: the chat screen needs a terminal: %w", err)
	}
	return &pasteFile{newPasteReader(f, nil), f}, func() { f.Close() }, nil
}

func runProgram(ctx context.Context, p Profile, c Config, opts ...tea.ProgramOption) error {
	if ctx == nil {
		return errors.New("tui: nil context")
	}
	m := New(ctx, p, c, nil)
	prog := tea.NewProgram(m, append([]tea.ProgramOption{tea.WithAltScreen(), tea.WithContext(ctx)}, opts...)...)
	_, runErr := prog.Run()
	if errors.Is(runErr, tea.ErrProgramKilled) && ctx.Err() != nil {
		runErr = nil // cancelled by the caller: not an error of the UI
	}
	closeErr := m.Close()
	return errors.Join(runErr, m.Err(), closeErr)
}

// withTestIO returns program options that run the UI on in and out instead
// of the terminal, for tests; in is read through a pasteReader, as the
// terminal is.
func withTestIO(in io.Reader, out io.Writer) []tea.ProgramOption {
	return []tea.ProgramOption{tea.WithInput(newPasteReader(in, nil)), tea.WithOutput(out)}
}
