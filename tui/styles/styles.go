// Package styles holds the one set of Lip Gloss styles of the terminal UI.
// Colours adapt to light and dark terminals; nothing relies on colour
// alone (states also have a symbol or a word), so the UI reads the same
// on a monochrome terminal and in text captures.
package styles

import "github.com/charmbracelet/lipgloss"

// Styles is every style the UI uses.
type Styles struct {
	App       lipgloss.Style
	Title     lipgloss.Style
	Header    lipgloss.Style
	Subtle    lipgloss.Style
	Selected  lipgloss.Style
	Cursor    lipgloss.Style
	Label     lipgloss.Style
	Value     lipgloss.Style
	Box       lipgloss.Style
	FocusBox  lipgloss.Style
	Error     lipgloss.Style
	Warn      lipgloss.Style
	OK        lipgloss.Style
	Online    lipgloss.Style
	Offline   lipgloss.Style
	Verified  lipgloss.Style
	Unread    lipgloss.Style
	Timer     lipgloss.Style
	Me        lipgloss.Style
	Peer      lipgloss.Style
	System    lipgloss.Style
	Time      lipgloss.Style
	Body      lipgloss.Style
	HelpKey   lipgloss.Style
	HelpDesc  lipgloss.Style
	StatusBar lipgloss.Style
	Panic     lipgloss.Style
	BarFull   lipgloss.Style
	BarEmpty  lipgloss.Style
	Overlay   lipgloss.Style
}

var (
	accent  = lipgloss.AdaptiveColor{Light: "#5A3FC0", Dark: "#A48BFF"}
	subtle  = lipgloss.AdaptiveColor{Light: "#6B6B6B", Dark: "#8A8A8A"}
	faint   = lipgloss.AdaptiveColor{Light: "#B8B8B8", Dark: "#4A4A4A"}
	green   = lipgloss.AdaptiveColor{Light: "#1E7A33", Dark: "#5FD37A"}
	red     = lipgloss.AdaptiveColor{Light: "#B3261E", Dark: "#FF6B6B"}
	amber   = lipgloss.AdaptiveColor{Light: "#8A5A00", Dark: "#F2C14E"}
	blue    = lipgloss.AdaptiveColor{Light: "#1F5FA8", Dark: "#7DB7FF"}
	text    = lipgloss.AdaptiveColor{Light: "#1A1A1A", Dark: "#E6E6E6"}
	selBack = lipgloss.AdaptiveColor{Light: "#E6E0FA", Dark: "#2E2650"}
)

// Default returns the styles.
func Default() Styles {
	s := lipgloss.NewStyle
	return Styles{
		App:       s(),
		Title:     s().Bold(true).Foreground(accent),
		Header:    s().Bold(true).Foreground(text),
		Subtle:    s().Foreground(subtle),
		Selected:  s().Bold(true).Foreground(text).Background(selBack),
		Cursor:    s().Foreground(accent).Bold(true),
		Label:     s().Foreground(subtle),
		Value:     s().Foreground(text),
		Box:       s().Border(lipgloss.RoundedBorder()).BorderForeground(faint).Padding(0, 1),
		FocusBox:  s().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(0, 1),
		Error:     s().Foreground(red).Bold(true),
		Warn:      s().Foreground(amber),
		OK:        s().Foreground(green),
		Online:    s().Foreground(green),
		Offline:   s().Foreground(subtle),
		Verified:  s().Foreground(green).Bold(true),
		Unread:    s().Foreground(accent).Bold(true),
		Timer:     s().Foreground(amber),
		Me:        s().Foreground(blue).Bold(true),
		Peer:      s().Foreground(accent).Bold(true),
		System:    s().Foreground(subtle).Italic(true),
		Time:      s().Foreground(subtle),
		Body:      s().Foreground(text),
		HelpKey:   s().Foreground(accent).Bold(true),
		HelpDesc:  s().Foreground(subtle),
		StatusBar: s().Foreground(subtle),
		Panic:     s().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(lipgloss.Color("#B3261E")),
		BarFull:   s().Foreground(accent),
		BarEmpty:  s().Foreground(faint),
		Overlay:   s().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(0, 2),
	}
}
