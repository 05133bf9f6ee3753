package ratchet

import (
	"crypto/ed25519"
	"crypto/sha512"
	"errors"

	"filippo.io/edwards25519"
)

// errBadIdentity is returned for an Ed25519 public key that is not a valid,
// canonical point of large order.
var errBadIdentity = errors.New("ratchet: invalid identity key")

// identityKeys derives, from an Ed25519 seed (the onion service key), the
// Ed25519 public key and the X25519 private key of the same scalar (RFC 8032
// section 5.1.5: the clamped first half of SHA-512(seed)), as libsodium's
// crypto_sign_ed25519_sk_to_curve25519 does. Everything is in fixed arrays
// the caller wipes (the X25519 private key) or that are wiped here (the
// hash and the scalar).
func identityKeys(seed *[32]byte) (pub [PublicKeySize]byte, x [KeySize]byte, err error) {
	h := sha512.Sum512(seed[:])
	defer wipe(h[:])
	var s edwards25519.Scalar
	if _, err := s.SetBytesWithClamping(h[:32]); err != nil {
		return pub, x, errBadIdentity
	}
	defer s.Set(edwards25519.NewScalar())
	var p edwards25519.Point
	p.ScalarBaseMult(&s)
	copy(pub[:], p.Bytes())
	// The X25519 private key is the clamped scalar bytes; X25519 clamps again.
	copy(x[:], h[:32])
	return pub, x, nil
}

// identityX25519 converts a peer's Ed25519 identity public key to the X25519
// (Montgomery) form of the same point, rejecting non-canonical encodings and
// points of small order.
func identityX25519(pub []byte) (x [KeySize]byte, err error) {
	if len(pub) != ed25519.PublicKeySize {
		return x, errBadIdentity
	}
	var p edwards25519.Point
	if _, err := p.SetBytes(pub); err != nil {
		return x, errBadIdentity
	}
	// SetBytes accepts a few non-canonical encodings; insist on the canonical one.
	if string(p.Bytes()) != string(pub) {
		return x, errBadIdentity
	}
	var q edwards25519.Point
	if q.MultByCofactor(&p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return x, errBadIdentity
	}
	copy(x[:], p.BytesMontgomery())
	return x, nil
}
