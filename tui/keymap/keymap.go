// Package keymap holds the one key map of the terminal UI. Every screen
// takes its bindings from a [KeyMap]; the help overlay lists them all.
package keymap

import "github.com/charmbracelet/bubbles/key"

// KeyMap is every key the UI answers to.
type KeyMap struct {
	// Everywhere.
	Quit  key.Binding
	Lock  key.Binding
	Panic key.Binding // arms the panic wipe; a word typed after it wipes
	Help  key.Binding // "?" only where no text is being typed; f1 everywhere
	Back  key.Binding
	Convs key.Binding // every conversation, from anywhere

	// Lists.
	Up    key.Binding
	Down  key.Binding
	Open  key.Binding
	NewID key.Binding
	Add   key.Binding
	Reqs  key.Binding
	Check key.Binding // verify a contact
	Setup key.Binding // conversation settings

	// Forms.
	Next   key.Binding
	Prev   key.Binding
	Submit key.Binding
	QR     key.Binding
	Force  key.Binding // mark verified after comparing by eye

	// Conversation.
	Send       key.Binding
	Newline    key.Binding
	PageUp     key.Binding
	PageDown   key.Binding
	ChatSetup  key.Binding
	ClearInput key.Binding

	// Settings and requests.
	History key.Binding
	Accept  key.Binding
	Reject  key.Binding
}

// Default returns the key map.
func Default() KeyMap {
	b := func(help string, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Quit:  b("ctrl+c", "quit", "ctrl+c"),
		Lock:  b("ctrl+l", "lock now", "ctrl+l"),
		Panic: b(`ctrl+\`, "PANIC: arm the wipe", `ctrl+\`),
		Help:  b("?/f1", "help", "?", "f1"),
		Back:  b("esc", "back", "esc"),
		Convs: b("ctrl+k/f2", "all conversations", "ctrl+k", "f2"),

		Up:    b("↑/k", "up", "up", "k"),
		Down:  b("↓/j", "down", "down", "j"),
		Open:  b("enter", "open", "enter"),
		NewID: b("n", "new identity", "n"),
		Add:   b("a", "add contact", "a"),
		Reqs:  b("r", "contact requests", "r"),
		Check: b("v", "verify contact", "v"),
		Setup: b("s", "conversation settings", "s"),

		Next:   b("tab", "next field", "tab"),
		Prev:   b("shift+tab", "previous field", "shift+tab"),
		Submit: b("enter", "confirm", "enter"),
		QR:     b("ctrl+o", "show/hide QR code", "ctrl+o"),
		Force:  b("ctrl+y", "mark verified by eye", "ctrl+y"),

		Send:       b("enter", "send", "enter"),
		Newline:    b("alt+⏎/ctrl+j", "new line", "alt+enter", "ctrl+j"),
		PageUp:     b("pgup", "scroll up", "pgup"),
		PageDown:   b("pgdn", "scroll down", "pgdown"),
		ChatSetup:  b("ctrl+t", "timer and history", "ctrl+t"),
		ClearInput: b("ctrl+u", "clear field", "ctrl+u"),

		History: b("h", "history on/off", "h"),
		Accept:  b("a", "accept request", "a"),
		Reject:  b("x", "reject request", "x"),
	}
}

// SetPanic binds the panic key to name (a Bubble Tea key name such as
// `ctrl+\` or "f12"); "none" leaves the panic wipe without a key.
func (k *KeyMap) SetPanic(name string) {
	if name == "none" {
		k.Panic = key.NewBinding(key.WithHelp("(none)", "PANIC: no key set"))
		k.Panic.SetEnabled(false)
		return
	}
	k.Panic = key.NewBinding(key.WithKeys(name), key.WithHelp(name, "PANIC: arm the wipe"))
}

// Global returns the bindings that work on every screen.
func (k KeyMap) Global() []key.Binding {
	return []key.Binding{k.Help, k.Convs, k.Lock, k.Panic, k.Quit}
}

// All returns every binding, grouped as the help overlay shows them.
func (k KeyMap) All() [][]key.Binding {
	return [][]key.Binding{
		{k.Help, k.Convs, k.Back, k.Lock, k.Panic, k.Quit},
		{k.Up, k.Down, k.Open, k.NewID, k.Add, k.Reqs, k.Check, k.Setup},
		{k.Send, k.Newline, k.PageUp, k.PageDown, k.ChatSetup, k.ClearInput},
		{k.Next, k.Prev, k.Submit, k.QR, k.Force, k.History, k.Accept, k.Reject},
	}
}
