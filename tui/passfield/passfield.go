// Package passfield provides the masked passphrase field of the terminal UI.
//
// bubbles' textinput keeps what is typed in a []rune and hands it out as a
// string (Value), so a passphrase typed into it lives on in copies nobody can
// wipe. A [Field] instead moves each typed byte into a fixed-size memguard
// LockedBuffer (locked in RAM, never swapped, guarded by canary pages), zeroes
// the runes of the key message it came from, and wipes itself on [Field.Wipe].
// The passphrase leaves the field only through [Field.Copy], a fresh slice the
// caller hands at once to something that takes it into locked memory and
// wipes it (sotto.NewPassphrase).
//
// The locked buffer is taken on the first key and given back (wiped) by
// [Field.Wipe], so a field holds no locked memory while nobody types in it.
// memguard panics, after wiping every buffer of the process, when mlock
// fails; so the field asks for locked memory only when RLIMIT_MEMLOCK leaves
// room for it and for the vault's own budget ([Reserve] pages), and falls
// back to a fixed heap buffer, wiped the same way, when it does not.
//
// What Go cannot guarantee: the terminal driver and Bubble Tea's input reader
// see the bytes before the field does, and their buffers are not wiped; the
// heap fallback can be swapped out.
package passfield

import (
	"crypto/subtle"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/awnumar/memguard"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/sottochat/sotto/strength"
)

// MaxBytes is the longest passphrase a field takes, in bytes of UTF-8.
const MaxBytes = 512

// Reserve is the number of locked pages a field leaves free for the rest of
// the process (the vault opens up to six one-page secrets at once).
const Reserve = 8

// Field is a masked, single-line passphrase input. Call [New]; a Field
// should be destroyed with [Field.Destroy].
type Field struct {
	locked *memguard.LockedBuffer // nil until the first key, or when memory is short
	heap   []byte                 // the fallback when locked memory is short
	n      int                    // bytes used
	runes  int
	full   bool // the last input did not fit
}

// New returns an empty field.
func New() *Field { return &Field{} }

// bytes returns the buffer in use, nil if none.
func (f *Field) bytes() []byte {
	switch {
	case f.locked != nil:
		return f.locked.Bytes()
	case f.heap != nil:
		return f.heap
	}
	return nil
}

// grab returns the buffer, taking one if there is none.
func (f *Field) grab() []byte {
	if b := f.bytes(); b != nil {
		return b
	}
	if lockedRoom(pagesFor(MaxBytes) + Reserve) {
		if lb := memguard.NewBuffer(MaxBytes); lb.Size() == MaxBytes {
			f.locked = lb
			return lb.Bytes()
		}
	}
	f.heap = make([]byte, MaxBytes)
	return f.heap
}

// Locked reports whether the passphrase is held in locked memory (false
// when empty or in the heap fallback).
func (f *Field) Locked() bool { return f.locked != nil }

// Update applies a key message: printable runes (typed or pasted) are
// appended, backspace removes the last character, ctrl+u clears the field.
// It reports whether the message was consumed. Other messages are ignored.
func (f *Field) Update(msg tea.Msg) bool {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return false
	}
	switch k.Type {
	case tea.KeyRunes, tea.KeySpace:
		runes := k.Runes
		if k.Type == tea.KeySpace {
			runes = []rune{' '}
		}
		f.full = false
		var enc [utf8.UTFMax]byte
		for i, r := range runes {
			if r == '\n' || r == '\r' {
				// A pasted trailing newline is not part of the passphrase.
				runes[i] = 0
				continue
			}
			if !unicode.IsPrint(r) {
				runes[i] = 0
				continue
			}
			w := utf8.EncodeRune(enc[:], r)
			if f.n+w > MaxBytes {
				f.full = true
			} else {
				copy(f.grab()[f.n:], enc[:w])
				f.n += w
				f.runes++
			}
			runes[i] = 0 // wipe the key message's copy
		}
		clear(enc[:])
		return true
	case tea.KeyBackspace, tea.KeyCtrlH:
		f.full = false
		if f.n == 0 {
			return true
		}
		b := f.bytes()
		start := f.n - 1
		for start > 0 && !utf8.RuneStart(b[start]) {
			start--
		}
		clear(b[start:f.n])
		f.n = start
		f.runes--
		return true
	case tea.KeyCtrlU:
		f.Wipe()
		return true
	}
	return false
}

// Len returns the length of the passphrase in bytes.
func (f *Field) Len() int { return f.n }

// Runes returns the number of characters typed.
func (f *Field) Runes() int { return f.runes }

// Full reports whether the last input was cut because the field is full.
func (f *Field) Full() bool { return f.full }

// Copy returns the passphrase in a new slice. The caller owns it and must
// wipe it (sotto.NewPassphrase does).
func (f *Field) Copy() []byte {
	out := make([]byte, f.n)
	copy(out, f.bytes()[:f.n])
	return out
}

// Equal reports in constant time (for equal lengths) whether two fields hold
// the same passphrase.
func (f *Field) Equal(o *Field) bool {
	if f.n != o.n {
		return false
	}
	if f.n == 0 {
		return true
	}
	return subtle.ConstantTimeCompare(f.bytes()[:f.n], o.bytes()[:o.n]) == 1
}

// Wipe erases the passphrase and gives its locked memory back; the field
// stays usable.
func (f *Field) Wipe() {
	if f.locked != nil {
		f.locked.Destroy() // wipes, then unlocks and frees
		f.locked = nil
	}
	clear(f.heap)
	f.heap = nil
	f.n, f.runes, f.full = 0, 0, false
}

// Destroy wipes the field. It is Wipe, for symmetry with other secrets.
func (f *Field) Destroy() { f.Wipe() }

// View renders the field as a row of dots, at most width cells wide.
func (f *Field) View(width int) string {
	n := f.runes
	if width > 0 && n > width {
		n = width
	}
	return strings.Repeat("•", n)
}

// Check estimates the passphrase's strength with package strength, on the
// field's own (locked) bytes: nothing is copied out to do it.
func (f *Field) Check() strength.Estimate {
	if f.n == 0 {
		return strength.Estimate{}
	}
	return strength.Check(f.bytes()[:f.n])
}
