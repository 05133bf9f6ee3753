package suggest

import (
	"fmt"
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	contacts := []string{"bob", "alice", "carol", "editor-night", "José"}
	cases := []struct {
		name, typed string
		names       []string
		want        string // "" = no suggestion
	}{
		{"case", "Bob", contacts, "bob"},
		{"case non-ASCII", "JOSÉ", contacts, "José"},
		{"prefix", "ali", contacts, "alice"},
		{"prefix ignoring case", "Edit", contacts, "editor-night"},
		{"one typo", "bbo", contacts, "bob"},
		{"one missing letter", "alce", contacts, "alice"},
		{"two typos in a long name", "editor-nihgt", contacts, "editor-night"},
		{"too far", "zzz", contacts, ""},
		{"two typos in a short name are too many", "obx", contacts, ""},
		{"case ambiguous", "Bob", []string{"bob", "BOB"}, ""},
		{"prefix ambiguous", "a", []string{"alice", "anna"}, ""},
		{"distance tie", "bo", []string{"bob", "boa", "zed"}, ""},
		// "ann" is a prefix of "anna" only; it must not fall through to
		// the looser edit-distance rule, which would also find "ana".
		{"stricter rule decides", "ann", []string{"anna", "ana"}, "anna"},
		{"ambiguous stricter rule stops", "an", []string{"anna", "anne", "bn"}, ""},
		{"no contacts", "bob", nil, ""},
		{"empty", "", contacts, ""},
		{"invalid UTF-8", "b\xffb", contacts, ""},
		{"very long", strings.Repeat("b", 10000), contacts, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := Name(c.typed, c.names)
			if ok != (c.want != "") || got != c.want {
				t.Fatalf("Name(%q) = %q, %v; want %q", c.typed, got, ok, c.want)
			}
		})
	}
}

func TestDistance(t *testing.T) {
	cases := []struct {
		a, b  string
		limit int
		want  int
	}{
		{"bob", "bob", 2, 0},
		{"bob", "bbo", 2, 1},  // a swap of neighbours is one edit
		{"bob", "bo", 2, 1},   // a deletion
		{"bob", "boba", 2, 1}, // an insertion
		{"bob", "rob", 2, 1},  // a substitution
		{"kitten", "sitting", 3, 3},
		{"kitten", "sitting", 2, 3}, // over the limit: limit+1
		{"a", "abcdef", 2, 3},
	}
	for _, c := range cases {
		if got := distance([]rune(c.a), []rune(c.b), c.limit); got != c.want {
			t.Errorf("distance(%q, %q, %d) = %d, want %d", c.a, c.b, c.limit, got, c.want)
		}
	}
}

// BenchmarkNameManyContacts is the cost of one failed lookup's suggestion
// for an identity with 500 contacts of 60 characters that differ only at
// their end, the worst case for the edit distance (no early stop): the
// engine computes it under its lock.
func BenchmarkNameManyContacts(b *testing.B) {
	names := make([]string, 500)
	for i := range names {
		names[i] = strings.Repeat("x", 56) + fmt.Sprintf("%04d", i*7)
	}
	typed := strings.Repeat("x", 56) + "zzzz"
	for b.Loop() {
		Name(typed, names)
	}
}

// TestDistanceBandMatchesFullTable checks the banded computation against
// the whole table on every pair of short strings over a small alphabet.
func TestDistanceBandMatchesFullTable(t *testing.T) {
	full := func(a, b []rune) int {
		d := make([][]int, len(a)+1)
		for i := range d {
			d[i] = make([]int, len(b)+1)
			d[i][0] = i
		}
		for j := range d[0] {
			d[0][j] = j
		}
		for i := 1; i <= len(a); i++ {
			for j := 1; j <= len(b); j++ {
				cost := 1
				if a[i-1] == b[j-1] {
					cost = 0
				}
				d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
				if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
					d[i][j] = min(d[i][j], d[i-2][j-2]+1)
				}
			}
		}
		return d[len(a)][len(b)]
	}
	var words []string
	var gen func(prefix string)
	gen = func(prefix string) {
		words = append(words, prefix)
		if len(prefix) < 5 {
			for _, c := range "abc" {
				gen(prefix + string(c))
			}
		}
	}
	gen("")
	for _, a := range words {
		for _, b := range words {
			for limit := 1; limit <= 3; limit++ {
				want := min(full([]rune(a), []rune(b)), limit+1)
				if got := distance([]rune(a), []rune(b), limit); got != want {
					t.Fatalf("distance(%q, %q, %d) = %d, want %d", a, b, limit, got, want)
				}
			}
		}
	}
}
