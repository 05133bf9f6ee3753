package tui

import (
	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
)

// newInput returns a single-line text input for names and codes (never for
// passphrases: see package passfield). The cursor does not blink, so no
// timer runs behind it and views are stable.
func newInput(s *shared, placeholder string, limit int) textinput.Model {
	ti := textinput.New()
	ti.Prompt = ""
	ti.CharLimit = limit
	ti.Placeholder = placeholder
	ti.Cursor.SetMode(cursor.CursorStatic)
	ti.PlaceholderStyle = s.st.Subtle
	return ti
}
