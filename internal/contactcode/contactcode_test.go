package contactcode

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/sottochat/sotto/onion"
)

func testCode(t testing.TB) *Code {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &Code{ID: pub}
	rand.Read(c.Auth[:])
	return c
}

func TestCodeRoundTrip(t *testing.T) {
	for range 50 {
		c := testCode(t)
		s := c.String()
		if len(s) != Len {
			t.Fatalf("len %d, want %d", len(s), Len)
		}
		for _, v := range []string{s, strings.ToUpper(s), "  " + s + "\n", wrap(s, 40, "\n"), wrap(s, 64, "\r\n  "), wrap(strings.ToUpper(s), 8, " ")} {
			got, err := Parse(v)
			if err != nil {
				t.Fatalf("parse %q: %v", v, err)
			}
			if !got.ID.Equal(c.ID) || got.Auth != c.Auth || got.String() != s {
				t.Fatal("round trip changed the code")
			}
		}
	}
}

func TestCodeErrors(t *testing.T) {
	c := testCode(t)
	s := c.String()
	swap := func(i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := []struct {
		name, code, want string
	}{
		{"empty", "", "empty"},
		{"other", "hello world", "starts with sotto1:"},
		{"newer", "sotto2:" + s[7:], "version 2"},
		{"truncated", s[:100], "truncated: it has 100 of 125"},
		{"long", s + "a", "too long"},
		{"bad char", s[:20] + "!" + s[21:], "character 21 is not allowed"},
		{"onion typo", swap(10), "onion address"},
		{"key typo", swap(70), "checksum does not match"},
		{"check typo", swap(122), "checksum does not match"},
		{"non-canonical key", s[:7+56+1+51] + "7" + s[7+56+1+52:], "character 116 is mistyped"},
		{"digit in key", s[:7+56+1] + "1" + s[7+56+2:], "character 65 is mistyped"},
		{"moved colon", s[:8] + ":" + s[9:], "four parts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := check(tc.code)
			if !errors.Is(err, ErrBad) {
				t.Fatalf("got %v, want ErrBad", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), onion.AddressFromPublicKey(c.ID)) {
				t.Fatal("error echoes the onion address")
			}
		})
	}
	if err := check(s); err != nil {
		t.Fatal(err)
	}
}

// Every single-character substitution and every truncation of a code is refused.
func TestCodeEveryTypoRefused(t *testing.T) {
	s := testCode(t).String()
	alphabet := "abcdefghijklmnopqrstuvwxyz234567:"
	for i := 0; i < len(s); i++ {
		for _, r := range alphabet {
			if byte(r) == s[i] {
				continue
			}
			bad := s[:i] + string(r) + s[i+1:]
			if check(bad) == nil {
				t.Fatalf("typo at %d (%c) accepted", i, r)
			}
		}
		if i > 0 && check(s[:i]) == nil {
			t.Fatalf("truncation to %d accepted", i)
		}
	}
}

func check(s string) error { _, err := Parse(s); return err }

// wrap cuts s into lines of n characters joined by sep, as a mail client or
// a narrow terminal does to a long code.
func wrap(s string, n int, sep string) string {
	var parts []string
	for len(s) > n {
		parts = append(parts, s[:n])
		s = s[n:]
	}
	return strings.Join(append(parts, s), sep)
}

// Issue 18: a contact code wrapped across lines when it was copied is read
// as one code; errors still count the code's own characters.
func TestCodeWrappedAcrossLines(t *testing.T) {
	c := testCode(t)
	s := c.String()
	for _, in := range []string{
		s[:60] + "\n" + s[60:],
		s[:60] + "\r\n" + s[60:],
		"\t" + s[:30] + " \n\t " + s[30:90] + "\u00a0" + s[90:] + "\n\n",
		wrap(s, 1, " "),
	} {
		got, err := Parse(in)
		if err != nil {
			t.Fatalf("wrapped code %q refused: %v", in, err)
		}
		if !got.ID.Equal(c.ID) || got.Auth != c.Auth {
			t.Fatal("wrapped code parsed to other keys")
		}
	}
	bad := s[:20] + "\n!" + s[21:]
	if err := check(bad); err == nil || !strings.Contains(err.Error(), "character 21 is not allowed") {
		t.Fatalf("error for a wrapped code with a bad character: %v", err)
	}
	if err := check(strings.Repeat(" ", 16*Len) + s); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("an oversized input: %v", err)
	}
}

// The example of docs/PROTOCOL.md Part 2: the identity whose Ed25519 seed is
// 32 bytes of 0x01 and the client-auth public key of 32 bytes of 0x02.
func TestDocExample(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	c := &Code{ID: priv.Public().(ed25519.PublicKey)}
	copy(c.Auth[:], bytes.Repeat([]byte{2}, 32))
	doc, err := os.ReadFile("../../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "    "+c.String()+"\n") {
		t.Fatalf("docs/PROTOCOL.md lacks the example code %s", c.String())
	}
}
