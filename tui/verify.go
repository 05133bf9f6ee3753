package tui

import (
	"crypto/subtle"
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

// verifyScreen shows the safety code beside what the contact reads out, and
// marks the contact verified.
type verifyScreen struct {
	s     *shared
	code  string
	in    textinput.Model
	err   string
	w, h  int
	ready bool
	// byEye: ctrl+y was pressed; y confirms that the codes were compared.
	byEye bool
}

func newVerify(s *shared) *verifyScreen {
	return &verifyScreen{s: s, in: newInput(s, "type what they read out", 512)}
}

func (v *verifyScreen) Init() tea.Cmd    { return nil }
func (v *verifyScreen) SetSize(w, h int) { v.w, v.h = w, h; v.in.Width = 128 }
func (v *verifyScreen) typing() bool     { return true }
func (v *verifyScreen) wipe()            { v.code, v.err, v.ready, v.byEye = "", "", false, false; v.in.Reset() }

func (v *verifyScreen) enter() tea.Cmd {
	v.wipe()
	v.in.Focus()
	return loadSafety(v.s.eng, v.s.identity, v.s.contact.Name)
}

func (v *verifyScreen) ShortHelp() []key.Binding {
	k := v.s.keys
	if v.byEye {
		return []key.Binding{key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes, mark verified")), key.NewBinding(key.WithKeys("n"), key.WithHelp("any other key", "no"))}
	}
	return []key.Binding{withHelp(k.Submit, "enter", "mark verified if equal"), withHelp(k.Force, "ctrl+y", "compared by eye"), k.Back}
}

// draft reports whether a code was typed and not used.
func (v *verifyScreen) draft() bool               { return v.in.Value() != "" }
func (v *verifyScreen) FullHelp() [][]key.Binding { return [][]key.Binding{v.ShortHelp()} }

// normalCode keeps the letters and digits of a code, lower case.
func normalCode(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// grouped writes a code in groups of five for reading aloud.
func grouped(s string) string {
	n := normalCode(s)
	var parts []string
	for len(n) > 5 {
		parts = append(parts, n[:5])
		n = n[5:]
	}
	if n != "" {
		parts = append(parts, n)
	}
	return strings.Join(parts, " ")
}

// match compares what was typed with the safety code.
func (v *verifyScreen) match() (typed, ok bool) {
	in := normalCode(v.in.Value())
	if in == "" {
		return false, false
	}
	return true, subtle.ConstantTimeCompare([]byte(in), []byte(normalCode(v.code))) == 1
}

func (v *verifyScreen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k := v.s.keys
	switch msg := msg.(type) {
	case safetyMsg:
		if msg.identity != v.s.identity || msg.contact != v.s.contact.Name {
			return v, nil
		}
		if msg.err != nil {
			v.err = sanitize.Line(errText(msg.err))
			return v, nil
		}
		v.code, v.ready = msg.code, true
	case tea.KeyMsg:
		e, id, ct := v.s.eng, v.s.identity, v.s.contact.Name
		mark := do(sanitize.Line(ct)+" is marked verified", pageContacts, func() error { return e.Verify(id, ct) })
		if v.byEye {
			// One key by reflex must not verify: only y does.
			v.byEye = false
			if msg.Type == tea.KeyRunes && !msg.Paste && (string(msg.Runes) == "y" || string(msg.Runes) == "Y") {
				return v, mark
			}
			v.err = sanitize.Line(ct) + " is not marked verified"
			return v, nil
		}
		switch {
		case key.Matches(msg, k.Back):
			return v, nav(pageContacts)
		case key.Matches(msg, k.Force):
			if v.ready {
				v.byEye, v.err = true, ""
			}
			return v, nil
		case key.Matches(msg, k.Submit):
			typed, ok := v.match()
			switch {
			case ok:
				return v, mark
			case typed:
				v.err = "the codes differ: do not mark this contact verified; someone may sit between you"
			default:
				v.err = "type the code they read out first, or press ctrl+y if you compared it by eye"
			}
			return v, nil
		}
		v.err = ""
		var cmd tea.Cmd
		v.in, cmd = v.in.Update(msg)
		return v, cmd
	}
	return v, nil
}

func (v *verifyScreen) View() string {
	st := v.s.st
	name := sanitize.Line(v.s.contact.Name)
	var b strings.Builder
	// The explanation wraps to the screen; on a screen too short for it
	// and the whole code, a shorter one, or none: the code wins (every
	// group is compared).
	intro := func(ls ...string) string {
		var b strings.Builder
		for _, l := range ls {
			for _, w := range strings.Split(ansi.Wrap(l, max(v.w-4, 20), " "), "\n") {
				b.WriteString("  " + st.Subtle.Render(w) + "\n")
			}
		}
		return b.String() + "\n"
	}
	intros := []string{
		intro("Meet or call "+name+" over a channel you trust and compare the codes.",
			"Both screens show the same code only if nobody sits between you."),
		intro("Compare in person or on a call you trust."),
	}
	boxW := max((v.w-8)/2-2, 20) // two boxes with borders and a gap fit in v.w
	mine := st.Subtle.Render("loading…")
	if v.ready {
		mine = st.Value.Render(lipgloss.NewStyle().Width(boxW - 4).Render(grouped(sanitize.Line(v.code))))
	}
	typed, ok := v.match()
	theirs := st.Subtle.Render("type what they read out")
	if typed {
		theirs = st.Value.Render(lipgloss.NewStyle().Width(boxW - 4).Render(grouped(sanitize.Line(v.in.Value())) + "▏"))
	}
	left := st.Box.Width(boxW).Render(st.Header.Render("Your screen") + "\n\n" + mine)
	right := st.FocusBox.Width(boxW).Render(st.Header.Render(name+" reads out") + "\n\n" + theirs)
	b.WriteString(lipgloss.JoinHorizontal(lipgloss.Top, "  ", left, "  ", right) + "\n")
	switch {
	case v.s.contact.Verified:
		b.WriteString("  " + st.Verified.Render("✓ "+name+" is already verified") + "\n")
	case typed && ok:
		b.WriteString("  " + st.OK.Render("✓ the codes match: press enter to mark "+name+" verified") + "\n")
	case typed:
		b.WriteString("  " + st.Warn.Render("✗ the codes differ so far") + "\n")
	default:
		b.WriteString("\n")
	}
	if v.byEye {
		n := len(strings.Fields(v.code))
		b.WriteString("\n  " + st.Warn.Render(fmt.Sprintf("Mark %s verified without typing the code? Only if you compared all %d", name, n)) + "\n")
		b.WriteString("  " + st.Warn.Render("groups with what "+name+" reads out, in person or on a call you trust.") + "\n")
		b.WriteString("  " + st.HelpKey.Render("y") + st.Subtle.Render(" marks verified · any other key does not") + "\n")
	}
	if v.err != "" {
		b.WriteString("  " + st.Error.Render(v.err) + "\n")
	}
	head := "\n  " + st.Title.Render("Verify "+name) + "\n\n"
	for _, in := range intros {
		if v.h <= 0 || lipgloss.Height(head+in+b.String()) <= v.h {
			return head + in + b.String()
		}
	}
	return head + b.String()
}
