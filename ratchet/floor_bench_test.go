package ratchet

import (
	"crypto/hpke"
	"crypto/rand"
	"testing"

	"github.com/sottochat/sotto/ratchet/wire"
)

// Floors (issue 16, goal 3). Each benchmark below does only the primitives
// that the step of the same name cannot do without, in this package's own
// code (the same kdfCK, kdfRK, xAEAD, X25519 and crypto/hpke calls, the
// same sizes), with nothing around them: no State, no parsing, no
// allocation of the message or the plaintext, no copy to a working epoch.
// Beside BenchmarkSymmetricStep, BenchmarkDHStep and BenchmarkHandshake in
// one run they say how much of each step is the protocol's cryptography,
// which no change to the code around it can remove, and so whether a
// target is within reach of this construction at all.

// symmetricFloor is one message in a chain, sender and receiver: two chain
// key steps (each side derives the message key), 24 random bytes (the
// nonce), a header sealed and opened under the header key, and a body
// sealed and opened under the message key with a message's associated
// data (the caller's, the prefix and the sealed header).
type symmetricFloor struct {
	ck, hk           [KeySize]byte
	x                xAEAD
	hdr, pt, ad      []byte
	nonce, prefix    []byte
	hbuf, bbuf, abuf []byte
	obuf, pbuf       []byte
}

func newSymmetricFloor(size int) *symmetricFloor {
	f := &symmetricFloor{
		x:      newXAEAD(),
		hdr:    make([]byte, wire.HeaderSize),
		pt:     make([]byte, size),
		ad:     []byte("ad"),
		nonce:  make([]byte, headerNonceSize),
		prefix: []byte{Version},
		hbuf:   make([]byte, 0, wire.SealedHeaderSize),
		bbuf:   make([]byte, 0, size+wire.TagSize),
		abuf:   make([]byte, 0, 4+64+wire.PrefixSize+wire.SealedHeaderSize),
		obuf:   make([]byte, 0, wire.HeaderSize),
		pbuf:   make([]byte, 0, size),
	}
	f.ck[0], f.hk[0] = 1, 2
	return f
}

func (f *symmetricFloor) message(tb testing.TB) {
	// Sender.
	next, mk := kdfCK(&f.ck)
	if _, err := rand.Read(f.nonce); err != nil {
		tb.Fatal(err)
	}
	sealed := f.x.seal(&f.hk, f.hbuf[:0], f.nonce, f.hdr, f.prefix)
	body := f.x.seal(&mk, f.bbuf[:0], f.nonce, f.pt, bodyAD(f.abuf[:0], f.ad, f.prefix, sealed))
	// Receiver (from the same chain key: both sides hold it).
	if _, err := f.x.open(&f.hk, f.obuf[:0], f.nonce, sealed, f.prefix); err != nil {
		tb.Fatal(err)
	}
	_, rmk := kdfCK(&f.ck)
	if _, err := f.x.open(&rmk, f.pbuf[:0], f.nonce, body, bodyAD(f.abuf[:0], f.ad, f.prefix, sealed)); err != nil {
		tb.Fatal(err)
	}
	f.ck = next
}

// BenchmarkSymmetricFloor is the floor of BenchmarkSymmetricStep (a 1 KiB
// message in a chain, both sides).
func BenchmarkSymmetricFloor(b *testing.B) {
	f := newSymmetricFloor(1024)
	b.SetBytes(1024)
	var m meter
	m.begin()
	for b.Loop() {
		m.time(func() { f.message(b) })
	}
	m.report(b)
}

// BenchmarkDHStepFloor is the floor of BenchmarkDHStep (a 64-byte message
// that starts a new chain): the sender draws a key pair (32 random bytes,
// x25519Public) and does one X25519 with the peer's ratchet key and one
// root-key step; the receiver one X25519 and one root-key step; then the
// message itself, as in BenchmarkSymmetricFloor. The double ratchet cannot
// do less: every turn of a conversation brings a new key pair and a DH on
// each side.
func BenchmarkDHStepFloor(b *testing.B) {
	f := newSymmetricFloor(64)
	var rk, peerPriv, peerPub, dh [KeySize]byte
	peerPriv[0] = 7
	x25519Public(&peerPub, &peerPriv)
	var m meter
	m.begin()
	for b.Loop() {
		m.time(func() {
			var priv [KeySize]byte
			if _, err := rand.Read(priv[:]); err != nil {
				b.Fatal(err)
			}
			k := newKeyPair(&priv)
			if !x25519(&dh, &k.priv, &peerPub) {
				b.Fatal("zero DH")
			}
			rk, f.ck, f.hk = kdfRK(&rk, &dh, nil)
			if !x25519(&dh, &peerPriv, &k.pub) {
				b.Fatal("zero DH")
			}
			_, _, _ = kdfRK(&rk, &dh, nil)
			f.message(b)
		})
	}
	m.report(b)
}

// BenchmarkHandshakeFloor is the floor of BenchmarkHandshake (both sides):
// two ephemeral key pairs, the six X25519 operations of the Noise-XK shape
// (es, ee, se on each side), and the ephemeral X-Wing key, its
// encapsulation and decapsulation through crypto/hpke with their exports.
func BenchmarkHandshakeFloor(b *testing.B) {
	var sI, sR, sIpub, sRpub, dh [KeySize]byte
	sI[0], sR[0] = 3, 5
	x25519Public(&sIpub, &sI)
	x25519Public(&sRpub, &sR)
	var m meter
	m.begin()
	for b.Loop() {
		m.time(func() {
			var r1, r2 [KeySize]byte
			var seed [xwingSeedSize]byte
			for _, s := range [][]byte{r1[:], r2[:], seed[:]} {
				if _, err := rand.Read(s); err != nil {
					b.Fatal(err)
				}
			}
			eI, eR := newKeyPair(&r1), newKeyPair(&r2)
			for _, p := range [][2]*[KeySize]byte{
				{&eI.priv, &sRpub}, {&sR, &eI.pub}, // es
				{&eI.priv, &eR.pub}, {&eR.priv, &eI.pub}, // ee
				{&sI, &eR.pub}, {&eR.priv, &sIpub}, // se
			} {
				if !x25519(&dh, p[0], p[1]) {
					b.Fatal("zero DH")
				}
			}
			xw, err := newXWingKey(&seed)
			if err != nil {
				b.Fatal(err)
			}
			pub, err := hpke.MLKEM768X25519().NewPublicKey(xw.PublicKey().Bytes())
			if err != nil {
				b.Fatal(err)
			}
			enc, sender, err := hpke.NewSender(pub, hpke.HKDFSHA256(), hpke.ExportOnly(), []byte(labelXWingInfo))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := sender.Export(labelXWingExport, KeySize); err != nil {
				b.Fatal(err)
			}
			rcpt, err := hpke.NewRecipient(enc, xw, hpke.HKDFSHA256(), hpke.ExportOnly(), []byte(labelXWingInfo))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := rcpt.Export(labelXWingExport, KeySize); err != nil {
				b.Fatal(err)
			}
		})
	}
	m.report(b)
}
