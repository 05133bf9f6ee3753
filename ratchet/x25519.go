package ratchet

import (
	"crypto/subtle"

	"filippo.io/edwards25519"
	circl "github.com/cloudflare/circl/dh/x25519"
)

// X25519 (RFC 7748) on fixed-size arrays, so that private keys and shared
// secrets stay in memory this package wipes: crypto/ecdh keeps every private
// key it is given in a heap object of its own, which cannot be wiped, and
// returns shared secrets in fresh heap slices.
//
// The variable-base ladder is github.com/cloudflare/circl's dh/x25519, whose
// whole ladder step is one assembly routine on amd64 (MULX/ADX when the CPU
// has them, generic Go elsewhere): about twice as fast as crypto/ecdh's
// ladder over edwards25519's field (BenchmarkX25519), and every message that
// starts a chain pays two of them (one on each side). Its inputs and outputs
// are the caller's fixed arrays; its temporaries are on the stack, which
// erase.Do (runtime/secret) erases when the operation's goroutine leaves it.
// The fixed-base multiplication (public keys) stays on edwards25519's table,
// which is faster still. TestX25519 checks both against RFC 7748's vectors
// and against crypto/ecdh on random inputs.

// x25519 sets dst to X25519(scalar, point) (RFC 7748 section 5, constant
// time). It reports false if the result is all zero (point was of small
// order), which callers treat as an error as crypto/ecdh does.
func x25519(dst, scalar, point *[KeySize]byte) bool {
	// circl reports small-order points by comparing the point with a list;
	// the all-zero test on the output is RFC 7748's (section 6.1) and
	// crypto/ecdh's, so it is the one used.
	circl.Shared((*circl.Key)(dst), (*circl.Key)(scalar), (*circl.Key)(point))
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
