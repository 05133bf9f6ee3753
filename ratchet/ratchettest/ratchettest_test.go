package ratchettest

import (
	"crypto/rand"
	"testing"
	"time"
)

func TestHandshake(t *testing.T) {
	a, b := NewIdentity(t), NewIdentity(t)
	sa, sb := Handshake(t, a, b, nil, nil)
	m, err := sa.Encrypt(rand.Reader, []byte("hi"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := sb.Decrypt(time.Now(), m, nil)
	if err != nil || string(pt) != "hi" {
		t.Fatalf("%q %v", pt, err)
	}
	// Again, the other way round, chained to the first epoch.
	sb, sa = Handshake(t, b, a, sb, sa)
	m, _ = sb.Encrypt(rand.Reader, []byte("back"), nil)
	if pt, err := sa.Decrypt(time.Now(), m, nil); err != nil || string(pt) != "back" {
		t.Fatalf("%q %v", pt, err)
	}
}
