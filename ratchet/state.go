package ratchet

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/mlkem"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/sottochat/sotto/ratchet/wire"
	"golang.org/x/crypto/chacha20poly1305"
)

// ErrDecrypt is the one error of a message that does not decrypt: forged,
// corrupt, replayed (already decrypted once), too old (its key expired), or
// from an epoch this State no longer holds. The State is unchanged.
var ErrDecrypt = errors.New("ratchet: message failed to decrypt")

// ErrTooManySkipped is returned for an authentic header that would make the
// State skip more than MaxSkip message keys in a chain or hold more than
// MaxSkippedKeys in all. The State is unchanged.
var ErrTooManySkipped = errors.New("ratchet: too many skipped messages")

var errRandom = errors.New("ratchet: random source failed")

// errCorrupt is returned by Encrypt for a State that cannot be used to send
// (only reachable through a State unmarshalled from crafted bytes).
var errCorrupt = errors.New("ratchet: corrupt state")

// State is the double ratchet session between two identities: up to
// MaxEpochs epochs, one per completed handshake, newest first. Encrypt uses
// the newest epoch; Decrypt accepts a message from any epoch still held.
//
// A State is created by a Handshake and changed only by Encrypt, Decrypt and
// Expire, each of which either succeeds and commits or fails and leaves the
// State exactly as it was. The caller persists the State (MarshalBinary)
// after each successful call and before it shows a message or acknowledges
// it. A State is not safe for concurrent use.
type State struct {
	local  [PublicKeySize]byte
	peer   [PublicKeySize]byte
	epochs []*epoch
}

// Local returns our Ed25519 identity.
func (s *State) Local() ed25519.PublicKey { return append(ed25519.PublicKey(nil), s.local[:]...) }

// Peer returns the peer's Ed25519 identity.
func (s *State) Peer() ed25519.PublicKey { return append(ed25519.PublicKey(nil), s.peer[:]...) }

// Clone returns a deep copy of s.
func (s *State) Clone() *State {
	c := &State{local: s.local, peer: s.peer, epochs: make([]*epoch, len(s.epochs))}
	for i, e := range s.epochs {
		c.epochs[i] = e.clone()
	}
	return c
}

// Wipe zeroes every key in s and empties it. Go cannot guarantee that no
// other copy exists (the runtime may have copied memory); Wipe destroys the
// copies this package holds.
func (s *State) Wipe() {
	for _, e := range s.epochs {
		e.wipe()
	}
	s.epochs = nil
}

func (s *State) cloneOrNew(local, peer [PublicKeySize]byte) *State {
	if s == nil {
		return &State{local: local, peer: peer}
	}
	return s.Clone()
}

func (s *State) addEpoch(e *epoch) {
	s.epochs = append([]*epoch{e}, s.epochs...)
	for len(s.epochs) > MaxEpochs {
		s.epochs[len(s.epochs)-1].wipe()
		s.epochs = s.epochs[:len(s.epochs)-1]
	}
}

func (s *State) epochIDs() [][epochIDSize]byte {
	ids := make([][epochIDSize]byte, len(s.epochs))
	for i, e := range s.epochs {
		ids[i] = e.id
	}
	return ids
}

func (s *State) epochByID(id [epochIDSize]byte) *epoch {
	if s == nil {
		return nil
	}
	for _, e := range s.epochs {
		if e.id == id {
			return e
		}
	}
	return nil
}

func (s *State) skippedCount() int {
	n := 0
	for _, e := range s.epochs {
		n += e.skippedCount()
	}
	return n
}

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
	hb := h.Marshal()
	defer wipe(hb)
	var nonce [headerNonceSize]byte
	if _, err := io.ReadFull(rand, nonce[:]); err != nil {
		return nil, errRandom
	}
	sealedLen := headerNonceSize + len(hb) + tagSize
	out := make([]byte, 0, wire.PrefixSize+sealedLen+len(plaintext)+tagSize)
	out = append(out, Version)
	out = binary.BigEndian.AppendUint16(out, uint16(sealedLen))
	prefix := out[:wire.PrefixSize]
	out = append(out, nonce[:]...)
	ha, _ := chacha20poly1305.NewX(w.hks[:])
	out = ha.Seal(out, nonce[:], hb, prefix)
	sealed := out[wire.PrefixSize:]
	// The body is sealed with the single-use message key itself and the
	// same random nonce (a different key from the header's): a key repeated
	// by a State restored from an old copy still never meets the same nonce.
	ba, _ := chacha20poly1305.NewX(mk[:])
	out = ba.Seal(out, nonce[:], plaintext, bodyAD(ad, prefix, sealed))
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

