package sotto

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHardeningIsReported: what vault.Harden could not do is the first
// event of an opened profile (every interface shows it: the TUI's status
// line, headless's "error" event with code "hardening"), not a --debug
// line.
func TestHardeningIsReported(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "p")
	o := Options{ProfileDir: dir, Offline: true, unsafeVaultWork: 10}
	if err := Init(ctx, o, pass("pw")); err != nil {
		t.Fatal(err)
	}
	o.Hardening = errors.New("vault: hardening: PR_SET_DUMPABLE: operation not permitted")
	e, err := Open(ctx, o, pass("pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	select {
	case ev := <-e.Events():
		ee, ok := ev.(ErrorEvent)
		if !ok || !errors.Is(ee.Err, ErrHardening) || !strings.Contains(ee.Err.Error(), "PR_SET_DUMPABLE") {
			t.Fatalf("first event %#v, want an ErrorEvent wrapping ErrHardening that says what failed", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}

	// Nothing to report: no such event.
	e.Close()
	o.Hardening = nil
	e, err = Open(ctx, o, pass("pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	select {
	case ev := <-e.Events():
		if ee, ok := ev.(ErrorEvent); ok && errors.Is(ee.Err, ErrHardening) {
			t.Fatalf("a hardening warning with nothing to report: %v", ee.Err)
		}
	case <-time.After(200 * time.Millisecond):
	}
}
