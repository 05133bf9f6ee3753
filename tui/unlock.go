package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/sottochat/sotto/internal/erase"
	"github.com/sottochat/sotto/strength"
	"github.com/sottochat/sotto/tui/passfield"
	"github.com/sottochat/sotto/tui/sanitize"
)

// loadingScreen is shown while the UI checks whether the profile exists.
type loadingScreen struct{ s *shared }

func newLoading(s *shared) *loadingScreen                    { return &loadingScreen{s} }
func (l *loadingScreen) Init() tea.Cmd                       { return nil }
func (l *loadingScreen) Update(tea.Msg) (tea.Model, tea.Cmd) { return l, nil }
func (l *loadingScreen) View() string                        { return "\n  " + l.s.st.Subtle.Render("opening…") }
func (l *loadingScreen) SetSize(int, int)                    {}
func (l *loadingScreen) ShortHelp() []key.Binding            { return []key.Binding{l.s.keys.Quit} }
func (l *loadingScreen) FullHelp() [][]key.Binding           { return [][]key.Binding{l.ShortHelp()} }
func (l *loadingScreen) enter() tea.Cmd                      { return nil }
func (l *loadingScreen) typing() bool                        { return false }
func (l *loadingScreen) wipe()                               {}

// createScreen creates a profile: the passphrase twice, with an estimate
// of its strength (package strength, as `sotto init` makes) and, below the
// bar, a question before it is used.
type createScreen struct {
	s        *shared
	fields   [2]*passfield.Field
	focus    int
	busy     bool
	err      string
	w        int
	attempts int
	// est is the estimate of fields[0] when it held estN bytes; it is
	// brought up to date on the next tick, tab or enter (zxcvbn takes
	// milliseconds, too much for every key).
	est  strength.Estimate
	estN int
	// weakAsk: the passphrase is below the bar; y uses it anyway.
	weakAsk bool
}

func newCreate(s *shared) *createScreen {
	return &createScreen{s: s, fields: [2]*passfield.Field{passfield.New(), passfield.New()}}
}

func (c *createScreen) Init() tea.Cmd    { return nil }
func (c *createScreen) SetSize(w, h int) { c.w = w }
func (c *createScreen) enter() tea.Cmd   { return nil }
func (c *createScreen) typing() bool     { return true }
func (c *createScreen) wipe() {
	c.fields[0].Wipe()
	c.fields[1].Wipe()
	c.focus = 0
	c.est, c.estN, c.weakAsk = strength.Estimate{}, 0, false
	erase.Collect() // zero what the estimator allocated
}

// estimate brings the estimate of the first field up to date.
func (c *createScreen) estimate() {
	if n := c.fields[0].Len(); n != c.estN || n == 0 {
		c.est, c.estN = c.fields[0].Check(), n
	}
}
func (c *createScreen) destroy() { c.fields[0].Destroy(); c.fields[1].Destroy() }

func (c *createScreen) ShortHelp() []key.Binding {
	k := c.s.keys
	return []key.Binding{k.Submit, k.Next, k.ClearInput, k.Quit}
}
func (c *createScreen) FullHelp() [][]key.Binding { return [][]key.Binding{c.ShortHelp()} }

func (c *createScreen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k := c.s.keys
	switch msg := msg.(type) {
	case openedMsg:
		c.busy = false
		if msg.err != nil {
			c.err = "could not create the profile: " + sanitize.Line(errText(msg.err))
		}
	case tickMsg:
		c.estimate()
	case tea.KeyMsg:
		if c.busy {
			return c, nil
		}
		if c.weakAsk {
			c.weakAsk = false
			if msg.Type == tea.KeyRunes && !msg.Paste && (string(msg.Runes) == "y" || string(msg.Runes) == "Y") {
				return c, c.create()
			}
			c.err = "not created: choose a stronger passphrase (" + strength.Advice + ")"
			c.fields[0].Wipe()
			c.fields[1].Wipe()
			c.focus = 0
			c.estimate()
			return c, nil
		}
		switch {
		case key.Matches(msg, k.Next), key.Matches(msg, k.Prev), key.Matches(msg, k.Up), key.Matches(msg, k.Down):
			if msg.Type != tea.KeyRunes {
				c.focus = 1 - c.focus
				c.estimate()
				return c, nil
			}
		case key.Matches(msg, k.Submit):
			return c, c.submit()
		}
		c.err = ""
		c.fields[c.focus].Update(msg)
	}
	return c, nil
}

