package ratchet

import (
	"errors"
	"io"
	"math"

	"github.com/sottochat/sotto/internal/erase"
	"github.com/sottochat/sotto/ratchet/wire"
)

// Encrypt encrypts plaintext for the peer, binding ad (associated data, not
// sent), with the newest epoch, and advances the sending chain. rand
// provides the nonce and, at a DH ratchet step, the new ratchet key and (on
// the initiator's side, when a post-quantum round starts) the ML-KEM key
// seed. The message is len(plaintext) + [Overhead] bytes long, whatever the
// state of the ratchet. On error s is unchanged.
func (s *State) Encrypt(rand io.Reader, plaintext, ad []byte) ([]byte, error) {
	return s.encrypt(rand, plaintext, ad, nil)
}

// encrypt is Encrypt; tests pass edit to forge headers a dishonest peer
// could send. The work runs inside erase.Do; the message is allocated
// before, since it is not secret.
func (s *State) encrypt(rand io.Reader, plaintext, ad []byte, edit func(wire.Header) wire.Header) (out []byte, err error) {
	if len(plaintext) > MaxPlaintextSize {
		return nil, errors.New("ratchet: plaintext too large")
	}
	out = make([]byte, 0, wire.Overhead+len(plaintext))
	erase.Do(func() { out, err = s.seal(out, rand, plaintext, ad, edit) })
	return out, err
}

// seal appends to out (with room for the whole message) the encryption of
// plaintext.
func (s *State) seal(out []byte, rand io.Reader, plaintext, ad []byte, edit func(wire.Header) wire.Header) ([]byte, error) {
	if len(s.epochs) == 0 {
		return nil, errors.New("ratchet: empty state")
	}
	if rand == nil {
		return nil, errors.New("ratchet: nil random source")
	}
	e := s.epochs[0]
	w := *e
	committed := false
	defer func() {
		if !committed {
			w.pq.abandon(&e.pq)
		}
		w.forget() // the working copy's keys, whether committed or not
	}()
	if !w.sendPending && !w.hasDHs {
		return nil, errCorrupt
	}
	if w.sendPending {
		if err := w.sendStep(rand, &e.pq); err != nil {
			return nil, err
		}
	}
	if !w.initiator {
		if err := w.pq.answer(&e.pq); err != nil {
			return nil, err
		}
	}
	if w.ns == math.MaxUint32 {
		return nil, errors.New("ratchet: sending chain exhausted")
	}
	next, mk := w.kdfSend()
	defer wipe(mk[:])
	h := wire.Header{PN: w.pn, N: w.ns, DH: w.dhs.pub}
	w.fillHeader(&h)
	if edit != nil {
		h = edit(h)
	}
	out = append(out[:0], Version)
	out = out[:wire.PrefixSize+headerNonceSize]
	prefix := out[:wire.PrefixSize]
	nonce := out[wire.PrefixSize:]
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, errRandom
	}
	// The header is encoded into out and sealed in place, over itself.
	hdrAt := len(out)
	out = h.Append(out)
	clear(h.Chunk[:])
	scr := getScratch()
	defer putScratch(scr)
	out = scr.aead.seal(&w.hks, out[:hdrAt], nonce, out[hdrAt:], prefix)
	sealed := out[wire.PrefixSize:]
	// The body is sealed with the single-use message key itself and the
	// same random nonce (a different key from the header's): a key repeated
	// by a State restored from an old copy still never meets the same nonce.
	bad := bodyAD(scr.adBuf(ad, sealed), ad, prefix, sealed)
	out = scr.aead.seal(&mk, out, nonce, plaintext, bad)
	wipe(bad)
	w.cks = next
	w.ns++
	old := e.pq.buf
	*e = w
	replaced(old, &e.pq)
	committed = true
	return out, nil
}

func (w *epoch) kdfSend() (next, mk [KeySize]byte) { return kdfCK(&w.cks) }

// sendStep is the sending half of Signal's DHRatchet, deferred to the first
// Encrypt after a new receiving chain (Decrypt has no randomness). On the
// initiator's side it mixes in the secret of a completed post-quantum round
// and starts the next round.
func (w *epoch) sendStep(rand io.Reader, orig *pqState) error {
	var priv [KeySize]byte
	defer wipe(priv[:])
	if err := readSecret(rand, priv[:]); err != nil {
		return err
	}
	if !w.hasDHr {
		return errCorrupt
	}
	dhs := newKeyPair(&priv)
	defer dhs.wipe()
	var dh [KeySize]byte
	defer wipe(dh[:])
	if !x25519(&dh, &dhs.priv, &w.dhr) {
		return errCorrupt // DHr was checked when it arrived
	}
	var pq *[KeySize]byte
	if w.initiator && w.pq.hasSecret {
		pq = w.pq.secretKey()
	}
	w.pn = w.ns
	w.ns = 0
	w.hks = w.nhks
	w.rk, w.cks, w.nhks = kdfRK(&w.rk, &dh, pq)
	w.dhs = dhs
	w.hasDHs = true
	w.sendMix = pq != nil
	w.sendPending = false
	if w.initiator && (pq != nil || w.pq.round == 0) {
		if err := w.pq.startRound(rand, orig); err != nil {
			return err
		}
	}
	return nil
}
