package tui

import (
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// splitText cuts text into parts of at most limit bytes whose
// concatenation is text. It cuts after a line break, else after a space,
// when one falls in the second half of a part, else between two
// characters as a person sees them (grapheme clusters: an emoji built from
// joined characters or a letter with its accents stays whole), and only as
// a last resort between two code points of one cluster longer than limit.
func splitText(text string, limit int) []string {
	if limit < utf8.UTFMax {
		limit = utf8.UTFMax
	}
	var parts []string
	for len(text) > limit {
		cut, nl, sp := 0, 0, 0
		rest, state := text, -1
		for len(rest) > 0 {
			var cl string
			cl, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
			if cut+len(cl) > limit {
				break
			}
			cut += len(cl)
			switch cl {
			case "\n", "\r\n":
				nl = cut
			case " ":
				sp = cut
			}
		}
		switch {
		case nl > limit/2:
			cut = nl
		case sp > limit/2:
			cut = sp
		case cut == 0:
			cut = limit
			for cut > 0 && !utf8.RuneStart(text[cut]) {
				cut--
			}
		}
		parts = append(parts, text[:cut])
		text = text[cut:]
	}
	return append(parts, text)
}
