// Package sanitize makes strings that came from a peer (or from any other
// untrusted source) safe to print on a terminal.
//
// A chat client is a terminal-injection target: a message that carries
// escape sequences can move the cursor, repaint other lines, set the window
// title, write to the clipboard (OSC 52), or hide text behind bidirectional
// overrides ("Trojan Source"). [Text] and [Line] remove all of that before a
// string reaches a view:
//
//   - ANSI escape sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST),
//     DCS, SOS, PM and APC strings (up to ST), and two-byte ESC sequences,
//     in their 7-bit and 8-bit (C1) forms;
//   - every other C0 control (U+0000..U+001F), DEL and every C1 control
//     (U+0080..U+009F); [Text] keeps newlines and turns tabs into spaces;
//   - bidirectional controls (U+061C, U+200E, U+200F, U+202A..U+202E,
//     U+2066..U+2069) and other invisible format characters that can disguise
//     text (zero-width joiners are kept: emoji need them);
//   - invalid UTF-8, replaced by U+FFFD.
//
// The functions are pure and allocate at most one new string; a string that
// needs no change is returned as is.
package sanitize

import (
	"strings"
	"unicode/utf8"
)

// TabWidth is the number of spaces a tab becomes in [Text].
const TabWidth = 4

// Text sanitises a multi-line text (a message body): newlines are kept,
// carriage returns dropped, tabs become spaces, everything else listed in
// the package documentation is removed.
func Text(s string) string { return clean(s, true) }

// Line sanitises a single-line string (a name, an error, a code): like [Text],
// but newlines become spaces too.
func Line(s string) string { return clean(s, false) }

// state of the escape-sequence parser.
type state int

const (
	ground state = iota
	escape       // after ESC
	csi          // inside a control sequence, until a final byte 0x40..0x7E
	str          // inside OSC/DCS/SOS/PM/APC, until BEL or ST
	strEsc       // inside a string, after ESC (ESC \ is ST)
)

func clean(s string, multiline bool) string {
	if isClean(s, multiline) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	st := ground
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size == 1 {
			// Invalid UTF-8. A lone byte 0x80..0x9F might be meant as an
			// 8-bit C1 control by a terminal that reads Latin-1: treat it as one.
			c := s[i-1]
			if st == ground && c >= 0x80 && c <= 0x9f {
				st = c1(rune(c), st)
				continue
			}
			switch st {
			case ground:
				b.WriteRune(utf8.RuneError)
			case str, strEsc:
				if c == 0x9c { // 8-bit ST
					st = ground
				}
			}
			continue
		}
		switch st {
		case escape:
			switch r {
			case '[':
				st = csi
			case ']', 'P', 'X', '^', '_':
				st = str
			default:
				// A two-byte sequence (ESC 7, ESC c, ...) or an
				// intermediate byte: drop it and return to ground.
				st = ground
				if r == 0x1b {
					st = escape
				}
			}
			continue
		case csi:
			if r >= 0x40 && r <= 0x7e {
				st = ground
			} else if r == 0x1b {
				st = escape
			} else if r < 0x20 || r > 0x7e {
				// Not part of a well-formed CSI: abort the sequence.
				// The character itself is handled as ground text below.
				st = ground
				goto ground
			}
			continue
		case str:
			switch {
			case r == 0x07 || r == 0x9c:
				st = ground
			case r == 0x1b:
				st = strEsc
			}
			continue
		case strEsc:
			if r == '\\' {
				st = ground
			} else if r != 0x1b {
				st = str
			}
			continue
		}
	ground:
		switch {
		case r == 0x1b:
			st = escape
		case r >= 0x80 && r <= 0x9f:
			st = c1(r, st)
		case r == '\n':
			if multiline {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		case r == '\t':
			if multiline {
				b.WriteString(strings.Repeat(" ", TabWidth))
			} else {
				b.WriteByte(' ')
			}
		case r < 0x20 || r == 0x7f:
			// other C0 controls and DEL: dropped
		case invisible(r):
			// bidi and format characters: dropped
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// c1 handles an 8-bit control: CSI, OSC, DCS, SOS, PM and APC open a
// sequence whose body is dropped too; the others are dropped alone.
func c1(r rune, st state) state {
	switch r {
	case 0x9b: // CSI
		return csi
	case 0x9d, 0x90, 0x98, 0x9e, 0x9f: // OSC, DCS, SOS, PM, APC
		return str
	}
	return st
}

// invisible reports whether r is a bidirectional control or another
// invisible format character that can make text look other than it is.
func invisible(r rune) bool {
	switch {
	case r == 0x061c: // ARABIC LETTER MARK
		return true
	case r == 0x200b || r == 0x200e || r == 0x200f: // ZWSP, LRM, RLM
		return true
	case r >= 0x202a && r <= 0x202e: // LRE, RLE, PDF, LRO, RLO
		return true
	case r >= 0x2060 && r <= 0x2064: // WORD JOINER, invisible operators
		return true
	case r >= 0x2066 && r <= 0x2069: // LRI, RLI, FSI, PDI
		return true
	case r >= 0x206a && r <= 0x206f: // deprecated format characters
		return true
	case r == 0xfeff: // BOM / ZWNBSP
		return true
	case r >= 0xfff9 && r <= 0xfffb: // interlinear annotation
		return true
	case r >= 0xe0000 && r <= 0xe007f: // tag characters
		return true
	}
	return false
}

// isClean is the fast path: printable ASCII (plus newline when multiline)
// needs no copy.
func isClean(s string, multiline bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			continue
		}
		if c == '\n' && multiline {
			continue
		}
		return false
	}
	return true
}
