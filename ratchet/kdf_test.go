package ratchet

import (
	"crypto/hkdf"
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
// wiped: its digests and their saved states stay in its frame.
func TestKDFCKNoAlloc(t *testing.T) {
	want := 0.0
	if raceEnabled {
		// The race detector turns the zero padding of
		// sha256.Digest.AppendBinary (append of a make) into an allocation
		// of its own, once per saved state; it holds zeros only.
		want = 2
	}
	var ck [KeySize]byte
	if n := testing.AllocsPerRun(100, func() { ck, _ = kdfCK(&ck) }); n != want {
		t.Fatalf("kdfCK allocates %v times, want %v", n, want)
	}
}

// BenchmarkKDFCK is one KDF_CK step (two HMAC-SHA-256).
func BenchmarkKDFCK(b *testing.B) {
	var ck [KeySize]byte
	for b.Loop() {
		ck, _ = kdfCK(&ck)
	}
}

// TestKDFMatchesStdlib checks the fixed-buffer HMAC and HKDF of kdf.go (and
// KDF_RK and the continuity proofs built on them) against crypto/hmac and
// crypto/hkdf, for random keys, every message length hmacSHA256 takes and
// every output length the package asks of HKDF.
func TestKDFMatchesStdlib(t *testing.T) {
	for n := 0; n <= maxHMACMessage; n++ {
		var key [KeySize]byte
		rand.Read(key[:])
		msg := make([]byte, n)
		rand.Read(msg)
		m := hmac.New(sha256.New, key[:])
		m.Write(msg)
		var got [KeySize]byte
		hmacSHA256(&got, &key, msg)
		if !hmac.Equal(got[:], m.Sum(nil)) {
			t.Fatalf("HMAC over %d bytes differs from crypto/hmac", n)
		}
	}
	for _, c := range []struct {
		ikm  int
		info string
		out  int
	}{{32, labelMixKey, 64}, {64, labelRootKDF, 96}, {32, labelRootKDF, 96}, {64, labelEpochKeys, 208}, {0, "", 1}, {64, labelProofInitiator, 255 * 32}} {
		var salt [KeySize]byte
		rand.Read(salt[:])
		ikm := make([]byte, c.ikm)
		rand.Read(ikm)
		want, err := hkdf.Key(sha256.New, ikm, salt[:], c.info, c.out)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, c.out)
		hkdfSHA256(got, &salt, ikm, c.info)
		if !hmac.Equal(got, want) {
			t.Fatalf("HKDF(%d bytes, %q, %d) differs from crypto/hkdf", c.ikm, c.info, c.out)
		}
	}
	var rk, dh, pq [KeySize]byte
	rand.Read(rk[:])
	rand.Read(dh[:])
	rand.Read(pq[:])
	for _, withPQ := range []bool{false, true} {
		ikm := dh[:]
		p := (*[KeySize]byte)(nil)
		if withPQ {
			ikm, p = append(append([]byte(nil), dh[:]...), pq[:]...), &pq
		}
		want, _ := hkdf.Key(sha256.New, ikm, rk[:], labelRootKDF, 96)
		a, b, c := kdfRK(&rk, &dh, p)
		if !hmac.Equal(append(append(a[:], b[:]...), c[:]...), want) {
			t.Fatalf("KDF_RK (pq %v) differs from crypto/hkdf", withPQ)
		}
	}
	var h [32]byte
	rand.Read(h[:])
	m := hmac.New(sha256.New, pq[:])
	m.Write([]byte(labelProofResponder))
	m.Write(h[:])
	if p := continuityProof(&pq, labelProofResponder, &h); !hmac.Equal(p[:], m.Sum(nil)[:proofSize]) {
		t.Fatal("continuity proof differs from crypto/hmac")
	}
}

// TestKDFNoAlloc keeps the root KDF, HKDF and the proofs off the heap, where
// their keys and pads could not be wiped.
func TestKDFNoAlloc(t *testing.T) {
	if raceEnabled || testing.CoverMode() != "" {
		t.Skip("the race detector and coverage allocate")
	}
	var rk, dh, pq [KeySize]byte
	var h [32]byte
	if n := testing.AllocsPerRun(100, func() {
		rk, _, _ = kdfRK(&rk, &dh, &pq)
		pq, _, _ = kdfRK(&rk, &dh, nil)
		p := continuityProof(&rk, labelProofInitiator, &h)
		copy(h[:], p[:])
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
