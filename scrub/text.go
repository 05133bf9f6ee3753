package scrub

import (
	"bufio"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// isText reports whether r holds plain UTF-8 text: valid UTF-8, no NUL and
// no C0 control other than tab, newline, carriage return and form feed. It
// reads to the end unless it finds a byte that is not text first.
func isText(r *bufio.Reader) (bool, error) {
	var carry []byte // an incomplete UTF-8 sequence at the end of a block
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		b := buf[:n]
		if len(carry) > 0 {
			b = append(carry, b...)
			carry = nil
		}
		for len(b) > 0 {
			c := b[0]
			if c < utf8.RuneSelf {
				if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' || c == 0x7f {
					return false, nil
				}
				b = b[1:]
				continue
			}
			if !utf8.FullRune(b) {
				if err != nil {
					return false, nil // truncated sequence at the end of the file
				}
				carry = append([]byte(nil), b...)
				break
			}
			ru, size := utf8.DecodeRune(b)
			if ru == utf8.RuneError && size <= 1 {
				return false, nil
			}
			b = b[size:]
		}
		if errors.Is(err, io.EOF) {
			return len(carry) == 0, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// markupExt reports whether a name's extension is one of the text formats
// that can carry metadata (HTML, SVG, XHTML): they go to mat2.
func markupExt(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".html", ".htm", ".shtml", ".xhtml", ".xht", ".xhtm", ".svg", ".svgz", ".xml", ".css":
		return true
	}
	return false
}
