package sanitize

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello, world", "hello, world"},
		{"newlines kept", "a\nb\n", "a\nb\n"},
		{"carriage return dropped", "a\r\nb", "a\nb"},
		{"tab to spaces", "a\tb", "a    b"},
		{"sgr colour", "\x1b[31mred\x1b[0m", "red"},
		{"cursor movement", "ok\x1b[2J\x1b[1;1Hfake", "okfake"},
		{"csi with private params", "\x1b[?1049hx\x1b[?25l", "x"},
		{"osc title with bel", "\x1b]0;pwned\x07after", "after"},
		{"osc title with st", "\x1b]2;pwned\x1b\\after", "after"},
		{"osc 52 clipboard", "\x1b]52;c;cm0gLXJmIH4=\x07x", "x"},
		{"osc 8 hyperlink", "\x1b]8;;http://evil/\x1b\\click\x1b]8;;\x1b\\", "click"},
		{"dcs", "\x1bPq#0;2;0;0;0\x1b\\z", "z"},
		{"apc", "\x1b_Gf=100;AAAA\x1b\\z", "z"},
		{"two-byte esc", "\x1b7a\x1b8b\x1bcc", "abc"},
		{"c1 csi utf8", "\u009b31mx", "x"},
		{"c1 osc utf8 with st", "\u009d0;t\u009cx", "x"},
		{"c1 csi raw byte", "\x9b31mx", "x"},
		{"c1 osc raw byte with raw st", "\x9d0;t\x9cx", "x"},
		{"other c1", "a\u0085b\u008ec", "abc"},
		{"bell and backspace", "a\x07\x08b", "ab"},
		{"nul and del", "a\x00b\x7fc", "abc"},
		{"bidi override", "abc\u202edcba\u202c", "abcdcba"},
		{"bidi isolates", "\u2066x\u2069\u2067y\u2068", "xy"},
		{"lrm rlm alm", "\u200ea\u200fb\u061c", "ab"},
		{"zero width space and bom", "a\u200bb\ufeffc", "abc"},
		{"tag characters", "a\U000E0041b", "ab"},
		{"zwj kept", "👩\u200d💻", "👩\u200d💻"},
		{"unicode kept", "héllo, мир, 世界", "héllo, мир, 世界"},
		{"invalid utf8", "a\xffb", "a\ufffdb"},
		{"unterminated csi", "x\x1b[31", "x"},
		{"unterminated osc swallows rest", "x\x1b]0;title", "x"},
		{"csi aborted by newline", "\x1b[3\nb", "\nb"},
		{"esc esc", "\x1b\x1b[31mx", "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Text(tc.in); got != tc.want {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLine(t *testing.T) {
	t.Parallel()
	if got, want := Line("a\nb\tc\r"), "a b c"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
	if got, want := Line("\x1b]0;x\x07bob\u202e"), "bob"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
}

func TestCleanReturnsSameString(t *testing.T) {
	s := "nothing to do here"
	if got := Text(s); got != s {
		t.Fatalf("Text changed a clean string: %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { _ = Text(s) }); n != 0 {
		t.Errorf("Text allocated %v times on a clean string", n)
	}
}

// checkInert fails if out still holds anything a terminal would interpret.
func checkInert(t *testing.T, in, out string, multiline bool) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("output is not valid UTF-8: %q (input %q)", out, in)
	}
	for _, r := range out {
		if r == '\n' && multiline {
			continue
		}
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || invisible(r) {
			t.Fatalf("output holds %U: %q (input %q)", r, out, in)
		}
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{
		"plain", "\x1b[31mred", "\x1b]0;t\x07", "\x9b1m", "\u202e", "a\xffb",
		"\x1bP\x1b\\", "\x1b]52;c;AAAA\x1b\\", "\t\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		text := Text(in)
		checkInert(t, in, text, true)
		line := Line(in)
		checkInert(t, in, line, false)
		if strings.ContainsRune(line, '\n') {
			t.Fatalf("Line kept a newline: %q", line)
		}
		// Sanitising is idempotent: clean output stays as it is.
		if again := Text(text); again != text {
			t.Fatalf("Text not idempotent: %q -> %q", text, again)
		}
	})
}

func BenchmarkText(b *testing.B) {
	msg := strings.Repeat("hello \x1b[31mworld\x1b[0m héllo ", 20)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		_ = Text(msg)
	}
}
