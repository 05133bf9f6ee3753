package ratchet

import (
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/mlkem"
	"crypto/sha3"
	"errors"
)

// newXWingKey is hpke.MLKEM768X25519().NewPrivateKey(seed) (X-Wing,
// draft-connolly-cfrg-xwing-kem, as crypto/hpke implements it: SHAKE256 of
// the seed gives the ML-KEM-768 seed and then the X25519 private key) with
// the X25519 half computed by this package: its public key with
// edwards25519's fixed-base table and its one Diffie-Hellman (the
// decapsulation) with the package's ladder, instead of crypto/ecdh's ladder
// for both, which is about half the X-Wing key's cost at the initiator.
// crypto/hpke still does everything else (ML-KEM, the combiner, the key
// schedule); the known-answer vectors (message 1 carries the public key,
// the handshake's keys depend on the decapsulation) and TestXWingKey check
// that the result is the same key.
func newXWingKey(seed *[xwingSeedSize]byte) (hpke.PrivateKey, error) {
	s := sha3.NewSHAKE256()
	s.Write(seed[:])
	var seedPQ [mlkem.SeedSize]byte
	defer wipe(seedPQ[:])
	s.Read(seedPQ[:])
	pq, err := mlkem.NewDecapsulationKey768(seedPQ[:])
	if err != nil {
		return nil, err
	}
	k := new(xwingX25519)
	s.Read(k.priv[:]) // every 32 bytes are an X25519 private key
	s.Reset()
	var pub [KeySize]byte
	x25519Public(&pub, &k.priv)
	if k.pub, err = ecdh.X25519().NewPublicKey(pub[:]); err != nil {
		k.wipe()
		return nil, err
	}
	x, err := hpke.NewHybridPrivateKey(pq, k)
	if err != nil {
		k.wipe()
		return nil, err
	}
	return x, nil
}

// xwingX25519 is the X25519 half of an X-Wing private key, an
// ecdh.KeyExchanger over the package's X25519. Its private key lives in the
// heap object crypto/hpke keeps, as crypto/ecdh's did, allocated inside
// erase.Do with the rest of the handshake (so zeroed when freed where
// runtime/secret is on). It is not wiped by Handshake.Clear: a Handshake
// copied by value shares it, as it shared crypto/hpke's immutable key.
type xwingX25519 struct {
	priv [KeySize]byte
	pub  *ecdh.PublicKey
}

func (k *xwingX25519) wipe() { clear(k.priv[:]) }

func (k *xwingX25519) Curve() ecdh.Curve          { return ecdh.X25519() }
func (k *xwingX25519) PublicKey() *ecdh.PublicKey { return k.pub }

var errLowOrder = errors.New("ratchet: X25519 with a point of small order")

// ECDH is X25519(priv, peer), refusing an all-zero result as crypto/ecdh
// does.
func (k *xwingX25519) ECDH(peer *ecdh.PublicKey) ([]byte, error) {
	if peer.Curve() != ecdh.X25519() {
		return nil, errors.New("ratchet: X25519 with a key of another curve")
	}
	var out [KeySize]byte
	if !x25519(&out, &k.priv, (*[KeySize]byte)(peer.Bytes())) {
		return nil, errLowOrder
	}
	return out[:], nil
}