func (c *createScreen) submit() tea.Cmd {
	a, b := c.fields[0], c.fields[1]
	c.estimate()
	if c.focus == 0 {
		if a.Len() > 0 {
			c.focus = 1
		}
		return nil
	}
	switch {
	case a.Len() == 0:
		c.focus = 0
		return nil
	case !a.Equal(b):
		c.err = "the two entries differ: type the passphrase again"
		b.Wipe()
		return nil
	case !c.est.Good():
		c.weakAsk = true // the view asks
		return nil
	}
	return c.create()
}

// create creates and opens the profile with the passphrase typed.
func (c *createScreen) create() tea.Cmd {
	a, b := c.fields[0], c.fields[1]
	p1, p2 := a.Copy(), a.Copy() // wiped by Init and Open
	a.Wipe()
	b.Wipe()
	c.focus = 0
	c.busy = true
	c.est, c.estN = strength.Estimate{}, 0
	erase.Collect() // zero what the estimator allocated
	return createProfile(c.s.ctx, c.s.prof, p1, p2)
}

func (c *createScreen) View() string {
	st := c.s.st
	var b strings.Builder
	b.WriteString("\n  " + st.Title.Render("Create your Sotto profile") + "\n\n")
	intro := []string{
		"Everything Sotto keeps on this machine is encrypted with one passphrase.",
		"Nobody can recover it if you forget it. Five or more random words make",
		"a good one; a line from a book or a song does not.",
	}
	if c.s.amnesic {
		intro = []string{
			"This session lives in memory only: nothing is written to disk, and",
			"everything in it is gone when Sotto quits. The passphrase unlocks the",
			"screen after the idle lock; five or more random words make a good one.",
		}
	}
	for _, l := range intro {
		b.WriteString("  " + st.Subtle.Render(l) + "\n")
	}
	b.WriteString("\n")
	labels := [2]string{"Passphrase", "Again"}
	for i, f := range c.fields {
		cursor := "  "
		if i == c.focus && !c.busy {
			cursor = st.Cursor.Render("› ")
		}
		b.WriteString(fmt.Sprintf("  %s%s %s\n", st.Label.Render(fmt.Sprintf("%-11s", labels[i])), cursor, f.View(max(c.w-20, 8))))
	}
	b.WriteString("\n")
	a := c.fields[0]
	est := c.est
	if c.estN != a.Len() {
		est = strength.Estimate{} // being typed: estimated when the typing pauses
	}
	lvl := est.Level()
	style := st.Error
	switch {
	case lvl == strength.Empty:
		style = st.Subtle
	case est.Good():
		style = st.OK
	case lvl == strength.Fair:
		style = st.Warn
	}
	label := lvl.String()
	switch {
	case a.Len() == 0:
	case c.estN != a.Len():
		label = "…"
	default:
		label += ": guessed in " + est.CrackTime()
	}
	b.WriteString("  " + st.Label.Render(fmt.Sprintf("%-13s", "Strength")) + progressBar(st, est.Percent(), 20) + " " + style.Render(label) + "\n")
	switch {
	case c.fields[1].Len() == 0:
		b.WriteString("\n")
	case a.Equal(c.fields[1]):
		b.WriteString("  " + st.OK.Render("✓ the two entries match") + "\n")
	default:
		b.WriteString("  " + st.Warn.Render("✗ the two entries differ") + "\n")
	}
	if a.Full() || c.fields[1].Full() {
		b.WriteString("  " + st.Warn.Render(fmt.Sprintf("a passphrase holds at most %d bytes", passfield.MaxBytes)) + "\n")
	}
	b.WriteString("\n")
	switch {
	case c.busy:
		b.WriteString("  " + st.Subtle.Render("creating the profile and starting tor…") + "\n")
	case c.weakAsk:
		b.WriteString("  " + st.Error.Render(fmt.Sprintf("This passphrase is %s: someone with a copy of this profile could", c.est.Level())) + "\n")
		b.WriteString("  " + st.Error.Render("guess it in "+c.est.CrackTime()+".") + st.Warn.Render(" y uses it anyway; any other key starts again.") + "\n")
	case c.err != "":
		b.WriteString("  " + st.Error.Render(c.err) + "\n")
	}
	return b.String()
}

