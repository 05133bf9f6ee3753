package vault

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"testing"
)

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
