package ratchet

import (
	"crypto/ecdh"
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
// crypto_sign_ed25519_sk_to_curve25519 does. The intermediate hash and scalar
// are wiped; the returned crypto/ecdh key keeps its own copy, which Go gives
// no way to wipe: the caller drops it as soon as the DH is done.
func identityKeys(seed *[32]byte) (pub [PublicKeySize]byte, x *ecdh.PrivateKey, err error) {
	h := sha512.Sum512(seed[:])
	defer wipe(h[:])
	s, err := new(edwards25519.Scalar).SetBytesWithClamping(h[:32])
	if err != nil {
		return pub, nil, errBadIdentity
	}
	defer s.Set(edwards25519.NewScalar())
	p := new(edwards25519.Point).ScalarBaseMult(s)
	copy(pub[:], p.Bytes())
	// The X25519 private key is the clamped scalar bytes; X25519 clamps again.
	x, err = ecdh.X25519().NewPrivateKey(h[:32])
	if err != nil {
		return pub, nil, errBadIdentity
	}
	return pub, x, nil
}

// identityX25519 converts a peer's Ed25519 identity public key to the X25519
// (Montgomery) form of the same point, rejecting non-canonical encodings and
// points of small order.
func identityX25519(pub []byte) (*ecdh.PublicKey, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, errBadIdentity
	}
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return nil, errBadIdentity
	}
	// SetBytes accepts a few non-canonical encodings; insist on the canonical one.
	if string(p.Bytes()) != string(pub) {
		return nil, errBadIdentity
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return nil, errBadIdentity
	}
	x, err := ecdh.X25519().NewPublicKey(p.BytesMontgomery())
	if err != nil {
		return nil, errBadIdentity
	}
	return x, nil
}