// Decrypt decrypts a message from the peer with associated data ad. now is
// the current time: skipped message keys older than MaxSkippedAge are not
// used. Decrypt works on a copy and commits only when the message
// authenticates; on any error s is unchanged. A message decrypts at most
// once: its message key is destroyed.
func (s *State) Decrypt(now time.Time, message, ad []byte) ([]byte, error) {
	m, ok := parseMessage(message)
	if !ok {
		return nil, ErrDecrypt
	}
	total := s.skippedCount()
	for i, e := range s.epochs {
		pt, w, err := e.decrypt(now.Unix(), m, ad, total-e.skippedCount())
		if err == ErrTooManySkipped {
			return nil, err
		}
		if err != nil {
			continue
		}
		w.expire(now.Unix())
		old := s.epochs[i]
		if len(old.skipped) > 0 && (len(w.skipped) == 0 || &old.skipped[0] != &w.skipped[0]) {
			// w's skipped keys were cloned: destroy the old copies, which
			// include the key just used.
			for j := range old.skipped {
				clear(old.skipped[j].keys)
			}
		}
		s.epochs[i] = w
		return pt, nil
	}
	return nil, ErrDecrypt
}

// Expire destroys skipped message keys older than MaxSkippedAge at now.
func (s *State) Expire(now time.Time) {
	for _, e := range s.epochs {
		e.expire(now.Unix())
	}
}

func (e *epoch) expire(now int64) {
	limit := now - int64(MaxSkippedAge/time.Second)
	out := e.skipped[:0]
	for _, c := range e.skipped {
		// Compact in place; dropped keys are overwritten or cleared below.
		keep := c.keys[:0]
		for _, k := range c.keys {
			if k.at >= limit && k.at <= now+int64(MaxSkippedAge/time.Second) {
				keep = append(keep, k)
			}
		}
		clear(c.keys[len(keep):])
		c.keys = keep
		if len(c.keys) > 0 {
			out = append(out, c)
		}
	}
	clear(e.skipped[len(out):])
	e.skipped = out
}

// decrypt tries m against this epoch: skipped keys, the current receiving
// chain, then the next one (a DH ratchet step). It returns the plaintext and
// the new epoch; e itself is never modified. others is the number of skipped
// keys in the other epochs, for the MaxSkippedKeys bound.
func (e *epoch) decrypt(now int64, m *wireMessage, ad []byte, others int) ([]byte, *epoch, error) {
	// 1. A skipped message key.
	for ci := range e.skipped {
		c := &e.skipped[ci]
		h, ok := m.openHeader(&c.hk)
		if !ok {
			continue
		}
		for ki, k := range c.keys {
			if k.n != h.N || now-k.at > int64(MaxSkippedAge/time.Second) {
				continue
			}
			pt, ok := m.openBody(&k.mk, ad)
			if !ok {
				return nil, nil, ErrDecrypt
			}
			w := e.clone()
			wc := &w.skipped[ci]
			clear(wc.keys[ki].mk[:])
			wc.keys = append(wc.keys[:ki], wc.keys[ki+1:]...)
			if len(wc.keys) == 0 {
				w.skipped = append(w.skipped[:ci], w.skipped[ci+1:]...)
			}
			return pt, w, nil
		}
		// The header key matched but not the number: it may be the current
		// receiving chain, tried next.
	}

	// 2. The current receiving chain.
	if e.hasCKr {
		if h, ok := m.openHeader(&e.hkr); ok {
			if h.DH != e.dhr || h.Flags != pqFlags(e.recvChain) || h.N < e.nr {
				return nil, nil, ErrDecrypt
			}
			w := *e
			if err := w.skip(h.N, now, others); err != nil {
				return nil, nil, err
			}
			next, mk := kdfCK(&w.ckr)
			defer wipe(mk[:])
			pt, ok := m.openBody(&mk, ad)
			if !ok {
				return nil, nil, ErrDecrypt
			}
			w.ckr = next
			w.nr = h.N + 1
			return pt, &w, nil
		}
	}

	// 3. A new receiving chain: the receiving half of DHRatchet.
	if e.sendPending {
		return nil, nil, ErrDecrypt // the peer cannot have a new chain before our next one
	}
	h, ok := m.openHeader(&e.nhkr)
	if !ok {
		return nil, nil, ErrDecrypt
	}
	r := e.sendChain + 1
	if h.Flags != pqFlags(r) {
		return nil, nil, ErrDecrypt
	}
	w := *e
	if w.hasCKr {
		if h.PN < w.nr {
			return nil, nil, ErrDecrypt
		}
		if err := w.skip(h.PN, now, others); err != nil {
			return nil, nil, err
		}
	} else if h.PN != 0 {
		return nil, nil, ErrDecrypt
	}
	var pq []byte
	if isAnswer(r) {
		if !w.hasPQSeed {
			return nil, nil, ErrDecrypt
		}
		dk, err := mlkem.NewDecapsulationKey768(w.pqSeed[:])
		if err != nil {
			return nil, nil, ErrDecrypt
		}
		if pq, err = dk.Decapsulate(h.CT); err != nil {
			return nil, nil, ErrDecrypt
		}
		defer wipe(pq)
		w.pqSeed = [mlkemSeedSize]byte{}
		w.hasPQSeed = false
	}
	if isOffer(r) {
		if _, err := mlkem.NewEncapsulationKey768(h.EK); err != nil {
			return nil, nil, ErrDecrypt
		}
		w.pqPeerEK = h.EK
	}
	if w.dhs == nil {
		return nil, nil, ErrDecrypt
	}
	dhr, err := ecdh.X25519().NewPublicKey(h.DH[:])
	if err != nil {
		return nil, nil, ErrDecrypt
	}
	dh, err := w.dhs.ECDH(dhr)
	if err != nil {
		return nil, nil, ErrDecrypt
	}
	defer wipe(dh)
	w.dhr = h.DH
	w.hasDHr = true
	w.hkr = w.nhkr
	w.rk, w.ckr, w.nhkr = kdfRK(&w.rk, dh, pq)
	w.hasCKr = true
	w.nr = 0
	w.recvChain = r
	w.sendPending = true
	if err := w.skip(h.N, now, others); err != nil {
		return nil, nil, err
	}
	next, mk := kdfCK(&w.ckr)
	defer wipe(mk[:])
	pt, ok := m.openBody(&mk, ad)
	if !ok {
		return nil, nil, ErrDecrypt
	}
	w.ckr = next
	w.nr = h.N + 1
	return pt, &w, nil
}

