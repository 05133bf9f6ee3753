package passfield

import (
	"bytes"
	"runtime"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"golang.org/x/sys/unix"
)

func typeString(f *Field, s string) tea.KeyMsg {
	k := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
	f.Update(k)
	return k
}

func TestTypeBackspaceCopy(t *testing.T) {
	f := New()
	defer f.Destroy()
	k := typeString(f, "héllo wörld")
	for _, r := range k.Runes {
		if r != 0 {
			t.Fatalf("key message runes not wiped: %q", string(k.Runes))
		}
	}
	f.Update(tea.KeyMsg{Type: tea.KeyBackspace})
	f.Update(tea.KeyMsg{Type: tea.KeyBackspace})
	if got := f.Copy(); !bytes.Equal(got, []byte("héllo wör")) {
		t.Fatalf("Copy = %q", got)
	}
	if f.Runes() != 9 || f.View(0) != "•••••••••" {
		t.Fatalf("Runes = %d, View = %q", f.Runes(), f.View(0))
	}
	if f.View(4) != "••••" {
		t.Fatalf("View(4) = %q", f.View(4))
	}
	f.Update(tea.KeyMsg{Type: tea.KeySpace})
	if f.Runes() != 10 {
		t.Fatalf("space not taken")
	}
	f.Update(tea.KeyMsg{Type: tea.KeyCtrlU})
	if f.Len() != 0 || f.Runes() != 0 {
		t.Fatal("ctrl+u did not clear")
	}
}

func TestWipeZeroesBuffer(t *testing.T) {
	f := New()
	defer f.Destroy()
	typeString(f, "correct horse battery staple")
	f.Wipe()
	if f.bytes() != nil || f.Locked() {
		t.Fatal("Wipe kept a buffer")
	}
	// A heap buffer is zeroed in place (a locked one is unmapped by memguard).
	f.heap = make([]byte, MaxBytes)
	typeString(f, "ab")
	buf := f.heap
	f.Update(tea.KeyMsg{Type: tea.KeyBackspace})
	if buf[1] != 0 {
		t.Fatal("backspace left the removed byte in the buffer")
	}
	f.Wipe()
	for i, c := range buf {
		if c != 0 {
			t.Fatalf("byte %d not wiped", i)
		}
	}
}

func TestControlAndNewlineDropped(t *testing.T) {
	f := New()
	defer f.Destroy()
	typeString(f, "a\x1b[31mb\n")
	if got := f.Copy(); !bytes.Equal(got, []byte("a[31mb")) {
		t.Fatalf("Copy = %q", got)
	}
}

func TestMaxBytes(t *testing.T) {
	f := New()
	defer f.Destroy()
	typeString(f, string(bytes.Repeat([]byte("x"), MaxBytes+10)))
	if f.Len() != MaxBytes || !f.Full() {
		t.Fatalf("Len = %d, Full = %v", f.Len(), f.Full())
	}
}

func TestEqual(t *testing.T) {
	a, b := New(), New()
	defer a.Destroy()
	defer b.Destroy()
	typeString(a, "same passphrase")
	typeString(b, "same passphrase")
	if !a.Equal(b) {
		t.Fatal("equal fields compare unequal")
	}
	typeString(b, "!")
	if a.Equal(b) {
		t.Fatal("different fields compare equal")
	}
}

// Check estimates from the field's bytes: a field holding "abc" is weak,
// one holding four random words is not.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		in   string
		good bool
	}{{"", false}, {"abc", false}, {"Password1!", false}, {"vivid cactus sailor tundra", true}} {
		f := New()
		f.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(tc.in)})
		if e := f.Check(); e.Good() != tc.good {
			t.Errorf("Check(%q) = 10^%.1f, good %v; want good %v", tc.in, e.Log10, e.Good(), tc.good)
		}
		f.Destroy()
	}
}

func TestLockedWhenRoom(t *testing.T) {
	f := New()
	defer f.Destroy()
	if f.bytes() != nil {
		t.Fatal("a new field holds a buffer before the first key")
	}
	room := lockedRoom(pagesFor(MaxBytes) + Reserve)
	typeString(f, "x")
	if room != f.Locked() {
		t.Fatalf("room for locked memory: %v, field locked: %v", room, f.Locked())
	}
}

// With no locked memory to spare the field falls back to the heap instead of
// letting memguard panic.
func TestHeapFallbackWhenLimitLow(t *testing.T) {
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &old); err != nil {
		t.Skip(err)
	}
	used, ok := lockedNow()
	if !ok {
		t.Skip("no VmLck")
	}
	low := unix.Rlimit{Cur: used, Max: old.Max}
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &low); err != nil {
		t.Skip(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_MEMLOCK, &old)
	f := New()
	defer f.Destroy()
	typeString(f, "still works")
	if f.Locked() || string(f.Copy()) != "still works" {
		t.Fatalf("locked=%v copy=%q", f.Locked(), f.Copy())
	}
}

func TestLockedNow(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("VmLck is Linux's")
	}
	if _, ok := lockedNow(); !ok {
		t.Fatal("cannot read VmLck")
	}
}
