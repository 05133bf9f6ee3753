package ratchet

import (
	"slices"
)

// epoch is one double ratchet, seeded by one handshake (Signal's Double
// Ratchet with header encryption, section 4 of its specification, with the
// post-quantum rounds of docs/PROTOCOL.md section 1.5). Field names follow
// the spec.
//
// An epoch is copied by value before a decryption and the copy committed
// only on success, by copying it over the original (State.Decrypt): every
// field is a value or a slice that is replaced, never modified in place,
// except skipped, which is cloned before it is changed. An epoch belongs to
// one State: Clone and Adopt copy epochs, never share them.
type epoch struct {
	id     [epochIDSize]byte // public name of the epoch, from the handshake
	resume [KeySize]byte     // continuity secret the next handshake may chain to

	rk   [KeySize]byte // RK
	dhs  keyPair       // DHs (zero for the initiator until its first Encrypt)
	dhr  [KeySize]byte // DHr
	cks  [KeySize]byte // CKs
	ckr  [KeySize]byte // CKr
	hks  [KeySize]byte // HKs
	hkr  [KeySize]byte // HKr
	nhks [KeySize]byte // NHKs
	nhkr [KeySize]byte // NHKr
	ns   uint32        // Ns
	nr   uint32        // Nr
	pn   uint32        // PN

	initiator   bool // we dialled the handshake that made this epoch (we are Alice)
	confirmed   bool // the peer is known to hold this epoch
	hasDHs      bool // DHs is set
	hasDHr      bool // DHr is set
	hasCKr      bool // CKr and HKr are set (a receiving chain exists)
	sendPending bool // a new receiving chain arrived: the next Encrypt does the sending DH step
	sendMix     bool // our current sending chain mixed a post-quantum secret (its headers say so)
	recvMix     bool // the peer's current sending chain did

	pq pqState

	skipped []skippedChain // skipped message keys, by header key
}

// skippedChain holds the skipped message keys of one receiving chain.
type skippedChain struct {
	hk   [KeySize]byte
	keys []skippedKey // sorted by n
}

type skippedKey struct {
	n  uint32
	at int64 // Unix seconds when it was skipped
	mk [KeySize]byte
}

// newInitiatorEpoch is RatchetInitAlice with header encryption, adapted so
// that both sides can send at once: the responder's first sending chain
// (key CKb0) exists from the start, and the initiator's first DH step happens
// at its first Encrypt.
func newInitiatorEpoch(k *epochKeys, responderRatchetKey *[KeySize]byte) *epoch {
	e := &epoch{id: k.id, resume: k.resume, rk: k.rk, initiator: true}
	e.dhr = *responderRatchetKey
	e.hasDHr = true
	e.ckr = k.ckB0
	e.hkr = k.hkB0
	e.hasCKr = true
	e.nhkr = k.nhkB
	e.nhks = k.hkA
	e.sendPending = true
	e.confirmed = true // the responder installed it before sending message 4
	return e
}

// newResponderEpoch is RatchetInitBob with header encryption, with the
// responder's first ratchet key pair from message 4 and its first chain.
func newResponderEpoch(k *epochKeys, ratchetKey *keyPair) *epoch {
	e := &epoch{id: k.id, resume: k.resume, rk: k.rk}
	e.dhs = *ratchetKey
	e.hasDHs = true
	e.cks = k.ckB0
	e.hks = k.hkB0
	e.nhks = k.nhkB
	e.nhkr = k.hkA
	e.pq.round = 1 // the first offer the initiator will send
	return e
}

func (e *epoch) clone() *epoch {
	c := *e
	c.skipped = cloneSkipped(e.skipped)
	c.pq = e.pq.clone()
	return &c
}

func cloneSkipped(s []skippedChain) []skippedChain {
	if s == nil {
		return nil
	}
	c := make([]skippedChain, len(s))
	for i := range s {
		c[i].hk = s[i].hk
		c[i].keys = slices.Clone(s[i].keys)
	}
	return c
}

func (e *epoch) skippedCount() int {
	n := 0
	for _, c := range e.skipped {
		n += len(c.keys)
	}
	return n
}

// forget zeroes w, a working copy of an epoch, without touching the
// skipped keys it shares with the epoch it was copied from.
func (w *epoch) forget() { *w = epoch{} }

// wipe zeroes every secret of the epoch.
func (e *epoch) wipe() {
	for i := range e.skipped {
		clear(e.skipped[i].keys)
	}
	e.pq.wipe()
	*e = epoch{}
}
