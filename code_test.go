package sotto

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/sottochat/sotto/internal/contactcode"
)

func newTestCode(t testing.TB) string {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	c := &contactcode.Code{ID: pub}
	rand.Read(c.Auth[:])
	return c.String()
}

func TestCheckCode(t *testing.T) {
	s := newTestCode(t)
	if err := CheckCode(s); err != nil {
		t.Fatal(err)
	}
	err := CheckCode(s[:90])
	if !errors.Is(err, ErrBadCode) || err.Error() != "sotto: bad contact code: the code is truncated: it has 90 of 125 characters" {
		t.Fatalf("got %v", err)
	}
}

func TestQRCode(t *testing.T) {
	s := newTestCode(t)
	q := QRCode(s)
	lines := strings.Split(strings.TrimSuffix(q, "\n"), "\n")
	if len(lines) < 10 {
		t.Fatalf("only %d lines", len(lines))
	}
	w := len([]rune(lines[0]))
	for _, l := range lines {
		if len([]rune(l)) != w {
			t.Fatal("ragged QR")
		}
		for _, r := range l {
			if !strings.ContainsRune("█▀▄ ", r) {
				t.Fatalf("unexpected rune %q", r)
			}
		}
	}
	if w != 41+4 { // version 6 (41 modules) in alphanumeric mode at level M, plus the quiet zone
		t.Fatalf("QR width %d, want 45", w)
	}
	if QRCode(strings.Repeat("x", 5000)) != "" {
		t.Fatal("over-long text encoded")
	}
}
