package ratchet

import (
	"bytes"
	"crypto/ecdh"
	"crypto/mlkem"
	"slices"
	"time"
)

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
	m.scr = getScratch()
	defer putScratch(m.scr)
	total := s.skippedCount()
	for i, e := range s.epochs {
		pt, w, err := e.decrypt(now.Unix(), &m, ad, total-e.skippedCount())
		if err == ErrTooManySkipped {
			return nil, err
		}
		if err != nil {
			continue
		}
		w.expire(now.Unix())
		w.confirmed = true // the peer encrypted in this epoch: it holds it
		old := s.epochs[i]
		if len(old.skipped) > 0 && (len(w.skipped) == 0 || &old.skipped[0] != &w.skipped[0]) {
			// w's skipped keys were cloned: destroy the old copies, which
			// include the key just used.
			for j := range old.skipped {
				clear(old.skipped[j].keys)
			}
		}
		// Commit over the old epoch, which overwrites its used chain key.
		*old = w
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
// the new epoch, a copy of e whose skipped lists are cloned before any
// change; e itself is never modified. others is the number of skipped
// keys in the other epochs, for the MaxSkippedKeys bound.
func (e *epoch) decrypt(now int64, m *wireMessage, ad []byte, others int) ([]byte, epoch, error) {
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
				return nil, epoch{}, ErrDecrypt
			}
			w := *e
			w.skipped = cloneSkipped(e.skipped)
			wc := &w.skipped[ci]
			clear(wc.keys[ki].mk[:])
			// slices.Delete zeroes the element it frees at the end, which
			// would otherwise keep a second copy of the last key.
			wc.keys = slices.Delete(wc.keys, ki, ki+1)
			if len(wc.keys) == 0 {
				w.skipped = slices.Delete(w.skipped, ci, ci+1)
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
				return nil, epoch{}, ErrDecrypt
			}
			w := *e
			if err := w.skip(h.N, now, others); err != nil {
				return nil, epoch{}, err
			}
			next, mk := kdfCK(&w.ckr)
			defer wipe(mk[:])
			pt, ok := m.openBody(&mk, ad)
			if !ok {
				return w.discard(e, ErrDecrypt)
			}
			w.ckr = next
			w.nr = h.N + 1
			return pt, w, nil
		}
	}

	// 3. A new receiving chain: the receiving half of DHRatchet.
	if e.sendPending {
		return nil, epoch{}, ErrDecrypt // the peer cannot have a new chain before our next one
	}
	h, ok := m.openHeader(&e.nhkr)
	if !ok {
		return nil, epoch{}, ErrDecrypt
	}
	r := e.sendChain + 1
	if h.Flags != pqFlags(r) {
		return nil, epoch{}, ErrDecrypt
	}
	w := *e
	if w.hasCKr {
		if h.PN < w.nr {
			return nil, epoch{}, ErrDecrypt
		}
		if err := w.skip(h.PN, now, others); err != nil {
			return w.discard(e, err)
		}
	} else if h.PN != 0 {
		return w.discard(e, ErrDecrypt)
	}
	var pq []byte
	if isAnswer(r) {
		if !w.hasPQSeed {
			return w.discard(e, ErrDecrypt)
		}
		dk, err := mlkem.NewDecapsulationKey768(w.pqSeed[:])
		if err != nil {
			return w.discard(e, ErrDecrypt)
		}
		if pq, err = dk.Decapsulate(h.CT); err != nil {
			return w.discard(e, ErrDecrypt)
		}
		defer wipe(pq)
		w.pqSeed = [mlkemSeedSize]byte{}
		w.hasPQSeed = false
	}
	if isOffer(r) {
		if _, err := mlkem.NewEncapsulationKey768(h.EK); err != nil {
			return w.discard(e, ErrDecrypt)
		}
		w.pqPeerEK = bytes.Clone(h.EK) // h aliases m's scratch buffer
	}
	if w.dhs == nil {
		return w.discard(e, ErrDecrypt)
	}
	dhr, err := ecdh.X25519().NewPublicKey(h.DH[:])
	if err != nil {
		return w.discard(e, ErrDecrypt)
	}
	dh, err := w.dhs.ECDH(dhr)
	if err != nil {
		return w.discard(e, ErrDecrypt)
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
		return w.discard(e, err)
	}
	next, mk := kdfCK(&w.ckr)
	defer wipe(mk[:])
	pt, ok := m.openBody(&mk, ad)
	if !ok {
		return w.discard(e, ErrDecrypt)
	}
	w.ckr = next
	w.nr = h.N + 1
	return pt, w, nil
}

// discard destroys the skipped message keys that w, a working copy of e
// being abandoned, does not share with e (skip cloned them, and added keys
// derived from the chain), and returns err.
func (w *epoch) discard(e *epoch, err error) ([]byte, epoch, error) {
	if len(w.skipped) > 0 && (len(e.skipped) == 0 || &w.skipped[0] != &e.skipped[0]) {
		for i := range w.skipped {
			clear(w.skipped[i].keys)
		}
	}
	return nil, epoch{}, err
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
			w.skipped[0] = skippedChain{}
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
