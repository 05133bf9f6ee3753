package tui

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// chunks is a reader that returns one chunk per Read, as a terminal
// returns what arrived since the last read.
type chunks struct{ c []string }

func (r *chunks) Read(b []byte) (int, error) {
	if len(r.c) == 0 {
		return 0, io.EOF
	}
	n := copy(b, r.c[0])
	if n < len(r.c[0]) {
		r.c[0] = r.c[0][n:]
	} else {
		r.c = r.c[1:]
	}
	return n, nil
}

// reads returns what each Read of a pasteReader over the chunks returns,
// with the clock advancing by gap before each read.
func reads(gap time.Duration, in ...string) []string {
	now := t0
	p := newPasteReader(&chunks{in}, func() time.Time { return now })
	var out []string
	buf := make([]byte, 256) // Bubble Tea's buffer
	for {
		now = now.Add(gap)
		n, err := p.Read(buf)
		if n > 0 {
			out = append(out, string(buf[:n]))
		}
		if err != nil {
			return out
		}
	}
}

func TestPasteReader(t *testing.T) {
	br := func(s string) string { return pasteStart + s + pasteEnd }
	cases := []struct {
		name string
		gap  time.Duration
		in   []string
		want []string
	}{
		{"typed keys pass", time.Second, []string{"a", "b", "\r"}, []string{"a", "b", "\r"}},
		{"a paste is bracketed", time.Second, []string{"one\rtwo\rthree"}, []string{br("one\rtwo\rthree")}},
		{"LF too", time.Second, []string{"one\ntwo"}, []string{br("one\ntwo")}},
		{"a line and its enter in one read is typing (tmux send-keys 'text' Enter)", time.Second,
			[]string{"hello world\r"}, []string{"hello world\r"}},
		{"CR LF and tabs too", time.Second, []string{"a\tb\r\n"}, []string{"a\tb\r\n"}},
		{"a paste's trailing line breaks stay in it", time.Second, []string{"one\rtwo\r\r"}, []string{br("one\rtwo\r\r")}},
		{"one line of a paste, read alone right after its start, is still the paste", time.Millisecond,
			[]string{"one\rtwo\r", "three\r"}, []string{br("one\rtwo\r"), br("three\r")}},
		{"a line typed long after a paste is typing", time.Second,
			[]string{"one\rtwo", "three\r"}, []string{br("one\rtwo"), "three\r"}},
		{"text alone is not touched", time.Second, []string{"a whole word"}, []string{"a whole word"}},
		{"the paste's last line break, read alone, is its tail", time.Millisecond, []string{"one\rtwo", "\r"}, []string{br("one\rtwo"), br("\r")}},
		{"an enter long after a paste sends", time.Second, []string{"one\rtwo", "\r"}, []string{br("one\rtwo"), "\r"}},
		{"alt+enter", time.Second, []string{"\x1b\r"}, []string{"\x1b\r"}},
		{"an escape sequence with text", time.Second, []string{"\x1b[Aa\r"}, []string{"\x1b[Aa\r"}},
		{"a control key with text", time.Second, []string{"ab\x03\r"}, []string{"ab\x03\r"}},
		{"the terminal's own paste, across reads", time.Millisecond,
			[]string{"\x1b[200~one\r", "two\rthree", "\r\x1b[201~"}, []string{"\x1b[200~one\r", "two\rthree", "\r\x1b[201~"}},
		{"a marker cut by a read", time.Millisecond,
			[]string{"\x1b[20", "0~one\rtwo", "\x1b[2", "01~"}, []string{"\x1b[20", "0~one\rtwo", "\x1b[2", "01~"}},
		{"after the terminal's paste, ours again", time.Second,
			[]string{"\x1b[200~a\rb\x1b[201~", "c\rd"}, []string{"\x1b[200~a\rb\x1b[201~", br("c\rd")}},
		{"a character cut by a read waits for its end", time.Second,
			[]string{"ab\xc3", "\xa9\rcd"}, []string{"ab", br("é\rcd")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := reads(c.gap, c.in...)
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Fatalf("reads %q, want %q", got, c.want)
			}
		})
	}
}

// Whatever the cut into reads, the bytes come out unchanged but for the
// paste markers added around whole reads, and no multi-byte character is
// cut inside a paste.
func TestPasteReaderKeepsEveryByte(t *testing.T) {
	text := strings.Repeat("line é日本👩‍👩‍👧 text\r", 300)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var in []string
		for rest := text; rest != ""; {
			n := min(1+rng.IntN(300), len(rest))
			in, rest = append(in, rest[:n]), rest[n:]
		}
		var got bytes.Buffer
		for _, r := range reads(time.Millisecond, in...) {
			if inner, ok := strings.CutPrefix(r, pasteStart); ok {
				inner, ok = strings.CutSuffix(inner, pasteEnd)
				if !ok {
					t.Fatalf("unterminated paste %q", r)
				}
				if !utf8.ValidString(inner) {
					t.Fatalf("character cut in %q", inner)
				}
				r = inner
			}
			got.WriteString(r)
		}
		if got.String() != text {
			t.Fatal("bytes lost or changed")
		}
	}
}
