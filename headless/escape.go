package headless

import (
	"fmt"
	"unicode/utf8"
)

// escapeInvisible rewrites, inside an encoded JSON line, the characters
// encoding/json leaves raw that a terminal may act on or that hide text:
// DEL, the C1 controls (U+0080..U+009F, which include an 8-bit CSI) and the
// bidirectional formatting characters. They can only occur inside JSON
// strings, where \uXXXX means the same character, so the line decodes to
// the same value; a person who cats the output sees the escapes instead.
func escapeInvisible(line []byte) []byte {
	clean := true
	for _, c := range line {
		if c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return line
	}
	out := make([]byte, 0, len(line)+16)
	for i := 0; i < len(line); {
		r, n := utf8.DecodeRune(line[i:])
		if invisible(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, line[i:i+n]...)
		}
		i += n
	}
	return out
}

func invisible(r rune) bool {
	switch {
	case r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f: // ALM, LRM, RLM
		return true
	case r >= 0x202a && r <= 0x202e: // LRE, RLE, PDF, LRO, RLO
		return true
	case r >= 0x2066 && r <= 0x2069: // LRI, RLI, FSI, PDI
		return true
	}
	return false
}
