package ratchet

import (
	"slices"
	"time"

	"github.com/sottochat/sotto/internal/erase"
	"github.com/sottochat/sotto/ratchet/wire"
)

// Decrypt decrypts a message from the peer with associated data ad. now is
// the current time: skipped message keys older than MaxSkippedAge are not
// used. Decrypt works on a copy and commits only when the message
// authenticates; on any error s is unchanged. A message decrypts at most
// once: its message key is destroyed.
func (s *State) Decrypt(now time.Time, message, ad []byte) (pt []byte, err error) {
	// Inside erase.Do: the plaintext too is erased once the caller drops it.
	erase.Do(func() { pt, err = s.decrypt(now, message, ad) })
	return pt, err
}

func (s *State) decrypt(now time.Time, message, ad []byte) ([]byte, error) {
	m, ok := parseMessage(message)
	if !ok {
		return nil, ErrDecrypt
	}
	m.scr = getScratch()
	defer putScratch(m.scr)
	total := s.skippedCount()
	var w epoch
	defer w.forget()
	for i, e := range s.epochs {
		pt, err := e.decrypt(&w, now.Unix(), &m, ad, total-e.skippedCount())
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
		oldPQ := old.pq.buf
		*old = w
		replaced(oldPQ, &old.pq)
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
// chain, then the next one (a DH ratchet step). On success it returns the
// plaintext and leaves in w the new epoch, a copy of e whose skipped lists
// are cloned before any change; e itself is never modified. others is the
// number of skipped keys in the other epochs, for the MaxSkippedKeys bound.
func (e *epoch) decrypt(w *epoch, now int64, m *wireMessage, ad []byte, others int) ([]byte, error) {
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
				return nil, ErrDecrypt
			}
			*w = *e
			if !w.pq.receive(w.initiator, &h, &e.pq) {
				return nil, w.reject(e, pt)
			}
			w.skipped = cloneSkipped(e.skipped)
			wc := &w.skipped[ci]
			clear(wc.keys[ki].mk[:])
			// slices.Delete zeroes the element it frees at the end, which
			// would otherwise keep a second copy of the last key.
			wc.keys = slices.Delete(wc.keys, ki, ki+1)
			if len(wc.keys) == 0 {
				w.skipped = slices.Delete(w.skipped, ci, ci+1)
			}
			return pt, nil
		}
		// The header key matched but not the number: it may be the current
		// receiving chain, tried next.
	}

	// 2 and 3. The current receiving chain, and the next one (a DH ratchet
	// step; impossible while sendPending: the peer cannot have a new chain
	// before our next one). A header opens under at most one of the two
	// keys, so the order of the trials changes no result, only how many
	// fail: when we have sent since the peer's chain began and that chain
	// has carried at most one message, the conversation alternates and the
	// peer's reply most likely starts the next chain, so that key is tried
	// first; a longer chain (the peer sending a stream) most likely
	// continues.
	nextFirst := !e.sendPending && e.nr <= 1
	if nextFirst {
		if h, ok := m.openHeader(&e.nhkr); ok {
			return e.decryptNext(w, now, m, ad, others, h)
		}
	}
	if e.hasCKr {
		if h, ok := m.openHeader(&e.hkr); ok {
			return e.decryptCurrent(w, now, m, ad, others, h)
		}
	}
	if !e.sendPending && !nextFirst {
		if h, ok := m.openHeader(&e.nhkr); ok {
			return e.decryptNext(w, now, m, ad, others, h)
		}
	}
	return nil, ErrDecrypt
}

// decryptCurrent decrypts m, whose header h opened under the current
// receiving chain's key.
func (e *epoch) decryptCurrent(w *epoch, now int64, m *wireMessage, ad []byte, others int, h wire.Header) ([]byte, error) {
	if h.DH != e.dhr || (h.Flags&wire.FlagMix != 0) != e.recvMix || h.N < e.nr {
		return nil, ErrDecrypt
	}
	*w = *e
	if err := w.skip(h.N, now, others); err != nil {
		return nil, w.discard(e, err)
	}
	next, mk := kdfCK(&w.ckr)
	defer wipe(mk[:])
	pt, ok := m.openBody(&mk, ad)
	if !ok {
		return nil, w.discard(e, ErrDecrypt)
	}
	if !w.pq.receive(w.initiator, &h, &e.pq) {
		return nil, w.reject(e, pt)
	}
	w.ckr = next
	w.nr = h.N + 1
	return pt, nil
}

// decryptNext decrypts m, whose header h opened under the next receiving
// chain's key: the receiving half of DHRatchet.
func (e *epoch) decryptNext(w *epoch, now int64, m *wireMessage, ad []byte, others int, h wire.Header) ([]byte, error) {
	mix := h.Flags&wire.FlagMix != 0
	if mix && (e.initiator || !e.pq.hasSecret) || !e.hasDHs {
		return nil, ErrDecrypt
	}
	*w = *e
	if w.hasCKr {
		if h.PN < w.nr {
			return nil, ErrDecrypt
		}
		if err := w.skip(h.PN, now, others); err != nil {
			return nil, w.discard(e, err)
		}
	} else if h.PN != 0 {
		return nil, ErrDecrypt
	}
	var dh [KeySize]byte
	defer wipe(dh[:])
	if !x25519(&dh, &w.dhs.priv, &h.DH) {
		return nil, w.discard(e, ErrDecrypt)
	}
	var pq *[KeySize]byte
	if mix {
		pq = w.pq.secretKey()
	}
	w.dhr = h.DH
	w.hasDHr = true
	w.hkr = w.nhkr
	w.rk, w.ckr, w.nhkr = kdfRK(&w.rk, &dh, pq)
	if mix {
		w.pq.mixed(&e.pq)
	}
	w.recvMix = mix
	w.hasCKr = true
	w.nr = 0
	w.sendPending = true
	if err := w.skip(h.N, now, others); err != nil {
		return nil, w.discard(e, err)
	}
	next, mk := kdfCK(&w.ckr)
	defer wipe(mk[:])
	pt, ok := m.openBody(&mk, ad)
	if !ok {
		return nil, w.discard(e, ErrDecrypt)
	}
	if !w.pq.receive(w.initiator, &h, &e.pq) {
		return nil, w.reject(e, pt)
	}
	w.ckr = next
	w.nr = h.N + 1
	return pt, nil
}

// reject abandons a message whose body authenticated but whose header an
// honest peer cannot have sent: the plaintext is wiped and w discarded.
func (w *epoch) reject(e *epoch, pt []byte) error {
	wipe(pt)
	return w.discard(e, ErrDecrypt)
}

// discard destroys the skipped message keys that w, a working copy of e
// being abandoned, does not share with e (skip cloned them, and added keys
// derived from the chain), and returns err.
func (w *epoch) discard(e *epoch, err error) error {
	if len(w.skipped) > 0 && (len(e.skipped) == 0 || &w.skipped[0] != &e.skipped[0]) {
		for i := range w.skipped {
			clear(w.skipped[i].keys)
		}
	}
	w.pq.abandon(&e.pq)
	w.forget()
	return err
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