// skip stores the message keys of the receiving chain from Nr up to (not
// including) until, as Signal's SkipMessageKeys. It clones the skipped lists
// before changing them (w is a copy of an epoch that shares them).
func (w *epoch) skip(until uint32, now int64, others int) error {
	if until <= w.nr {
		return nil
	}
	if until-w.nr > MaxSkip {
		return ErrTooManySkipped
	}
	if others+w.skippedCount()+int(until-w.nr) > MaxSkippedKeys {
		return ErrTooManySkipped
	}
	w.skipped = cloneSkipped(w.skipped)
	ci := -1
	for i := range w.skipped {
		if w.skipped[i].hk == w.hkr {
			ci = i
		}
	}
	if ci < 0 {
		if len(w.skipped) >= maxSkippedChains {
			// Drop the oldest chain's keys to bound trial decryptions.
			clear(w.skipped[0].keys)
			w.skipped = w.skipped[1:]
		}
		w.skipped = append(w.skipped, skippedChain{hk: w.hkr})
		ci = len(w.skipped) - 1
	}
	c := &w.skipped[ci]
	for w.nr < until {
		next, mk := kdfCK(&w.ckr)
		c.keys = append(c.keys, skippedKey{n: w.nr, at: now, mk: mk})
		w.ckr = next
		w.nr++
	}
	return nil
}

// Adopt adds to s the epochs of from that are newer than every epoch both
// hold, keeping their order (the newest becomes s's sending epoch). It lets a caller commit a
// handshake that started from an older copy of the State into the current
// one, without undoing what the current one did meanwhile (message keys
// used, chains advanced): st, _ := h.Finish(m4); current.Adopt(st). The two
// States must be between the same identities; from is not modified.
func (s *State) Adopt(from *State) error {
	if from == nil || from.local != s.local || from.peer != s.peer {
		return ErrStateMismatch
	}
	k := 0
	for k < len(from.epochs) && s.epochByID(from.epochs[k].id) == nil {
		k++
	}
	for i := k - 1; i >= 0; i-- {
		s.addEpoch(from.epochs[i].clone())
	}
	return nil
}

// String describes the State without any secret, so that printing one by
// mistake (a log line, %v) leaks nothing.
func (s *State) String() string {
	return fmt.Sprintf("ratchet.State{epochs: %d}", len(s.epochs))
}

// GoString is String, for %#v.
func (s *State) GoString() string { return s.String() }
