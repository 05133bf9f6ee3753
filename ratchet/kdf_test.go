package ratchet

import "testing"

// BenchmarkKDFCK is one KDF_CK step (two HMAC-SHA-256).
func BenchmarkKDFCK(b *testing.B) {
	var ck [KeySize]byte
	for b.Loop() {
		ck, _ = kdfCK(&ck)
	}
}
