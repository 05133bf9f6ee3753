package vault

import (
	"bytes"
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
