package ratchet

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"testing"
)

func mustHex32(t *testing.T, s string) *[KeySize]byte {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != KeySize {
		t.Fatalf("bad hex %q", s)
	}
	return (*[KeySize]byte)(b)
}

// TestX25519 checks the package's X25519 against RFC 7748 section 5.2 and
// 6.1 and against crypto/ecdh on random keys and points.
func TestX25519(t *testing.T) {
	for _, v := range []struct{ k, u, out string }{
		{"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4", "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c", "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
		{"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d", "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493", "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
	} {
		var out [KeySize]byte
		if !x25519(&out, mustHex32(t, v.k), mustHex32(t, v.u)) || hex.EncodeToString(out[:]) != v.out {
			t.Fatalf("X25519(%s, %s) = %x, want %s", v.k, v.u, out, v.out)
		}
	}
	alice := newKeyPair(mustHex32(t, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
	if hex.EncodeToString(alice.pub[:]) != "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" {
		t.Fatalf("public key %x", alice.pub)
	}
	var zero [KeySize]byte
	var out [KeySize]byte
	if x25519(&out, &alice.priv, &zero) {
		t.Fatal("small-order point accepted")
	}
	for range 200 {
		var priv, pt [KeySize]byte
		rand.Read(priv[:])
		rand.Read(pt[:])
		k, _ := ecdh.X25519().NewPrivateKey(priv[:])
		mine := newKeyPair(&priv)
		if !bytes.Equal(mine.pub[:], k.PublicKey().Bytes()) {
			t.Fatalf("public key of %x differs from crypto/ecdh", priv)
		}
		p, err := ecdh.X25519().NewPublicKey(pt[:])
		if err != nil {
			t.Fatal(err)
		}
		want, errStd := k.ECDH(p)
		ok := x25519(&out, &priv, &pt)
		if (errStd == nil) != ok || ok && !bytes.Equal(out[:], want) {
			t.Fatalf("X25519(%x, %x) = %x %v, crypto/ecdh %x %v", priv, pt, out, ok, want, errStd)
		}
	}
}

// TestX25519Edges compares x25519 with crypto/ecdh on the inputs where
// implementations differ: the small-order points (and their non-canonical
// encodings, u + p and with the top bit set), u = p - 1 and u = 2^255 - 1.
func TestX25519Edges(t *testing.T) {
	var pts []string
	for _, h := range []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p - 1
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p + 1
		"cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
		"4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
		"d9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"0900000000000000000000000000000000000000000000000000000000000080",
	} {
		pts = append(pts, h)
	}
	for range 20 {
		var priv [KeySize]byte
		rand.Read(priv[:])
		k, _ := ecdh.X25519().NewPrivateKey(priv[:])
		for _, h := range pts {
			pt := mustHex32(t, h)
			p, err := ecdh.X25519().NewPublicKey(pt[:])
			if err != nil {
				t.Fatal(err)
			}
			want, errStd := k.ECDH(p)
			var out [KeySize]byte
			ok := x25519(&out, &priv, pt)
			if (errStd == nil) != ok || ok && !bytes.Equal(out[:], want) {
				t.Fatalf("X25519(%x, %s) = %x %v, crypto/ecdh %x %v", priv, h, out, ok, want, errStd)
			}
		}
	}
}

func TestX25519NoAlloc(t *testing.T) {
	if raceEnabled || testing.CoverMode() != "" {
		t.Skip("the race detector and coverage allocate")
	}
	var priv, out [KeySize]byte
	rand.Read(priv[:])
	k := newKeyPair(&priv)
	if n := testing.AllocsPerRun(20, func() {
		k = newKeyPair(&priv)
		x25519(&out, &priv, &k.pub)
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func BenchmarkX25519(b *testing.B) {
	var priv, out [KeySize]byte
	rand.Read(priv[:])
	k := newKeyPair(&priv)
	for b.Loop() {
		x25519(&out, &priv, &k.pub)
	}
}

func BenchmarkX25519Public(b *testing.B) {
	var priv [KeySize]byte
	rand.Read(priv[:])
	for b.Loop() {
		newKeyPair(&priv)
	}
}

// BenchmarkX25519Stdlib is crypto/ecdh's X25519, the baseline of
// BenchmarkX25519 (the ladder this package used before circl's had the
// same speed: the same field code).
func BenchmarkX25519Stdlib(b *testing.B) {
	k, _ := ecdh.X25519().GenerateKey(rand.Reader)
	p, _ := ecdh.X25519().GenerateKey(rand.Reader)
	pub := p.PublicKey()
	for b.Loop() {
		if _, err := k.ECDH(pub); err != nil {
			b.Fatal(err)
		}
	}
}
