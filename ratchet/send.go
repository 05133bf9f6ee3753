package ratchet

import (
	"crypto/ecdh"
	"crypto/mlkem"
	"encoding/binary"
	"errors"
	"io"
	"math"

	"github.com/sottochat/sotto/ratchet/wire"
	"golang.org/x/crypto/chacha20poly1305"
)

// Encrypt encrypts plaintext for the peer, binding ad (associated data, not
// sent), with the newest epoch, and advances the sending chain. rand
// provides the header nonce and, at a DH ratchet step, the new ratchet key
// and (at a post-quantum step) the ML-KEM key seed. On error s is unchanged.
func (s *State) Encrypt(rand io.Reader, plaintext, ad []byte) ([]byte, error) {
	if len(s.epochs) == 0 {
		return nil, errors.New("ratchet: empty state")
	}
	if len(plaintext) > MaxPlaintextSize {
		return nil, errors.New("ratchet: plaintext too large")
	}
	if rand == nil {
		return nil, errors.New("ratchet: nil random source")
	}
	e := s.epochs[0]
	w := *e
	if !w.sendPending && w.dhs == nil {
		return nil, errCorrupt
	}
	if w.sendPending {
		if err := w.sendStep(rand); err != nil {
			return nil, err
		}
	}
	if w.ns == math.MaxUint32 {
		return nil, errors.New("ratchet: sending chain exhausted")
	}
	next, mk := w.kdfSend()
	defer wipe(mk[:])
	h := wire.Header{PN: w.pn, N: w.ns, Flags: pqFlags(w.sendChain), EK: w.pqSendEK, CT: w.pqSendCT}
	copy(h.DH[:], w.dhs.PublicKey().Bytes())
	sealedLen := headerNonceSize + h.Size() + tagSize
	out := make([]byte, wire.PrefixSize+headerNonceSize, wire.PrefixSize+sealedLen+len(plaintext)+tagSize)
	out[0] = Version
	binary.BigEndian.PutUint16(out[1:], uint16(sealedLen))
	prefix := out[:wire.PrefixSize]
	nonce := out[wire.PrefixSize:]
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, errRandom
	}
	// The header is encoded into out and sealed in place, over itself.
	hdrAt := len(out)
	out = h.Append(out)
	ha, _ := chacha20poly1305.NewX(w.hks[:])
	out = ha.Seal(out[:hdrAt], nonce, out[hdrAt:], prefix)
	sealed := out[wire.PrefixSize:]
	// The body is sealed with the single-use message key itself and the
	// same random nonce (a different key from the header's): a key repeated
	// by a State restored from an old copy still never meets the same nonce.
	scr := getScratch()
	defer putScratch(scr)
	bad := bodyAD(scr.adBuf(ad, sealed), ad, prefix, sealed)
	ba, _ := chacha20poly1305.NewX(mk[:])
	out = ba.Seal(out, nonce, plaintext, bad)
	wipe(bad)
	w.cks = next
	w.ns++
	*e = w
	return out, nil
}

func (w *epoch) kdfSend() (next, mk [KeySize]byte) { return kdfCK(&w.cks) }

// sendStep is the sending half of Signal's DHRatchet, deferred to the first
// Encrypt after a new receiving chain (Decrypt has no randomness), with the
// post-quantum offer or answer of the new chain.
func (w *epoch) sendStep(rand io.Reader) error {
	c := w.recvChain + 1
	var priv [KeySize]byte
	defer wipe(priv[:])
	if _, err := io.ReadFull(rand, priv[:]); err != nil {
		return errRandom
	}
	dhs, err := ecdh.X25519().NewPrivateKey(priv[:])
	if err != nil {
		return errRandom
	}
	dhr, err := ecdh.X25519().NewPublicKey(w.dhr[:])
	if err != nil {
		return errCorrupt
	}
	var pq []byte
	w.pqSendCT, w.pqSendEK = nil, nil
	if isAnswer(c) {
		if w.pqPeerEK == nil {
			return errCorrupt
		}
		ek, err := mlkem.NewEncapsulationKey768(w.pqPeerEK)
		if err != nil {
			return errCorrupt
		}
		// Go 1.26 draws ML-KEM encapsulation randomness from crypto/rand
		// itself; tests make it deterministic with testing/cryptotest.
		pq, w.pqSendCT = ek.Encapsulate()
		defer wipe(pq)
		w.pqPeerEK = nil
	}
	if isOffer(c) {
		var seed [mlkemSeedSize]byte
		if _, err := io.ReadFull(rand, seed[:]); err != nil {
			return errRandom
		}
		dk, err := mlkem.NewDecapsulationKey768(seed[:])
		if err != nil {
			return errRandom
		}
		w.pqSeed = seed
		w.hasPQSeed = true
		w.pqSendEK = dk.EncapsulationKey().Bytes()
		wipe(seed[:])
	}
	dh, err := dhs.ECDH(dhr)
	if err != nil {
		return errCorrupt
	}
	defer wipe(dh)
	w.pn = w.ns
	w.ns = 0
	w.hks = w.nhks
	w.rk, w.cks, w.nhks = kdfRK(&w.rk, dh, pq)
	w.dhs = dhs
	w.sendChain = c
	w.sendPending = false
	return nil
}
