package ratchet

import (
	"crypto/rand"
	"testing"
	"time"
)

// BenchmarkHandshake is a full handshake, both sides (four messages).
func BenchmarkHandshake(b *testing.B) {
	x, y := newParty(b), newParty(b)
	for b.Loop() {
		handshake(b, x, y, nil, nil)
	}
}

// BenchmarkSymmetricStep encrypts and decrypts a 1 KiB message in one
// sending chain (no DH step). The chain measured is the initiator's chain 9,
// an offer chain: every header carries the 1184-byte ML-KEM key, as on one
// chain in PQPeriod (and an answer chain carries a 1088-byte ciphertext).
// BenchmarkSymmetricStepPlain measures a chain without either.
func BenchmarkSymmetricStep(b *testing.B) {
	benchmarkSymmetricStep(b, PQPeriod, flagEK)
}

// BenchmarkSymmetricStepPlain is BenchmarkSymmetricStep on a chain whose
// headers carry no post-quantum field (the initiator's chain 7).
func BenchmarkSymmetricStepPlain(b *testing.B) {
	benchmarkSymmetricStep(b, PQPeriod-1, 0)
}

func benchmarkSymmetricStep(b *testing.B, rounds int, flags byte) {
	x, y := newParty(b), newParty(b)
	sa, sb := handshake(b, x, y, nil, nil)
	pt := make([]byte, 1024)
	ad := []byte("ad")
	now := time.Now()
	for range rounds {
		mustDecrypt(b, sb, mustEncrypt(b, sa, "x"), "x")
		mustDecrypt(b, sa, mustEncrypt(b, sb, "y"), "y")
	}
	mustDecrypt(b, sb, mustEncrypt(b, sa, "x"), "x") // the DH step
	if f := pqFlags(sa.epochs[0].sendChain); f != flags {
		b.Fatalf("chain %d has flags %d, want %d", sa.epochs[0].sendChain, f, flags)
	}
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		m, err := sa.Encrypt(rand.Reader, pt, ad)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sb.Decrypt(now, m, ad); err != nil {
			b.Fatal(err)
		}
	}
}

// benchmarkRoundTrip measures one message each way, so each message starts
// a new chain (a DH ratchet step on both sides). withPQ selects whether the
// chains measured carry ML-KEM offers and answers: the loop runs PQPeriod
// round trips per iteration, so b.N * PQPeriod round trips in total.
func BenchmarkDHStep(b *testing.B) {
	x, y := newParty(b), newParty(b)
	sa, sb := handshake(b, x, y, nil, nil)
	now := time.Now()
	pt := make([]byte, 64)
	for range PQPeriod {
		mustDecrypt(b, sb, mustEncrypt(b, sa, "x"), "x")
		mustDecrypt(b, sa, mustEncrypt(b, sb, "y"), "y")
	}
	// Chain indexes 0 mod 4 and 3 mod 4 are plain DH steps: measure a
	// round trip from such a point (chains 4k+3 by a, 4k+4 by b) only.
	for b.Loop() {
		b.StopTimer()
		for sa.epochs[0].recvChain%PQPeriod != 2 {
			mustDecrypt(b, sb, mustEncrypt(b, sa, "x"), "x")
			mustDecrypt(b, sa, mustEncrypt(b, sb, "y"), "y")
		}
		b.StartTimer()
		m, _ := sa.Encrypt(rand.Reader, pt, nil) // chain 4k+3: new DH key
		sb.Decrypt(now, m, nil)                  // receiving DH step
		r, _ := sb.Encrypt(rand.Reader, pt, nil) // chain 4k+4: new DH key
		if _, err := sa.Decrypt(now, r, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPQStep measures the round trip whose chains carry an ML-KEM
// offer (a's chain 4k+1: key generation) and its answer (b's chain 4k+2:
// encapsulation, and decapsulation by a), DH steps included.
func BenchmarkPQStep(b *testing.B) {
	x, y := newParty(b), newParty(b)
	sa, sb := handshake(b, x, y, nil, nil)
	now := time.Now()
	pt := make([]byte, 64)
	for b.Loop() {
		b.StopTimer()
		for sa.epochs[0].recvChain%PQPeriod != 0 || sa.epochs[0].sendChain%PQPeriod != 3 && sa.epochs[0].sendChain != 0 {
			mustDecrypt(b, sb, mustEncrypt(b, sa, "x"), "x")
			mustDecrypt(b, sa, mustEncrypt(b, sb, "y"), "y")
		}
		b.StartTimer()
		m, _ := sa.Encrypt(rand.Reader, pt, nil) // offer chain
		sb.Decrypt(now, m, nil)
		r, _ := sb.Encrypt(rand.Reader, pt, nil) // answer chain
		if _, err := sa.Decrypt(now, r, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	x, y := newParty(b), newParty(b)
	sa, _ := handshake(b, x, y, nil, nil)
	for b.Loop() {
		buf, _ := sa.MarshalBinary()
		var s State
		if err := s.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}
