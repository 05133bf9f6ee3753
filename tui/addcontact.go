package tui

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/sottochat/sotto/tui/sanitize"
)

// addScreen adds a contact: it shows your own code (and its QR code) and
// takes the peer's code with live checksum feedback.
type addScreen struct {
	s      *shared
	card   string
	qr     string
	showQR bool
	name   textinput.Model
	code   textinput.Model
	focus  int
	check  error // result of CheckCode on the typed code
	err    string
	busy   bool
	w, h   int
}

func newAddContact(s *shared) *addScreen {
	return &addScreen{s: s, name: newInput(s, "a name only you see", 32), code: newInput(s, "paste or type their code", 2048)}
}

func (a *addScreen) Init() tea.Cmd { return nil }
func (a *addScreen) SetSize(w, h int) {
	a.w, a.h = w, h
	a.name.Width = max(w-16, 10)
	a.code.Width = max(w-16, 10)
}
func (a *addScreen) typing() bool { return true }

// draft reports whether a name or a code was typed and not saved.
func (a *addScreen) draft() bool { return a.name.Value() != "" || a.code.Value() != "" }

// fullscreen: the QR code takes the whole terminal.
func (a *addScreen) fullscreen() bool { return a.showQR }
func (a *addScreen) wipe() {
	a.card, a.qr, a.showQR, a.err, a.check, a.busy, a.focus = "", "", false, "", nil, false, 0
	a.name.Reset()
	a.code.Reset()
}

func (a *addScreen) enter() tea.Cmd {
	a.wipe()
	a.code.Blur()
	return tea.Batch(a.name.Focus(), loadCard(a.s.eng, a.s.identity))
}

func (a *addScreen) ShortHelp() []key.Binding {
	k := a.s.keys
	return []key.Binding{withHelp(k.Submit, "enter", "add"), k.Next, k.QR, k.Back}
}
func (a *addScreen) FullHelp() [][]key.Binding { return [][]key.Binding{a.ShortHelp()} }

func (a *addScreen) setFocus(i int) tea.Cmd {
	a.focus = i
	if i == 0 {
		a.code.Blur()
		return a.name.Focus()
	}
	a.name.Blur()
	return a.code.Focus()
}

func (a *addScreen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k := a.s.keys
	switch msg := msg.(type) {
	case cardMsg:
		if msg.identity != a.s.identity {
			return a, nil
		}
		if msg.err != nil {
			a.err = sanitize.Line(errText(msg.err))
			return a, nil
		}
		a.card = msg.card
		a.qr = a.s.prof.QRCode(msg.card)
	case doneMsg:
		a.busy = false
		if msg.err != nil {
			a.err = sanitize.Line(errText(msg.err))
		} else {
			a.name.Reset()
			a.code.Reset()
		}
	case tea.KeyMsg:
		if a.busy {
			return a, nil
		}
		switch {
		case key.Matches(msg, k.Back):
			if a.showQR {
				a.showQR = false
				return a, nil
			}
			return a, nav(pageContacts)
		case key.Matches(msg, k.QR):
			a.showQR = !a.showQR
			return a, nil
		case key.Matches(msg, k.Next), key.Matches(msg, k.Prev):
			return a, a.setFocus(1 - a.focus)
		case key.Matches(msg, k.Submit):
			return a, a.submit()
		}
		a.err = ""
		var cmd tea.Cmd
		if a.focus == 0 {
			a.name, cmd = a.name.Update(msg)
		} else {
			a.code, cmd = a.code.Update(msg)
			// White space inside a code means nothing: a code copied from
			// a terminal, a mail or a chat comes wrapped over lines,
			// indented, or in groups of five. The field keeps the code
			// alone.
			if v := a.code.Value(); strings.ContainsFunc(v, unicode.IsSpace) {
				a.code.SetValue(compactCode(v))
			}
			a.check = nil
			if c := a.code.Value(); c != "" {
				a.check = a.s.prof.CheckCode(c)
			}
		}
		return a, cmd
	}
	return a, nil
}

