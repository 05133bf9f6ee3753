package ratchet

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/sottochat/sotto/ratchet/wire"
)

// TestScratchWiped opens a header (an offer, with a chunk of the key) and
// builds a body's associated data in a scratch buffer, then checks that
// wipe leaves no byte of either behind.
func TestScratchWiped(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	mustDecrypt(t, sa, mustEncrypt(t, sb, "y"), "y")
	msg := mustEncrypt(t, sa, "x") // sa's first chain: the first chunk of its offer
	m, ok := parseMessage(msg)
	if !ok {
		t.Fatal("parse")
	}
	scr := new(scratch)
	m.scr = scr
	h, ok := m.openHeader(&sa.epochs[0].hks)
	if !ok || h.Flags != wire.FlagEK || isZero(h.Chunk[:]) {
		t.Fatalf("header: ok %v flags %d", ok, h.Flags)
	}
	ad := bytes.Repeat([]byte{0xAA}, 100)
	bad := bodyAD(scr.adBuf(ad, m.sealed), ad, m.prefix, m.sealed)
	if &bad[0] != &scr.ad[0] {
		t.Fatal("body AD not built in the scratch buffer")
	}
	if isZero(scr.hdr[:]) || isZero(scr.ad[:]) {
		t.Fatal("scratch buffer not used")
	}
	scr.wipe()
	if !isZero(scr.hdr[:]) || !isZero(scr.ad[:]) {
		t.Fatal("scratch buffer not wiped")
	}
	mustDecrypt(t, sb, msg, "x") // the pooled path decrypts the same message
}

// TestLongAD checks associated data longer than the scratch buffer holds, in
// both directions.
func TestLongAD(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	ad := bytes.Repeat([]byte{7}, 10000)
	for i := range 6 {
		from, to := sa, sb
		if i%2 == 1 {
			from, to = sb, sa
		}
		m, err := from.Encrypt(rand.Reader, []byte("long"), ad)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := to.Decrypt(time.Now(), m, ad[:len(ad)-1]); err != ErrDecrypt {
			t.Fatalf("wrong AD: %v", err)
		}
		pt, err := to.Decrypt(time.Now(), m, ad)
		if err != nil || string(pt) != "long" {
			t.Fatalf("decrypt: %q %v", pt, err)
		}
	}
}

// TestSymmetricStepAllocs bounds the heap allocations of a message within
// a chain: the message and the plaintext. The XChaCha20-Poly1305 instance is
// the pooled scratch's (xAEAD), not one per header and body. More means a
// working copy of a key went to the heap, where it is not wiped.
func TestSymmetricStepAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("coverage and the race detector allocate")
	}
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	for range pqEKChunks + 2 {
		mustDecrypt(t, sb, mustEncrypt(t, sa, "x"), "x")
		mustDecrypt(t, sa, mustEncrypt(t, sb, "y"), "y")
	}
	mustDecrypt(t, sb, mustEncrypt(t, sa, "x"), "x") // the DH step
	pt, ad := make([]byte, 1024), []byte("ad")
	now := time.Now()
	n := testing.AllocsPerRun(50, func() {
		m, err := sa.Encrypt(rand.Reader, pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sb.Decrypt(now, m, ad); err != nil {
			t.Fatal(err)
		}
	})
	if n > 2 {
		t.Fatalf("%v allocations per message, want at most 2", n)
	}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// TestDiscardWipesCopy checks that an abandoned working copy of an epoch
// destroys the skipped keys skip cloned and derived for it, and leaves the
// original's intact.
func TestDiscardWipesCopy(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	mustEncrypt(t, sb, "lost")
	mustDecrypt(t, sa, mustEncrypt(t, sb, "kept"), "kept") // sa skips one key
	e := sa.epochs[0]
	if e.skippedCount() != 1 {
		t.Fatalf("%d skipped keys, want 1", e.skippedCount())
	}
	orig := e.skipped[0].keys[0].mk
	w := *e
	if err := w.skip(w.nr+3, time.Now().Unix(), 0); err != nil {
		t.Fatal(err)
	}
	copied := w.skipped
	if w.skippedCount() != 4 || &copied[0] == &e.skipped[0] {
		t.Fatal("skip did not clone and extend the skipped keys")
	}
	if err := w.discard(e, ErrDecrypt); err != ErrDecrypt {
		t.Fatal(err)
	}
	for _, c := range copied {
		for _, k := range c.keys {
			if k.mk != ([KeySize]byte{}) {
				t.Fatal("a copied or derived key survived discard")
			}
		}
	}
	if e.skipped[0].keys[0].mk != orig || orig == ([KeySize]byte{}) {
		t.Fatal("discard touched the original epoch")
	}
	w = *e // not cloned: discard must leave the shared keys alone
	w.discard(e, ErrDecrypt)
	if e.skipped[0].keys[0].mk != orig {
		t.Fatal("discard wiped keys it shares with the original")
	}
}

// TestUsedSkippedKeyLeavesNoCopy uses a skipped key from the middle of a
// chain's list and checks that no copy of any key is left in the list's
// spare capacity, where wiping (which covers the list's length) would miss it.
func TestUsedSkippedKeyLeavesNoCopy(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	var ms [][]byte
	for _, s := range []string{"0", "1", "2", "3"} {
		ms = append(ms, mustEncrypt(t, sb, s))
	}
	mustDecrypt(t, sa, ms[3], "3") // skips 0, 1, 2
	mustDecrypt(t, sa, ms[1], "1")
	keys := sa.epochs[0].skipped[0].keys
	if len(keys) != 2 {
		t.Fatalf("%d keys left, want 2", len(keys))
	}
	for _, k := range keys[len(keys):cap(keys)] {
		if k != (skippedKey{}) {
			t.Fatal("a key is left beyond the list's length")
		}
	}
	mustDecrypt(t, sa, ms[0], "0")
	mustDecrypt(t, sa, ms[2], "2")
}

// TestUnmarshalAllocations: parsing a State is two allocations whatever it
// holds (state.go): a caller that keeps its State serialised pays them for
// every message, inside runtime/secret.Do.
func TestUnmarshalAllocations(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("coverage and the race detector allocate")
	}
	a, b := newParty(t), newParty(t)
	var sa, sb *State
	for range MaxEpochs {
		sa, sb = handshake(t, a, b, sa, sb)
		for range pqEKChunks + 2 { // post-quantum buffers in every epoch
			mustDecrypt(t, sb, mustEncrypt(t, sa, "x"), "x")
			mustDecrypt(t, sa, mustEncrypt(t, sb, "y"), "y")
		}
	}
	for _, st := range []*State{sa, sb} {
		buf, err := st.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var s State
		n := testing.AllocsPerRun(50, func() {
			if err := s.UnmarshalBinary(buf); err != nil {
				t.Fatal(err)
			}
		})
		if n != 2 {
			t.Fatalf("%v allocations to parse a State of %d epochs, want 2", n, len(s.epochs))
		}
		s.Wipe()
		var p *State
		n = testing.AllocsPerRun(50, func() {
			if p, err = ParseState(buf); err != nil {
				t.Fatal(err)
			}
		})
		if n != 2 {
			t.Fatalf("ParseState: %v allocations, want 2", n)
		}
		if again, _ := p.MarshalBinary(); !bytes.Equal(again, buf) {
			t.Fatal("ParseState does not give back the State")
		}
		p.Wipe()
	}
}