// unlockScreen asks for the passphrase: to open the profile, or, when
// locked, to unlock a running UI (checked by the engine).
type unlockScreen struct {
	s      *shared
	field  *passfield.Field
	locked bool
	busy   bool
	err    string
	w      int
}

func newUnlock(s *shared) *unlockScreen { return &unlockScreen{s: s, field: passfield.New()} }

func (u *unlockScreen) Init() tea.Cmd    { return nil }
func (u *unlockScreen) SetSize(w, h int) { u.w = w }
func (u *unlockScreen) enter() tea.Cmd   { u.busy = false; return nil }
func (u *unlockScreen) typing() bool     { return true }
func (u *unlockScreen) wipe()            { u.field.Wipe(); u.err = "" }
func (u *unlockScreen) destroy()         { u.field.Destroy() }

func (u *unlockScreen) ShortHelp() []key.Binding {
	k := u.s.keys
	return []key.Binding{k.Submit, k.ClearInput, k.Quit}
}
func (u *unlockScreen) FullHelp() [][]key.Binding { return [][]key.Binding{u.ShortHelp()} }

func (u *unlockScreen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case openedMsg:
		u.busy = false
		if msg.err != nil {
			u.err = sanitize.Line(errText(msg.err))
		}
	case unlockedMsg:
		u.busy = false
		if msg.err != nil {
			u.err = sanitize.Line(errText(msg.err))
		} else {
			u.locked = false
		}
	case tea.KeyMsg:
		if u.busy {
			return u, nil
		}
		if key.Matches(msg, u.s.keys.Submit) {
			if u.field.Len() == 0 {
				return u, nil
			}
			pass := u.field.Copy() // wiped by the callee
			u.field.Wipe()
			u.busy = true
			u.err = ""
			if u.locked {
				return u, checkPassphrase(u.s.prof, u.s.eng, pass)
			}
			return u, openProfile(u.s.ctx, u.s.prof, pass)
		}
		u.err = ""
		u.field.Update(msg)
	}
	return u, nil
}

func (u *unlockScreen) View() string {
	st := u.s.st
	var b strings.Builder
	if u.locked {
		b.WriteString("\n  " + st.Title.Render("Sotto is locked") + "\n\n")
		b.WriteString("  " + st.Subtle.Render("Conversations are hidden and typed text is gone. Messages keep") + "\n")
		b.WriteString("  " + st.Subtle.Render("arriving in the background. Type the passphrase to continue.") + "\n\n")
	} else {
		b.WriteString("\n  " + st.Title.Render("Unlock your Sotto profile") + "\n\n")
		b.WriteString("  " + st.Subtle.Render("Type the passphrase of this profile. Nothing is shown as you type") + "\n")
		b.WriteString("  " + st.Subtle.Render("but a dot per character.") + "\n\n")
	}
	cursor := st.Cursor.Render("› ")
	b.WriteString("  " + st.Label.Render(fmt.Sprintf("%-11s", "Passphrase")) + cursor + " " + u.field.View(max(u.w-20, 8)) + "\n\n")
	switch {
	case u.busy && u.locked:
		b.WriteString("  " + st.Subtle.Render("checking…") + "\n")
	case u.busy:
		b.WriteString("  " + st.Subtle.Render("unlocking and starting tor…") + "\n")
	case u.err != "":
		b.WriteString("  " + st.Error.Render(u.err) + "\n")
	}
	return b.String()
}