func (a *addScreen) submit() tea.Cmd {
	name := strings.TrimSpace(a.name.Value())
	code := strings.TrimSpace(a.code.Value())
	switch {
	case a.focus == 0 && code == "":
		return a.setFocus(1)
	case name == "":
		a.err = "give this contact a name first (only you see it)"
		return a.setFocus(0)
	case code == "":
		a.err = "paste or type their code"
		return nil
	case a.check != nil:
		return a.setFocus(1) // the line under the code says what is wrong
	}
	a.busy = true
	e, ctx, id := a.s.eng, a.s.ctx, a.s.identity
	return do(fmt.Sprintf("%s added: verify them (v) when you can", sanitize.Line(name)), pageContacts, func() error {
		_, err := e.AddContact(ctx, id, name, code)
		return err
	})
}

func (a *addScreen) View() string {
	st := a.s.st
	var b strings.Builder
	if a.showQR {
		// The whole terminal (see fullscreen): a QR code of a contact code
		// is 23 rows, which fits 80x24 with one line of caption.
		qr := strings.TrimRight(a.qr, "\n")
		h := a.s.height
		if n := strings.Count(qr, "\n") + 1; n+1 > h || lipgloss.Width(qr) > a.w {
			b.WriteString("\n  " + st.Warn.Render(fmt.Sprintf("The QR code needs %d×%d cells: make the terminal larger.", lipgloss.Width(qr), n+1)) + "\n")
			b.WriteString("  " + st.Subtle.Render("esc goes back") + "\n")
			return b.String()
		}
		b.WriteString(lipgloss.PlaceHorizontal(a.w, lipgloss.Center, qr) + "\n")
		b.WriteString(lipgloss.PlaceHorizontal(a.w, lipgloss.Center, st.Subtle.Render("your code as a QR code · esc goes back")))
		return b.String()
	}
	b.WriteString("\n  " + st.Title.Render("Add a contact to "+sanitize.Line(a.s.identity)) + "\n\n")
	b.WriteString("  " + st.Header.Render("1. Give them your code") + st.Subtle.Render(": send it over a channel you trust, or let them") + "\n")
	b.WriteString("  " + st.Subtle.Render("scan it (ctrl+o: QR code). To type it, go by the groups of five;") + "\n")
	b.WriteString("  " + st.Subtle.Render("spaces and line breaks in a code do not matter.") + "\n")
	if a.card == "" {
		b.WriteString("     " + st.Subtle.Render("loading…") + "\n")
	} else {
		// No box around it: a copy from the terminal takes the code and
		// white space only.
		for _, l := range codeLines(sanitize.Line(a.card), clamp((a.w-5)/6, 1, 5)) {
			b.WriteString("     " + st.Value.Render(l) + "\n")
		}
	}
	b.WriteString("\n")
	b.WriteString("  " + st.Header.Render("2. Take theirs") + st.Subtle.Render(" and give them a name only you see") + "\n")
	cur := func(i int) string {
		if a.focus == i {
			return st.Cursor.Render("› ")
		}
		return "  "
	}
	b.WriteString("  " + st.Label.Render(pad("Name", 8)) + cur(0) + a.name.View() + "\n")
	b.WriteString("  " + st.Label.Render(pad("Code", 8)) + cur(1) + a.code.View() + "\n")
	switch {
	case a.code.Value() == "":
		b.WriteString("\n")
	case a.check == nil:
		b.WriteString("  " + pad("", 10) + st.OK.Render("✓ the code is valid") + "\n")
	default:
		why := strings.TrimPrefix(sanitize.Line(errText(a.check)), "bad contact code: ")
		for i, l := range strings.Split(ansi.Wrap("✗ "+why, max(a.w-12, 20), " "), "\n") {
			if i > 0 {
				l = "  " + l
			}
			b.WriteString("  " + pad("", 10) + st.Warn.Render(l) + "\n")
		}
	}
	switch {
	case a.busy:
		b.WriteString("\n  " + st.Subtle.Render("adding…") + "\n")
	case a.err != "":
		b.WriteString("\n  " + st.Error.Render(a.err) + "\n")
	}
	return b.String()
}

// compactCode drops every white space character from a contact code.
func compactCode(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// codeLines writes a contact code in groups of five characters, perLine
// groups to a line: easier to read and type than 125 characters in a row,
// and what the parser reads back once the spaces are dropped.
func codeLines(code string, perLine int) []string {
	var groups []string
	for i := 0; i < len(code); i += 5 {
		groups = append(groups, code[i:min(i+5, len(code))])
	}
	var lines []string
	for i := 0; i < len(groups); i += perLine {
		lines = append(lines, strings.Join(groups[i:min(i+perLine, len(groups))], " "))
	}
	return lines
}
