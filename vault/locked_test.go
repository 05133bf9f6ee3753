package vault

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"testing"
)

// TestLockedBuffer: a Locked buffer is writable, keeps what is written and is
// gone after Destroy.
func TestLockedBuffer(t *testing.T) {
	l, err := NewLocked(5000)
	if err != nil {
		t.Fatal(err)
	}
	b := l.Bytes()
	if len(b) != 5000 || !bytes.Equal(b, make([]byte, 5000)) {
		t.Fatalf("new buffer: len %d, not zeroed", len(b))
	}
	copy(b, "ratchet state")
	if !bytes.HasPrefix(l.Bytes(), []byte("ratchet state")) {
		t.Fatal("written bytes not kept")
	}
	l.Destroy()
	if l.Bytes() != nil {
		t.Fatal("Bytes after Destroy")
	}
	l.Destroy() // twice is harmless
}

// TestLockedLeavesSpare: with an ordinary user's 64 KiB of locked memory
// NewLocked refuses (ErrLockedMemory, no crash), leaving that memory to the
// vault's secrets.
func TestLockedLeavesSpare(t *testing.T) {
	t.Parallel()
	out, err := runOrdinary(t, 64<<10, "TestLockedLimitChild", "VAULT_CHILD=lockedlimit")
	if err != nil || !bytes.Contains(out, []byte("LOCKED-CHILD-OK")) {
		t.Fatalf("child at 64 KiB: %v\n%s", err, out)
	}
}

func TestLockedLimitChild(t *testing.T) {
	if os.Getenv("VAULT_CHILD") != "lockedlimit" {
		t.Skip("runs as the child of TestLockedLeavesSpare")
	}
	l, err := NewLocked(100)
	if !errors.Is(err, ErrLockedMemory) || l != nil {
		t.Fatalf("NewLocked at 64 KiB: %v", err)
	}
	s, err := NewSecret([]byte("still works"))
	must(t, err)
	must(t, s.Open(func(b []byte) error { return nil }))
	fmt.Println("LOCKED-CHILD-OK")
}
