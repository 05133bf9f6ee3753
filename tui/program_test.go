package tui

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is the program's output, read by the test while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the output holds want (teatest's WaitFor: the
// program runs on its own goroutines, so the test polls its output).
func waitFor(t *testing.T, out *syncBuffer, from int, want string) int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		s := out.String()
		if i := strings.Index(s[from:], want); i >= 0 {
			return from + i + len(want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("output never showed %q; it ends with:\n%q", want, tail(out.String(), 2000))
	return 0
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestProgram runs the real Bubble Tea program on a pipe: alternate screen
// in and out, the constant window title, the passphrase never echoed, and
// nothing of a conversation drawn after the lock.
func TestProgram(t *testing.T) {
	eng := newHarness(t, true).eng // only for its seeded engine
	seed(eng)
	prof := &fakeProfile{eng: eng, exists: true, pass: []byte(testPass)}
	in, inW := io.Pipe()
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runProgram(ctx, prof, Config{}, withTestIO(in, out)...) }()
	write := func(s string) {
		if _, err := io.WriteString(inW, s); err != nil {
			t.Fatal(err)
		}
	}
	pos := waitFor(t, out, 0, "Unlock your Sotto profile")
	write(testPass) // typed, then enter: a read of text and enter together is a paste
	write("\r")
	pos = waitFor(t, out, pos, "Conversations")
	write("\r") // the newest: bob's
	pos = waitFor(t, out, pos, "Are you there?")
	// A paste without bracketed paste (all its bytes in one read): its line
	// breaks stay in the draft, nothing is sent until enter.
	calls := len(eng.Calls())
	write("first pasted line\rsecond pasted line\rthird pasted line\r")
	pos = waitFor(t, out, pos, "third pasted line")
	// The same with bracketed paste.
	write("\x1b[200~\rfourth\r\x1b[201~")
	pos = waitFor(t, out, pos, "fourth")
	time.Sleep(2 * pasteTail) // no longer the tail of a paste
	if len(eng.Calls()) != calls {
		t.Fatalf("a paste sent a message: %q", eng.Calls()[calls:])
	}
	write("\r")
	for deadline := time.Now().Add(time.Minute); len(eng.Calls()) == calls && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if c := eng.Calls(); len(c) != calls+1 || c[calls] != `Send alice bob "first pasted line\nsecond pasted line\nthird pasted line\n\nfourth"` {
		t.Fatalf("calls after enter: %q", c[calls:])
	}
	write("\x0c") // ctrl+l
	lockAt := waitFor(t, out, pos, "Sotto is locked")
	// The lock clears the screen. Bubble Tea runs the clear beside the
	// first frame of the lock screen, so it may come just before or just
	// after "Sotto is locked": wait for it before ctrl+c, whose own clear
	// must not stand in for it.
	clearedAt := waitFor(t, out, pos, "\x1b[2J")
	write("\x03") // ctrl+c
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the program did not quit on ctrl+c")
	}
	inW.Close()
	s := out.String()
	if !strings.Contains(s[:pos], "\x1b[?1049h") || !strings.Contains(s[lockAt:], "\x1b[?1049l") {
		t.Errorf("alternate screen not entered and left: %q", tail(s, 200))
	}
	if strings.Contains(s[clearedAt:], "Are you there?") {
		t.Error("conversation text drawn after the lock cleared the screen")
	}
	if strings.Contains(s, testPass) || strings.Contains(s, "horse") {
		t.Error("the passphrase reached the terminal")
	}
	if strings.Contains(s[lockAt:], "Are you there?") {
		t.Error("conversation text drawn after the lock")
	}
	for _, m := range regexp.MustCompile("\x1b\\][0-2];([^\x07\x1b]*)").FindAllStringSubmatch(s, -1) {
		if m[1] != "sotto" {
			t.Errorf("window title set to %q", m[1])
		}
	}
	if !eng.Closed() {
		t.Error("the engine was not closed when the program ended")
	}
}
