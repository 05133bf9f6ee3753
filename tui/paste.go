package tui

import (
	"bytes"
	"io"
	"os"
	"time"
	"unicode/utf8"
)

// Pastes without bracketed paste.
//
// A terminal with bracketed paste (Bubble Tea turns it on) wraps pasted
// text in ESC[200~ … ESC[201~, and Bubble Tea hands it over as one key
// message with Paste set: its line breaks are text, not enter. A terminal
// without it (a serial console, an old PuTTY, some multiplexers) sends the
// pasted bytes as if typed, so every line break would be an enter and each
// pasted line would be sent as its own message.
//
// pasteReader sits between the terminal and Bubble Tea and brackets such a
// paste itself. A person types one key per read, even a fast typist; a
// paste arrives as many bytes in one read. A read of nothing but text (no
// escape sequence, no control key other than tab and the line breaks) that
// holds a line break with more text after it, that is two lines or more,
// is taken for a paste and bracketed. So is any read of text and line
// breaks that comes right after such a paste (the kernel hands a long paste
// over in pieces, and a piece may hold one line or only its line break).
// Inside a paste the terminal bracketed, nothing is touched. A multi-byte
// character cut by the end of a read is kept for the next one, so a long
// paste never loses a character at a read boundary.
//
// One line of text ending in its enter, read at once, is typing: a busy UI
// reading a typed word with its enter, or a script driving the terminal
// (tmux send-keys 'text' Enter writes both at once). The enter submits, as
// the person or the script meant. A one-line paste that carries its own
// line break, in a terminal without bracketed paste, is sent as any such
// terminal program would send it.
type pasteReader struct {
	r         io.Reader
	now       func() time.Time
	buf       []byte
	carry     []byte // the start of a character cut by the end of the last read
	tail      []byte // the last bytes read, to find markers cut by a read boundary
	inPaste   bool   // inside a paste the terminal bracketed
	lastPaste time.Time
}

const (
	pasteStart = "\x1b[200~"
	pasteEnd   = "\x1b[201~"
	// pasteTail is how soon after a bracketed paste a read of line breaks
	// alone is still its tail.
	pasteTail = 50 * time.Millisecond
)

func newPasteReader(r io.Reader, now func() time.Time) *pasteReader {
	if now == nil {
		now = time.Now
	}
	return &pasteReader{r: r, now: now}
}

// Read implements io.Reader.
func (p *pasteReader) Read(b []byte) (int, error) {
	const marks = len(pasteStart) + len(pasteEnd)
	room := len(b) - marks - len(p.carry)
	if room < utf8.UTFMax {
		return p.r.Read(b) // too small to bracket anything
	}
	if cap(p.buf) < len(b) {
		p.buf = make([]byte, len(b))
	}
	data := append(p.buf[:0], p.carry...)
	n, err := p.r.Read(p.buf[len(p.carry) : len(p.carry)+room])
	data = p.buf[:len(p.carry)+n]
	p.carry = p.carry[:0]
	if n == 0 {
		return copy(b, data), err
	}
	// A character cut at the end waits for its other bytes (the reader
	// then returns nothing this time, which Bubble Tea takes as a short
	// read).
	if cut := cutRune(data); cut < len(data) && err == nil {
		p.carry = append(p.carry, data[cut:]...)
		data = data[:cut]
		if len(data) == 0 {
			return 0, err
		}
	}
	wasIn := p.inPaste
	p.track(data)
	if !wasIn && !p.inPaste && p.isPaste(data) {
		p.lastPaste = p.now()
		out := append(append(append(make([]byte, 0, len(data)+marks), pasteStart...), data...), pasteEnd...)
		return copy(b, out), err
	}
	return copy(b, data), err
}

// track follows the terminal's own paste markers across reads.
func (p *pasteReader) track(data []byte) {
	s := append(p.tail, data...)
	for {
		i, j := bytes.Index(s, []byte(pasteStart)), bytes.Index(s, []byte(pasteEnd))
		switch {
		case i < 0 && j < 0:
			keep := min(len(s), len(pasteStart)-1)
			p.tail = append(p.tail[:0:0], s[len(s)-keep:]...)
			return
		case j < 0 || i >= 0 && i < j:
			p.inPaste = true
			s = s[i+len(pasteStart):]
		default:
			p.inPaste = false
			s = s[j+len(pasteEnd):]
		}
	}
}

// isPaste reports whether one read is pasted text: line breaks and other
// text together and nothing a key would send, or line breaks alone right
// after a paste.
func (p *pasteReader) isPaste(data []byte) bool {
	breaks, text := 0, 0
	for _, c := range data {
		switch {
		case c == '\r' || c == '\n':
			breaks++
		case c == '\t' || c >= 0x20 && c != 0x7f:
			text++
		default:
			return false // an escape sequence or a control key
		}
	}
	if breaks == 0 {
		return false
	}
	if p.now().Sub(p.lastPaste) < pasteTail {
		return true // the rest of a paste begun in an earlier read
	}
	// Two lines or more: a line break with text after it, once the line
	// breaks at the end are set aside.
	body := bytes.TrimRight(data, "\r\n")
	return bytes.ContainsAny(body, "\r\n")
}

// cutRune returns where an incomplete UTF-8 sequence at the end of b
// starts, or len(b) when b ends on a character boundary.
func cutRune(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		c := b[i]
		if c < 0x80 {
			return len(b)
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			return len(b)
		}
	}
	return len(b)
}

// pasteFile is a pasteReader over a terminal: Bubble Tea sees a terminal
// (it sets raw mode on Fd and waits on it) and reads through the reader.
type pasteFile struct {
	*pasteReader
	f *os.File
}

func (p *pasteFile) Write(b []byte) (int, error) { return p.f.Write(b) }
func (p *pasteFile) Close() error                { return p.f.Close() }
func (p *pasteFile) Fd() uintptr                 { return p.f.Fd() }
