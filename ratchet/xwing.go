package ratchet

import (
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/mlkem"
	"crypto/rand"
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

// xwingEncapsulate is what the responder did with crypto/hpke,
//
//	enc, s, _ := hpke.NewSender(xw, hpke.HKDFSHA256(), hpke.ExportOnly(), []byte(labelXWingInfo))
//	secret, _ := s.Export(labelXWingExport, KeySize)
//
// for xw the X-Wing public key xpub, spelled out so that its two X25519
// operations are this package's (edwards25519's fixed-base table and
// circl's ladder) instead of crypto/ecdh's ladder for both, and its key
// schedule the stack HMAC of kdf.go (xwingExport) instead of crypto/hpke's
// heap allocations: about a tenth of a handshake. The X-Wing combiner and
// the draws of randomness are crypto/hpke's (Go 1.26, pq.go): the ephemeral
// X25519 key is read from crypto/rand, then ML-KEM encapsulates (drawing
// from the same source), so that a process with one global random stream
// (the vectors use testing/cryptotest.SetGlobalRandom) gets the same
// message 2 byte for byte; TestXWingEncapsulate checks that against
// crypto/hpke, and the known-answer vectors check the whole handshake.
func xwingEncapsulate(xpub []byte, secret *[KeySize]byte) ([]byte, error) {
	if len(xpub) != xwingPublicKeySize {
		return nil, errors.New("ratchet: X-Wing public key of the wrong size")
	}
	ek, err := mlkem.NewEncapsulationKey768(xpub[:mlkem.EncapsulationKeySize768])
	if err != nil {
		return nil, err
	}
	pkT := (*[KeySize]byte)(xpub[mlkem.EncapsulationKeySize768:])
	var skE, ctT, ssT [KeySize]byte
	defer wipe(skE[:])
	defer wipe(ssT[:])
	rand.Read(skE[:]) // crypto/rand's reader, as crypto/hpke's GenerateKey; it does not fail
	x25519Public(&ctT, &skE)
	if !x25519(&ssT, &skE, pkT) {
		return nil, errLowOrder
	}
	ssPQ, ctPQ := ek.Encapsulate()
	defer wipe(ssPQ)
	// The X-Wing combiner: SHA3-256(ss_M || ss_X || ct_X || pk_X || label).
	var in [mlkem.SharedKeySize + 3*KeySize + len(xwingLabel)]byte
	n := copy(in[:], ssPQ)
	n += copy(in[n:], ssT[:])
	n += copy(in[n:], ctT[:])
	n += copy(in[n:], pkT[:])
	copy(in[n:], xwingLabel)
	ss := sha3.Sum256(in[:])
	wipe(in[:])
	xwingExport(secret, &ss)
	wipe(ss[:])
	return append(ctPQ, ctT[:]...), nil
}

// xwingLabel is X-Wing's domain separator in its combiner, `\./` `/^\`.
const xwingLabel = "\\./" + "/^\\"

// hpkeSuiteID is the HPKE suite_id (RFC 9180 section 5.1) of the
// handshake's X-Wing: "HPKE" || KEM 0x647a (MLKEM768-X25519) || KDF 0x0001
// (HKDF-SHA256) || AEAD 0xffff (export only).
const hpkeSuiteID = "HPKE\x64\x7a\x00\x01\xff\xff"

// xwingExport sets out to the HPKE exporter secret of the handshake's
// X-Wing context for the KEM shared secret ss (RFC 9180, mode_base, export
// only): Export(labelXWingExport, KeySize) of a context set up with info
// labelXWingInfo, as crypto/hpke computes it, with HKDF-SHA-256 as HMACs of
// one block each on fixed buffers that are wiped.
func xwingExport(out, ss *[KeySize]byte) {
	const v1 = "HPKE-v1" + hpkeSuiteID
	var zero, pskIDHash, infoHash, secret, exp [KeySize]byte
	var msg [maxHMACMessage]byte
	// LabeledExtract(salt, label, ikm) = HMAC(salt, "HPKE-v1" || suite_id ||
	// label || ikm); an empty salt is HMAC's all-zero key.
	n := copy(msg[:], v1+"psk_id_hash")
	hmacSHA256(&pskIDHash, &zero, msg[:n])
	n = copy(msg[:], v1+"info_hash"+labelXWingInfo)
	hmacSHA256(&infoHash, &zero, msg[:n])
	n = copy(msg[:], v1+"secret")
	hmacSHA256(&secret, ss, msg[:n])
	// LabeledExpand(prk, label, info, 32) = HMAC(prk, I2OSP(32, 2) ||
	// "HPKE-v1" || suite_id || label || info || 0x01): one block of HKDF.
	// key_schedule_context = mode (0) || psk_id_hash || info_hash.
	n = copy(msg[:], "\x00\x20"+v1+"exp\x00")
	n += copy(msg[n:], pskIDHash[:])
	n += copy(msg[n:], infoHash[:])
	msg[n] = 1
	hmacSHA256(&exp, &secret, msg[:n+1])
	n = copy(msg[:], "\x00\x20"+v1+"sec"+labelXWingExport+"\x01")
	hmacSHA256(out, &exp, msg[:n])
	wipe(secret[:])
	wipe(exp[:])
	wipe(msg[:])
}
