package ratchet

import (
	"bytes"
	"crypto/hpke"
	"crypto/rand"
	"testing"
)

// TestXWingKey checks newXWingKey against crypto/hpke's own X-Wing key from
// the same seed: the same public key, and a message encapsulated to it
// gives the same secret to both.
func TestXWingKey(t *testing.T) {
	for range 20 {
		var seed [xwingSeedSize]byte
		rand.Read(seed[:])
		mine, err := newXWingKey(&seed)
		if err != nil {
			t.Fatal(err)
		}
		std, err := hpke.MLKEM768X25519().NewPrivateKey(seed[:])
		if err != nil {
			t.Fatal(err)
		}
		pm := mine.PublicKey().Bytes()
		ps := std.PublicKey().Bytes()
		if !bytes.Equal(pm, ps) {
			t.Fatalf("seed %x: public key differs from crypto/hpke's", seed)
		}
		enc, snd, err := hpke.NewSender(std.PublicKey(), hpke.HKDFSHA256(), hpke.ExportOnly(), []byte("info"))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := snd.Export("x", 32)
		for _, k := range []hpke.PrivateKey{mine, std} {
			r, err := hpke.NewRecipient(enc, k, hpke.HKDFSHA256(), hpke.ExportOnly(), []byte("info"))
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := r.Export("x", 32); !bytes.Equal(got, want) {
				t.Fatalf("seed %x: decapsulation differs", seed)
			}
		}
	}
}
