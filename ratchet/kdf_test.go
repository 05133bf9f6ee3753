package ratchet

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// TestKDFCKMatchesHMAC checks the stack-only HMAC of kdfCK against
// crypto/hmac for random chain keys and the all-zero and all-ones keys.
func TestKDFCKMatchesHMAC(t *testing.T) {
	keys := [][KeySize]byte{{}, {}}
	for i := range keys[1] {
		keys[1][i] = 0xff
	}
	for range 64 {
		var k [KeySize]byte
		rand.Read(k[:])
		keys = append(keys, k)
	}
	for _, ck := range keys {
		m := hmac.New(sha256.New, ck[:])
		m.Write([]byte{ckMessageByte})
		wantMK := m.Sum(nil)
		m = hmac.New(sha256.New, ck[:])
		m.Write([]byte{ckChainByte})
		wantNext := m.Sum(nil)
		next, mk := kdfCK(&ck)
		if !hmac.Equal(mk[:], wantMK) || !hmac.Equal(next[:], wantNext) {
			t.Fatalf("kdfCK(%x) differs from crypto/hmac", ck)
		}
	}
}

// TestKDFCKNoAlloc keeps KDF_CK off the heap, where its keys could not be
// wiped.
func TestKDFCKNoAlloc(t *testing.T) {
	var ck [KeySize]byte
	if n := testing.AllocsPerRun(100, func() { ck, _ = kdfCK(&ck) }); n != 0 {
		t.Fatalf("kdfCK allocates %v times", n)
	}
}

// BenchmarkKDFCK is one KDF_CK step (two HMAC-SHA-256).
func BenchmarkKDFCK(b *testing.B) {
	var ck [KeySize]byte
	for b.Loop() {
		ck, _ = kdfCK(&ck)
	}
}
