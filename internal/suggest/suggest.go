// Package suggest finds the name a person most probably meant when the one
// they typed names nothing: "Bob" for the contact "bob", "ali" for "alice",
// "bbo" for "bob".
//
// It only ever produces text for an error message. Nothing may act on its
// answer (send to, remove, verify the suggested contact): a near name can be
// a different person, and a message that reaches the wrong one can hurt.
package suggest

import (
	"strings"
	"unicode/utf8"
)

// maxRunes bounds the names compared by edit distance, so that the work on
// a long typed string stays small: petnames are at most 64 bytes, and a
// typed name longer than this is not within a few edits of any of them.
const maxRunes = 72

// Name returns the one name of names that typed most probably meant, and
// false when none is close or when two are equally close (a guess between
// two people is no help). It tries, in order, and stops at the first rule
// any name meets:
//
//  1. the same name but for case ("Bob" → "bob");
//  2. a name that typed is the start of, ignoring case ("ali" → "alice");
//  3. the names within a small edit distance (insert, delete, replace or
//     swap two neighbouring characters, ignoring case): 1 for typed names
//     of up to 4 characters, 2 for longer ones; the one nearest.
//
// A name equal to typed is never suggested.
func Name(typed string, names []string) (string, bool) {
	if typed == "" || !utf8.ValidString(typed) {
		return "", false
	}
	low := strings.ToLower(typed)
	// Each rule that some name meets decides: more than one such name is
	// no suggestion, not a reason to try a looser rule.
	if s, n := matching(names, typed, func(n string) bool { return strings.EqualFold(n, typed) }); n > 0 {
		return s, n == 1
	}
	if s, n := matching(names, typed, func(n string) bool { return strings.HasPrefix(strings.ToLower(n), low) }); n > 0 {
		return s, n == 1
	}
	t := []rune(low)
	if len(t) > maxRunes {
		return "", false
	}
	limit := 1
	if len(t) > 4 {
		limit = 2
	}
	best, bestD, tie := "", limit+1, false
	for _, n := range names {
		if n == typed {
			continue
		}
		d := distance(t, []rune(strings.ToLower(n)), limit)
		switch {
		case d < bestD:
			best, bestD, tie = n, d, false
		case d == bestD:
			tie = true
		}
	}
	if bestD > limit || tie {
		return "", false
	}
	return best, true
}

// matching counts the names other than typed that match accepts, and
// returns one of them ("" when more than one).
func matching(names []string, typed string, match func(string) bool) (found string, n int) {
	for _, name := range names {
		if name != typed && match(name) {
			found = name
			n++
		}
	}
	if n > 1 {
		found = ""
	}
	return found, n
}

// distance is the optimal-string-alignment edit distance of a and b
// (insertions, deletions, substitutions and transpositions of neighbours),
// or limit+1 when it is larger than limit. Only the cells within limit of
// the diagonal are computed (any path through the others costs more than
// limit), so a long name costs O(len × limit), not O(len²).
func distance(a, b []rune, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit || len(b) > maxRunes {
		return limit + 1
	}
	far := limit + 1 // stands for every distance over the limit
	// Three rows: the one before the previous is needed for transpositions.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = min(j, far)
	}
	for i := 1; i <= len(a); i++ {
		lo, hi := max(1, i-limit), min(len(b), i+limit)
		// The cells just outside the band, which the band's cells read.
		cur[lo-1] = min(i, far)
		if hi < len(b) {
			cur[hi+1] = far
		}
		rowMin := far
		if lo == 1 {
			rowMin = cur[0] // a real cell: a's first i runes against nothing
		}
		for j := lo; j <= hi; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = min(v, far)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return far
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
