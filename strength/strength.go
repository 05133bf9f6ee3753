// Package strength estimates how many guesses it would take to find a
// passphrase, with Dropbox's zxcvbn ([zxcvbn]) as ported to Go by
// github.com/trustelem/zxcvbn: dictionaries of common passwords, names and
// words (also spelled backwards or in l33t), keyboard patterns, dates,
// repeats and sequences, rather than a count of character classes, which
// calls "Password1!" strong.
//
// The CLI (`sotto init`) and the terminal UI use the same [Check] and the
// same bar ([Estimate.Good]): below it they warn and go on only when the
// person confirms.
//
// # The passphrase stays out of Go strings
//
// zxcvbn takes a string. [Check] hands it a string that aliases the
// caller's bytes (locked memory, when the caller keeps the passphrase
// there): no copy is made to call it. What zxcvbn allocates while it works
// (lower-cased copies, substrings, regexp state) is allocated inside
// internal/erase.Do, which, in a build with GOEXPERIMENT=runtimesecret (the
// Makefile's), erases the stack and registers it used and zeroes those
// allocations when the garbage collector frees them; call erase.Collect
// after the last estimate to make that happen at once. Only the number of
// guesses leaves. Without runtimesecret the allocations are freed
// unzeroed, like any Go string (internal/erase says what that means).
//
// # Cost
//
// zxcvbn's matching grows quickly with the length of its input (tens of
// milliseconds at 64 bytes, close to a second at 128 on a laptop), so
// [Check] looks at the first [MaxBytes] bytes: a longer passphrase counts
// as at least as strong as its beginning.
//
// [zxcvbn]: https://github.com/dropbox/zxcvbn
package strength

import (
	"fmt"
	"math"
	"unicode/utf8"
	"unsafe"

	"github.com/sottochat/sotto/internal/erase"
	"github.com/trustelem/zxcvbn"
)

// MaxBytes is how much of a passphrase Check looks at.
const MaxBytes = 64

// GoodLog10 is the bar: a passphrase needs at least 10^GoodLog10 guesses
// (by zxcvbn's estimate; its own top score starts at 10^10) to pass without
// a warning. At the [AttackRate] that is a year and a half on average, for
// an attacker who has the vault file and spends thousands of machines on it.
const GoodLog10 = 12

// AttackRate is the guessing rate, per second, that crack times assume: a
// well-equipped attacker with the profile's vault file, against the
// vault's scrypt (about a second per guess on one computer, calibrated at
// creation), running on thousands of machines.
const AttackRate = 1e4

// Estimate is what Check found.
type Estimate struct {
	// Log10 is log10 of the number of guesses zxcvbn expects an attacker
	// to need; 0 for an empty passphrase.
	Log10 float64
}

// Level is an Estimate in words, for a bar or a label.
type Level int

const (
	Empty    Level = iota
	VeryWeak       // under 10^6 guesses: minutes at most
	Weak           // under 10^9
	Fair           // under 10^12 (the bar)
	Good           // under 10^15
	Strong         // 10^15 or more
)

func (l Level) String() string {
	switch l {
	case Empty:
		return "empty"
	case VeryWeak:
		return "very weak"
	case Weak:
		return "weak"
	case Fair:
		return "fair"
	case Good:
		return "good"
	}
	return "strong"
}

// Check estimates the passphrase in pass (its first MaxBytes bytes; pass is
// only read). See the package doc for how the passphrase stays out of Go
// strings.
func Check(pass []byte) Estimate {
	if len(pass) == 0 {
		return Estimate{}
	}
	n := min(len(pass), MaxBytes)
	for n > 0 && n < len(pass) && !utf8.RuneStart(pass[n]) {
		n-- // whole characters only
	}
	var e Estimate
	erase.Do(func() {
		s := unsafe.String(unsafe.SliceData(pass), n) // aliases pass: no copy
		g := zxcvbn.PasswordStrength(s, nil).Guesses
		if g < 1 {
			g = 1
		}
		e.Log10 = math.Log10(g)
	})
	return e
}

// Level says what the estimate amounts to.
func (e Estimate) Level() Level {
	switch {
	case e.Log10 <= 0:
		return Empty
	case e.Log10 < 6:
		return VeryWeak
	case e.Log10 < 9:
		return Weak
	case e.Log10 < GoodLog10:
		return Fair
	case e.Log10 < 15:
		return Good
	}
	return Strong
}

// Good reports whether the passphrase clears the bar (no warning needed).
func (e Estimate) Good() bool { return e.Log10 >= GoodLog10 }

// Percent maps the estimate onto 0..100 for a bar: 10^20 guesses and more
// fill it.
func (e Estimate) Percent() int {
	return int(math.Round(math.Min(math.Max(e.Log10, 0), 20) * 5))
}

// CrackTime says how long the attacker of [AttackRate] would need on
// average (half the guesses), in words: "less than a second", "3 hours",
// "about 40 years", "centuries".
func (e Estimate) CrackTime() string {
	sec := math.Pow(10, e.Log10) / 2 / AttackRate
	const (
		minute = 60
		hour   = 60 * minute
		day    = 24 * hour
		year   = 365.25 * day
	)
	unit := func(v float64, one, many string) string {
		n := int(math.Round(v))
		if n <= 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	switch {
	case sec < 1:
		return "less than a second"
	case sec < minute:
		return unit(sec, "second", "seconds")
	case sec < hour:
		return unit(sec/minute, "minute", "minutes")
	case sec < day:
		return unit(sec/hour, "hour", "hours")
	case sec < year:
		return unit(sec/day, "day", "days")
	case sec < 100*year:
		return "about " + unit(sec/year, "year", "years")
	}
	return "centuries"
}

// Advice is one line for a passphrase below the bar.
const Advice = "five or more random words make a strong passphrase; a line from a book or a song does not"
