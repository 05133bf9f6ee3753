package ratchet

import (
	"crypto/subtle"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// X25519 (RFC 7748) on fixed-size arrays, so that private keys and shared
// secrets stay in memory this package wipes: crypto/ecdh keeps every private
// key it is given in a heap object of its own, which cannot be wiped, and
// returns shared secrets in fresh heap slices. The arithmetic is
// filippo.io/edwards25519's constant-time field implementation (the same code
// as Go's crypto/ecdh); TestX25519 checks this file against RFC 7748's
// vectors and against crypto/ecdh on random inputs.

// x25519 sets dst to X25519(scalar, point), the Montgomery ladder of RFC
// 7748 section 5 in constant time. It reports false if the result is all
// zero (point was of small order), which callers treat as an error as
// crypto/ecdh does.
func x25519(dst, scalar, point *[KeySize]byte) bool {
	var e [KeySize]byte
	copy(e[:], scalar[:])
	e[0] &= 248
	e[31] &= 127
	e[31] |= 64

	var x1, x2, z2, x3, z3, tmp0, tmp1 field.Element
	x1.SetBytes(point[:]) // ignores the top bit, as RFC 7748 requires
	x2.One()
	x3.Set(&x1)
	z3.One()

	swap := 0
	for pos := 254; pos >= 0; pos-- {
		b := int(e[pos/8]>>uint(pos&7)) & 1
		swap ^= b
		x2.Swap(&x3, swap)
		z2.Swap(&z3, swap)
		swap = b

		tmp0.Subtract(&x3, &z3)
		tmp1.Subtract(&x2, &z2)
		x2.Add(&x2, &z2)
		z2.Add(&x3, &z3)
		z3.Multiply(&tmp0, &x2)
		z2.Multiply(&z2, &tmp1)
		tmp0.Square(&tmp1)
		tmp1.Square(&x2)
		x3.Add(&z3, &z2)
		z2.Subtract(&z3, &z2)
		x2.Multiply(&tmp1, &tmp0)
		tmp1.Subtract(&tmp1, &tmp0)
		z2.Square(&z2)
		z3.Mult32(&tmp1, 121666)
		x3.Square(&x3)
		tmp0.Add(&tmp0, &z3)
		z3.Multiply(&x1, &z2)
		z2.Multiply(&tmp1, &tmp0)
	}
	x2.Swap(&x3, swap)
	z2.Swap(&z3, swap)

	z2.Invert(&z2)
	x2.Multiply(&x2, &z2)
	copy(dst[:], x2.Bytes())

	clear(e[:])
	for _, v := range []*field.Element{&x1, &x2, &z2, &x3, &z3, &tmp0, &tmp1} {
		v.Zero()
	}
	var zero [KeySize]byte
	return subtle.ConstantTimeCompare(dst[:], zero[:]) == 0
}

// x25519Public sets dst to the X25519 public key of the private key priv:
// X25519(priv, 9), computed as the Montgomery form of [priv]B on the
// birationally equivalent Edwards curve with edwards25519's fixed-base
// table, which is several times faster than the ladder.
func x25519Public(dst, priv *[KeySize]byte) {
	var s edwards25519.Scalar
	if _, err := s.SetBytesWithClamping(priv[:]); err != nil {
		panic("ratchet: scalar of the wrong length") // cannot happen: priv is 32 bytes
	}
	var p edwards25519.Point
	p.ScalarBaseMult(&s)
	copy(dst[:], p.BytesMontgomery())
	s.Set(edwards25519.NewScalar())
}

// keyPair is an X25519 key pair held in fixed arrays.
type keyPair struct {
	priv, pub [KeySize]byte
}

// newKeyPair makes a key pair from 32 bytes of the caller's randomness.
func newKeyPair(priv *[KeySize]byte) keyPair {
	var k keyPair
	k.priv = *priv
	x25519Public(&k.pub, &k.priv)
	return k
}

func (k *keyPair) wipe() { *k = keyPair{} }
