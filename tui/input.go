package tui

import (
	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
)

// newInput returns a single-line text input for names and codes (never for
// passphrases: see package passfield). The cursor does not blink, so no
// timer runs behind it and views are stable. Its ctrl+v is off: see
// [noClipboard].
func newInput(s *shared, placeholder string, limit int) textinput.Model {
	ti := textinput.New()
	ti.Prompt = ""
	ti.CharLimit = limit
	ti.Placeholder = placeholder
	ti.Cursor.SetMode(cursor.CursorStatic)
	ti.PlaceholderStyle = s.st.Subtle
	noClipboard(&ti.KeyMap.Paste)
	return ti
}

// noClipboard turns off a bubbles text field's own paste key. On ctrl+v
// bubbles' textinput and textarea read the clipboard through
// github.com/atotto/clipboard, which runs whichever of xclip, xsel,
// wl-paste or termux-clipboard-get it finds in PATH: a program started
// behind the person's back, found through an environment variable, that
// learns the moment they paste. The terminal's own paste (ctrl+shift+v,
// shift+insert, the middle button) reaches Sotto as typed or bracketed
// input and still works; ctrl+v only says so (see Model.onKey).
func noClipboard(b *key.Binding) {
	b.SetKeys()
	b.SetEnabled(false)
}
