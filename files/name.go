package files

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxName is the longest file name, in bytes of UTF-8.
const MaxName = 255

// ErrName is wrapped by Check's errors.
var ErrName = errors.New("files: unsafe file name")

// badRune says why r may not appear in a file name, or "" if it may.
func badRune(r rune) string {
	switch {
	case r == '/' || r == '\\':
		return "a path separator"
	case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
		return "a control character"
	case r == 0x061c || r == 0x200e || r == 0x200f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069:
		return "a bidirectional control character"
	case r == 0x2028 || r == 0x2029:
		return "a line separator"
	case r == 0x00ad || r == 0x034f || r == 0x115f || r == 0x1160 || r == 0x17b4 || r == 0x17b5 ||
		r >= 0x180b && r <= 0x180f || r >= 0x200b && r <= 0x200d || r >= 0x2060 && r <= 0x2064 ||
		r >= 0x206a && r <= 0x206f || r == 0x3164 || r >= 0xfe00 && r <= 0xfe0f || r == 0xfeff ||
		r == 0xffa0 || r >= 0xfff0 && r <= 0xfffb || r >= 0xe0000 && r <= 0xe0fff || unicode.Is(unicode.Cf, r):
		return "an invisible character"
	case r == utf8.RuneError:
		return "invalid UTF-8"
	}
	return ""
}

// Check reports whether name is safe to show and to use as a file name in
// a directory the user chose: 1 to MaxName bytes of UTF-8, no path
// separator, no control, bidirectional-control or invisible character, no
// leading dot (a hidden file, "." or ".."), no leading or trailing space.
// The error says which rule the name breaks. A receiver refuses an offer
// whose name fails Check; a sender cleans its names first with Clean.
func Check(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: it is empty", ErrName)
	case len(name) > MaxName:
		return fmt.Errorf("%w: it is longer than %d bytes", ErrName, MaxName)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: it is not valid UTF-8", ErrName)
	case name[0] == '.':
		return fmt.Errorf("%w: it starts with a dot (a hidden file, or a path)", ErrName)
	}
	for _, r := range name {
		if why := badRune(r); why != "" {
			return fmt.Errorf("%w: it contains %s (U+%04X)", ErrName, why, r)
		}
	}
	if strings.TrimSpace(name) != name {
		return fmt.Errorf("%w: it starts or ends with white space", ErrName)
	}
	return nil
}

// Clean turns any string into a name that passes Check: path separators
// become "_", forbidden characters are dropped, leading dots and white
// space and trailing white space are trimmed, and a name too long is cut
// (keeping its extension). Nothing left gives "file".
func Clean(name string) string {
	name = strings.ToValidUTF8(name, "")
	var b strings.Builder
	for _, r := range name {
		switch why := badRune(r); {
		case r == '/' || r == '\\':
			b.WriteByte('_')
		case why == "":
			b.WriteRune(r)
		}
	}
	s := strings.TrimSpace(b.String())
	s = strings.TrimLeft(s, ". \t")
	s = strings.TrimSpace(s)
	if len(s) > MaxName {
		ext := filepath.Ext(s)
		if len(ext) > 16 || !utf8.ValidString(ext) {
			ext = ""
		}
		base := s[:MaxName-len(ext)]
		for !utf8.ValidString(base) {
			base = base[:len(base)-1]
		}
		s = strings.TrimSpace(base) + ext
	}
	if s == "" || Check(s) != nil {
		return "file"
	}
	return s
}
