package ratchet

import (
	"bytes"
	"crypto/rand"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// TestXAEADReusesInstance: newXAEAD recognises x/crypto's XChaCha20-Poly1305
// instance (a version of x/crypto that changes its layout would make every
// message allocate again, silently), gives the same ciphertexts and
// plaintexts as a fresh NewX for each key, rejects a forgery, and leaves no
// key in the instance after any operation.
func TestXAEADReusesInstance(t *testing.T) {
	x := newXAEAD()
	if x.key == nil {
		t.Fatal("x/crypto's XChaCha20-Poly1305 instance is not the struct of one 32-byte key that xAEAD writes into: every operation falls back to NewX")
	}
	for i := range 20 {
		var key [KeySize]byte
		nonce := make([]byte, chacha20poly1305.NonceSizeX)
		pt := make([]byte, i*37)
		ad := make([]byte, i)
		for _, b := range [][]byte{key[:], nonce, pt, ad} {
			rand.Read(b)
		}
		ref, _ := chacha20poly1305.NewX(key[:])
		want := ref.Seal([]byte("prefix"), nonce, pt, ad)
		got := x.seal(&key, []byte("prefix"), nonce, pt, ad)
		if !bytes.Equal(got, want) {
			t.Fatalf("key %d: seal differs from NewX's", i)
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
		var fallback xAEAD // the path taken if the layout check fails
		if got := fallback.seal(&key, nil, nonce, pt, ad); !bytes.Equal(got, ref.Seal(nil, nonce, pt, ad)) {
			t.Fatalf("key %d: the fallback's seal differs from NewX's", i)
		}
	}
}
