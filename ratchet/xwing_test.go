package ratchet

import (
	"bytes"
	"crypto/hpke"
	"crypto/mlkem"
	"crypto/rand"
	"testing"
	"testing/cryptotest"
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

// TestXWingEncapsulate checks xwingEncapsulate against crypto/hpke's
// NewSender and Export, which the responder used before: from the same
// global random stream, the same encapsulation and secret byte for byte
// (the vectors depend on it), and crypto/hpke's recipient decapsulates it
// to the same secret. Keys it must refuse: the wrong size, an X25519 point
// of small order, an ML-KEM key that is not canonically encoded.
func TestXWingEncapsulate(t *testing.T) {
	suite := func() (hpke.KDF, hpke.AEAD, []byte) {
		return hpke.HKDFSHA256(), hpke.ExportOnly(), []byte(labelXWingInfo)
	}
	for i := range 10 {
		priv, err := hpke.MLKEM768X25519().GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		xpub := priv.PublicKey().Bytes()
		kdf, aead, info := suite()
		cryptotest.SetGlobalRandom(t, uint64(i))
		wantEnc, snd, err := hpke.NewSender(priv.PublicKey(), kdf, aead, info)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := snd.Export(labelXWingExport, KeySize)
		cryptotest.SetGlobalRandom(t, uint64(i))
		var got [KeySize]byte
		enc, err := xwingEncapsulate(xpub, &got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, wantEnc) || !bytes.Equal(got[:], want) {
			t.Fatalf("key %d: encapsulation or secret differs from crypto/hpke's", i)
		}
		r, err := hpke.NewRecipient(enc, priv, kdf, aead, info)
		if err != nil {
			t.Fatal(err)
		}
		if back, _ := r.Export(labelXWingExport, KeySize); !bytes.Equal(back, got[:]) {
			t.Fatalf("key %d: crypto/hpke decapsulates another secret", i)
		}
	}
	priv, _ := hpke.MLKEM768X25519().GenerateKey()
	good := priv.PublicKey().Bytes()
	lowOrder := bytes.Clone(good)
	clear(lowOrder[mlkem.EncapsulationKeySize768:]) // the point 0
	badPQ := bytes.Clone(good)
	for i := range 3 { // one coefficient of 12 bits = 0xfff >= q
		badPQ[i] = 0xff
	}
	var s [KeySize]byte
	for name, k := range map[string][]byte{"short": good[:len(good)-1], "long": append(bytes.Clone(good), 0), "low order": lowOrder, "ML-KEM not canonical": badPQ} {
		if _, err := xwingEncapsulate(k, &s); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := hpke.MLKEM768X25519().NewPublicKey(k); err == nil && name != "low order" {
			t.Errorf("%s: crypto/hpke accepts it: the case tests nothing", name)
		}
	}
}
