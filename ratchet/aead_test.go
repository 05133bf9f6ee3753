package ratchet

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// TestXAEADReusesInstance: newXAEAD and newChaChaAEAD recognise x/crypto's
// XChaCha20-Poly1305 and ChaCha20-Poly1305 instances (a version of x/crypto
// that changes their layout would make every message allocate again,
// silently), give the same ciphertexts and plaintexts as a fresh NewX or
// New for each key, reject a forgery, and leave no key in the instance
// after any operation.
func TestXAEADReusesInstance(t *testing.T) {
	for _, c := range []struct {
		name  string
		x     xAEAD
		ref   func([]byte) (cipher.AEAD, error)
		nonce int
	}{
		{"XChaCha20-Poly1305", newXAEAD(), chacha20poly1305.NewX, chacha20poly1305.NonceSizeX},
		{"ChaCha20-Poly1305", newChaChaAEAD(), chacha20poly1305.New, chacha20poly1305.NonceSize},
	} {
		t.Run(c.name, func(t *testing.T) { testReusedAEAD(t, c.x, c.ref, c.nonce) })
	}
}

func testReusedAEAD(t *testing.T, x xAEAD, newRef func([]byte) (cipher.AEAD, error), nonceSize int) {
	if x.key == nil {
		t.Fatal("x/crypto's instance is not the struct of one 32-byte key that xAEAD writes into: every operation falls back to a new instance")
	}
	for i := range 20 {
		var key [KeySize]byte
		nonce := make([]byte, nonceSize)
		pt := make([]byte, i*37)
		ad := make([]byte, i)
		for _, b := range [][]byte{key[:], nonce, pt, ad} {
			rand.Read(b)
		}
		ref, _ := newRef(key[:])
		want := ref.Seal([]byte("prefix"), nonce, pt, ad)
		got := x.seal(&key, []byte("prefix"), nonce, pt, ad)
		if !bytes.Equal(got, want) {
			t.Fatalf("key %d: seal differs from a new instance's", i)
		}
		if *x.key != ([KeySize]byte{}) {
			t.Fatal("the instance keeps the key after seal")
		}
		back, err := x.open(&key, nil, nonce, want[len("prefix"):], ad)
		if err != nil || !bytes.Equal(back, pt) {
			t.Fatalf("key %d: open: %v", i, err)
		}
		if *x.key != ([KeySize]byte{}) {
			t.Fatal("the instance keeps the key after open")
		}
		want[len(want)-1] ^= 1
		if _, err := x.open(&key, nil, nonce, want[len("prefix"):], ad); err == nil {
			t.Fatalf("key %d: a forged tag opens", i)
		}
		if *x.key != ([KeySize]byte{}) {
			t.Fatal("the instance keeps the key after a failed open")
		}
		fallback := xAEAD{chacha: x.chacha} // the path taken if the layout check fails
		if got := fallback.seal(&key, nil, nonce, pt, ad); !bytes.Equal(got, ref.Seal(nil, nonce, pt, ad)) {
			t.Fatalf("key %d: the fallback's seal differs from a new instance's", i)
		}
	}
}

// TestHandshakeAEADHoldsNoKey: between the steps of a handshake, the
// handshake's reused ChaCha20-Poly1305 instance exists (one per side, not
// one per message) and holds no key; a finished handshake has dropped it.
func TestHandshakeAEADHoldsNoKey(t *testing.T) {
	a, b := newParty(t), newParty(t)
	hi, _ := NewInitiator(rand.Reader, b.pub, nil)
	hr, _ := NewResponder(rand.Reader)
	check := func(step string, hs ...*Handshake) {
		t.Helper()
		for _, h := range hs {
			x := h.sym.aead
			if x.key == nil {
				t.Fatalf("after %s: no reused instance (x/crypto's layout, see TestXAEADReusesInstance)", step)
			}
			if *x.key != ([KeySize]byte{}) {
				t.Fatalf("after %s: the instance holds a key", step)
			}
		}
	}
	m1, err := hi.Hello()
	if err != nil {
		t.Fatal(err)
	}
	check("Hello", hi)
	m2, err := hr.Reply(m1, &b.seed)
	if err != nil {
		t.Fatal(err)
	}
	check("Reply", hi, hr)
	m3, err := hi.Authenticate(m2, &a.seed)
	if err != nil {
		t.Fatal(err)
	}
	check("Authenticate", hi, hr)
	if _, err := hr.ReadAuth(m3); err != nil {
		t.Fatal(err)
	}
	check("ReadAuth", hi, hr)
	m4, _, err := hr.Accept(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hi.Finish(m4); err != nil {
		t.Fatal(err)
	}
	for _, h := range []*Handshake{hi, hr} {
		if h.sym.aead.a != nil {
			t.Fatal("a finished handshake keeps its AEAD instance")
		}
	}
}
