package kdf

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

// TestHMAC compares HMAC with crypto/hmac on random keys (shorter and
// longer than a block) and messages in several pieces.
func TestHMAC(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 300 {
		key := make([]byte, rng.IntN(150))
		fill(rng, key)
		var parts [][]byte
		m := hmac.New(sha256.New, key)
		for range rng.IntN(5) {
			p := make([]byte, rng.IntN(100))
			fill(rng, p)
			parts = append(parts, p)
			m.Write(p)
		}
		var got [32]byte
		HMAC(&got, key, parts...)
		if want := m.Sum(nil); !bytes.Equal(got[:], want) {
			t.Fatalf("key %x parts %x: got %x, want %x", key, parts, got, want)
		}
	}
}

// TestHKDF checks RFC 5869's first two test cases and compares with
// crypto/hkdf on random inputs (empty salt included).
func TestHKDF(t *testing.T) {
	seq := func(from, n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(from + i)
		}
		return b
	}
	for _, c := range []struct {
		ikm, salt, info []byte
		okm             string
	}{
		{bytes.Repeat([]byte{0x0b}, 22), seq(0, 13), seq(0xf0, 10),
			"3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
		{seq(0, 80), seq(0x60, 80), seq(0xb0, 80),
			"b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"},
	} {
		want := unhex(t, c.okm)
		got := make([]byte, len(want))
		if err := HKDF(got, c.ikm, c.salt, string(c.info)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("HKDF(%x, %x, %x) = %x, want %x", c.ikm, c.salt, c.info, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for range 200 {
		secret, salt, info := make([]byte, rng.IntN(120)), make([]byte, rng.IntN(80)), make([]byte, rng.IntN(40))
		fill(rng, secret)
		fill(rng, salt)
		fill(rng, info)
		n := 1 + rng.IntN(200)
		got := make([]byte, n)
		if err := HKDF(got, secret, salt, string(info)); err != nil {
			t.Fatal(err)
		}
		want, err := hkdf.Key(sha256.New, secret, salt, string(info), n)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("secret %x salt %x info %x len %d: got %x, want %x", secret, salt, info, n, got, want)
		}
	}
	if err := HKDF(make([]byte, 255*32+1), []byte("s"), nil, ""); err == nil {
		t.Error("HKDF longer than 255 blocks: no error")
	}
}
