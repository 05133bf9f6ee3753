package ratchet

import (
	"crypto/mlkem"
	"testing"
	"time"
)

// TestPQRoundLength measures what docs/PROTOCOL.md section 1.5 states: in a
// conversation that alternates, a round's key takes pqEKChunks of the
// initiator's messages and its ciphertext pqCTChunks of the responder's,
// and the initiator's next message mixes the secret: the message that
// mixes a round is the 19th from the round's first, and a round completes
// every 9 round trips, each with one key generation, one encapsulation and
// one decapsulation.
func TestPQRoundLength(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	now := time.Now()
	var mixes []int // message numbers (from the initiator's first, 1-based) that start a mixing chain
	var ops [3]int  // key generations, encapsulations, decapsulations
	from, to := sa, sb
	for i := 1; i <= 100; i++ {
		switch messageKind(from, to) {
		case kindKeygen:
			ops[0]++
		case kindEncaps:
			ops[1]++
		case kindDecaps:
			ops[2]++
		}
		wasMix := sa.epochs[0].sendMix
		from, to = pingPong(t, from, to, []byte("x"), now)
		if to == sa && !wasMix && sa.epochs[0].sendMix {
			mixes = append(mixes, i)
		}
	}
	if len(mixes) < 3 {
		t.Fatalf("mixing messages %v", mixes)
	}
	if first := mixes[0]; first != 2*(pqEKChunks+pqCTChunks-1)+1 {
		t.Fatalf("the first round mixed at message %d", first)
	}
	for i := 1; i < len(mixes); i++ {
		if d := mixes[i] - mixes[i-1]; d != 2*(pqEKChunks+pqCTChunks-1) {
			t.Fatalf("rounds mixed at messages %v", mixes)
		}
	}
	rounds := len(mixes)
	if ops[0] < rounds || ops[0] > rounds+1 || ops[1] < rounds || ops[1] > rounds+1 || ops[2] != rounds {
		t.Fatalf("%d rounds, ML-KEM operations %v", rounds, ops)
	}
	t.Logf("rounds mixed at messages %v; %d key generations, %d encapsulations, %d decapsulations", mixes, ops[0], ops[1], ops[2])
}

// TestPQBuffersWiped checks that the large post-quantum fields an epoch
// gives up (the offer's seed once the ciphertext is decapsulated, a round's
// secret once mixed, on both sides) are wiped, not left for the garbage
// collector.
func TestPQBuffersWiped(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	now := time.Now()
	zero := func(p *pqBuffers) bool { return *p == pqBuffers{} }
	from, to := sa, sb
	for messageKind(from, to) != kindDecaps {
		from, to = pingPong(t, from, to, []byte("x"), now)
	}
	seedBuf := sa.epochs[0].pq.buf                     // the offer's seed
	from, to = pingPong(t, from, to, []byte("x"), now) // the initiator decapsulates
	if !zero(seedBuf) || !sa.epochs[0].pq.hasSecret {
		t.Fatal("the offer's seed was not wiped after decapsulation")
	}
	secretI, secretR := sa.epochs[0].pq.buf, sb.epochs[0].pq.buf
	from, to = pingPong(t, from, to, []byte("x"), now) // the initiator mixes, the responder too
	if !zero(secretI) || !zero(secretR) || !sa.epochs[0].sendMix {
		t.Fatal("a mixed secret was not wiped")
	}
}

// BenchmarkMLKEM is each ML-KEM-768 operation a post-quantum step costs, as
// the ratchet does it (crypto/mlkem): a key from its seed (the initiator's
// offer, and again before it decapsulates, since a State keeps only the
// seed), an encapsulation (parsing the key, which expands its matrix, and
// encapsulating) and a decapsulation. A PQ step (BenchmarkPQStep) is a DH
// step (BenchmarkDHStep) plus these.
func BenchmarkMLKEM(b *testing.B) {
	seed := make([]byte, mlkemSeedSize)
	dk, _ := mlkem.NewDecapsulationKey768(seed)
	ek := dk.EncapsulationKey().Bytes()
	_, ct := dk.EncapsulationKey().Encapsulate()
	b.Run("keygen", func(b *testing.B) {
		for b.Loop() {
			mlkem.NewDecapsulationKey768(seed)
		}
	})
	b.Run("encaps", func(b *testing.B) {
		for b.Loop() {
			k, _ := mlkem.NewEncapsulationKey768(ek)
			k.Encapsulate()
		}
	})
	b.Run("decaps", func(b *testing.B) {
		for b.Loop() {
			dk.Decapsulate(ct)
		}
	})
	b.Run("seed+decaps", func(b *testing.B) {
		for b.Loop() {
			k, _ := mlkem.NewDecapsulationKey768(seed)
			k.Decapsulate(ct)
		}
	})
}
