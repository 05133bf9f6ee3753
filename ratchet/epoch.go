package ratchet

import (
	"crypto/ecdh"
	"slices"
)

// epoch is one double ratchet, seeded by one handshake (Signal's Double
// Ratchet with header encryption, section 4 of its specification, with the
// post-quantum steps of docs/PROTOCOL.md). Field names follow the spec.
//
// An epoch is copied by value before a decryption and the copy committed
// only on success, by copying it over the original (State.Decrypt): every
// field is a value or a slice that is replaced, never modified in place,
// except skipped, which is cloned before it is changed. An epoch belongs to
// one State: Clone and Adopt copy epochs, never share them.
type epoch struct {
	id     [epochIDSize]byte // public name of the epoch, from the handshake
	resume [KeySize]byte     // continuity secret the next handshake may chain to

	rk   [KeySize]byte       // RK
	dhs  *ecdh.PrivateKey    // DHs (nil for the initiator until its first Encrypt); never modified, only replaced
	dhr  [PublicKeySize]byte // DHr
	cks  [KeySize]byte       // CKs
	ckr  [KeySize]byte       // CKr
	hks  [KeySize]byte       // HKs
	hkr  [KeySize]byte       // HKr
	nhks [KeySize]byte       // NHKs
	nhkr [KeySize]byte       // NHKr
	ns   uint32              // Ns
	nr   uint32              // Nr
	pn   uint32              // PN

	sendChain uint32 // index of our current sending chain (chain 0 is the responder's first)
	recvChain uint32 // index of our current receiving chain

	confirmed   bool // the peer is known to hold this epoch (it sent a message in it, or confirmed it in message 4)
	hasDHr      bool // DHr is set
	hasCKr      bool // CKr and HKr are set (a receiving chain exists)
	sendPending bool // a new receiving chain arrived: the next Encrypt does the sending DH step

	// Post-quantum steps (see PQPeriod).
	hasPQSeed bool                // pqSeed holds the decapsulation key of our last offer
	pqSeed    [mlkemSeedSize]byte // ML-KEM-768 seed (d || z) of our last offer
	pqPeerEK  []byte              // peer's offered encapsulation key, to answer at our next sending step
	pqSendEK  []byte              // our offer, carried in every header of the current sending chain
	pqSendCT  []byte              // our answer, carried in every header of the current sending chain

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

func isOffer(chain uint32) bool  { return chain%PQPeriod == 1 }
func isAnswer(chain uint32) bool { return chain%PQPeriod == 2 }

// pqFlags are the header flags a message of the given chain must carry.
func pqFlags(chain uint32) byte {
	var f byte
	if isOffer(chain) {
		f |= flagEK
	}
	if isAnswer(chain) {
		f |= flagCT
	}
	return f
}

// newInitiatorEpoch is RatchetInitAlice with header encryption, adapted so
// that both sides can send at once: the responder's first sending chain
// (chain 0, key CKb0) exists from the start, and the initiator's first DH
// step (chain 1) happens at its first Encrypt.
func newInitiatorEpoch(k epochKeys, responderRatchetKey *ecdh.PublicKey) *epoch {
	e := &epoch{id: k.id, resume: k.resume, rk: k.rk}
	copy(e.dhr[:], responderRatchetKey.Bytes())
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
// responder's first ratchet key pair from message 4 and its chain 0.
func newResponderEpoch(k epochKeys, ratchetKey *ecdh.PrivateKey) *epoch {
	e := &epoch{id: k.id, resume: k.resume, rk: k.rk}
	e.dhs = ratchetKey
	e.cks = k.ckB0
	e.hks = k.hkB0
	e.nhks = k.nhkB
	e.nhkr = k.hkA
	return e
}

func (e *epoch) clone() *epoch {
	c := *e
	c.skipped = cloneSkipped(e.skipped)
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

// wipe zeroes every secret of the epoch. The ratchet private key lives in a
// crypto/ecdh value, which cannot be wiped: it is dropped for the garbage
// collector.
func (e *epoch) wipe() {
	for i := range e.skipped {
		clear(e.skipped[i].keys)
	}
	*e = epoch{}
}
