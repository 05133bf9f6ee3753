package strength

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		pass string
		good bool
		max  Level // the estimate is at most this level
	}{
		{"", false, Empty},
		{"abc", false, VeryWeak},
		{"password1", false, VeryWeak},
		{"Password1!", false, Weak},
		{"qwertyuiop", false, VeryWeak},
		{"two words", false, Weak},
		{"correct horse battery staple", true, Strong},
		{"vivid cactus sailor tundra embassy", true, Strong},
	}
	for _, c := range cases {
		e := Check([]byte(c.pass))
		if e.Good() != c.good || e.Level() > c.max {
			t.Errorf("%q: log10 %.1f, level %s, good %v; want good %v, level at most %s", c.pass, e.Log10, e.Level(), e.Good(), c.good, c.max)
		}
	}
}

// Check reads only the first MaxBytes bytes, cut on a character boundary,
// and never writes.
func TestCheckLongAndUnchanged(t *testing.T) {
	p := []byte(strings.Repeat("é", MaxBytes) + "tail")
	orig := string(p)
	Check(p)
	if string(p) != orig {
		t.Fatal("Check changed its input")
	}
	weak := []byte(strings.Repeat("a", 1000))
	if e := Check(weak); e.Good() {
		t.Fatalf("1000 a's: log10 %.1f", e.Log10)
	}
}

func TestCrackTime(t *testing.T) {
	for _, c := range []struct {
		log10 float64
		want  string
	}{
		{0, "less than a second"}, {5, "5 seconds"}, {7, "8 minutes"}, {9, "14 hours"},
		{10, "6 days"}, {12, "about 2 years"}, {13, "about 16 years"}, {14, "centuries"}, {20, "centuries"},
	} {
		if got := (Estimate{c.log10}).CrackTime(); got != c.want {
			t.Errorf("10^%v guesses: %q, want %q", c.log10, got, c.want)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	p := []byte("a journalist's passphrase with l33t 5ubst1tut10ns & dates 12/05/1999")
	for b.Loop() {
		Check(p)
	}
}
