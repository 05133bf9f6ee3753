package ratchet

import (
	"crypto/mlkem"
	"io"

	"github.com/sottochat/sotto/ratchet/wire"
)

// pqState is the post-quantum round in progress in an epoch
// (docs/PROTOCOL.md, section 1.5). Every message header carries one
// fixed-size chunk, so that message sizes never show where a round is:
//
//   - The initiator offers. At a sending DH step with no round in progress
//     it draws an ML-KEM-768 decapsulation key and sends its encapsulation
//     key, one chunk per message, round robin, until a chunk of the answer
//     arrives. When the whole ciphertext has arrived it decapsulates, and
//     its next sending DH step mixes the shared secret into the root key
//     (every header of that chain carries FlagMix) and starts the next round.
//   - The responder answers. It collects the key; its next Encrypt
//     encapsulates to it and sends the ciphertext, one chunk per message,
//     round robin, until a chain of the initiator's with FlagMix arrives,
//     whose receiving DH step mixes the same secret. Then it waits for the
//     next round's key.
//
// The encapsulating side always holds the secret before the decapsulating
// side mixes it, so both mix it into the same root KDF step.
//
// The small fields are copied with the epoch; the large ones live in buf,
// which an epoch and its working copy share until the copy changes it (see
// mutable), so that copying an epoch for every message stays cheap.
type pqState struct {
	round     uint32 // initiator: round of our current (or last) offer, 0 before the first; responder: the round we are answering
	have      uint8  // bitmap of the chunks received: of the ciphertext (initiator) or of the key (responder)
	next      uint8  // index of the next chunk we send
	hasSeed   bool   // initiator: buf.seed is the decapsulation key of the current offer
	hasEK     bool   // buf.ek holds our offer (initiator) or the chunks of the peer's (responder)
	hasCT     bool   // buf.ct holds the chunks of the answer (initiator) or our answer (responder)
	hasSecret bool   // buf.secret is the round's shared secret, not yet mixed into the root key

	buf *pqBuffers // nil when none of the above is set
}

// pqBuffers are the large fields of a pqState.
type pqBuffers struct {
	seed   [mlkemSeedSize]byte
	secret [KeySize]byte
	ek     [mlkemEncapsulationKeySize]byte
	ct     [mlkemCiphertextSize]byte
}

const (
	pqAllEK = 1<<pqEKChunks - 1
	pqAllCT = 1<<pqCTChunks - 1
)

// mutable returns p's buffers for writing. p is a working copy of orig (the
// committed state it was copied from; nil if none): while the two share
// their buffers, p gets a copy of its own first, so that a working copy
// that is abandoned never changed the committed state.
func (p *pqState) mutable(orig *pqState) *pqBuffers {
	if p.buf != nil && (orig == nil || p.buf != orig.buf) {
		return p.buf
	}
	b := new(pqBuffers)
	if p.buf != nil {
		*b = *p.buf
	}
	p.buf = b
	return b
}

// reset empties p (keeping round), wiping buffers of its own; buffers it
// shares with orig are wiped when the change is committed (settle).
func (p *pqState) reset(orig *pqState) {
	if p.buf != nil && (orig == nil || p.buf != orig.buf) {
		*p.buf = pqBuffers{}
	}
	*p = pqState{round: p.round}
}

// abandon wipes the buffers p, a working copy of committed being
// abandoned, made for itself.
func (p *pqState) abandon(committed *pqState) {
	if p.buf != nil && p.buf != committed.buf {
		*p.buf = pqBuffers{}
	}
}

// replaced wipes old, the buffers of a committed state that a working copy
// has just replaced with now, unless now still uses them.
func replaced(old *pqBuffers, now *pqState) {
	if old != nil && old != now.buf {
		*old = pqBuffers{}
	}
}

func (p *pqState) wipe() {
	if p.buf != nil {
		*p.buf = pqBuffers{}
	}
	*p = pqState{}
}

// clone returns a copy of p with buffers of its own.
func (p *pqState) clone() pqState {
	c := *p
	if p.buf != nil {
		c.buf = new(pqBuffers)
		*c.buf = *p.buf
	}
	return c
}

// startRound (initiator) draws the decapsulation key of a new offer.
func (p *pqState) startRound(rand io.Reader, orig *pqState) error {
	p.reset(orig)
	p.round++
	b := p.mutable(orig)
	if err := readSecret(rand, b.seed[:]); err != nil {
		return err
	}
	dk, err := mlkem.NewDecapsulationKey768(b.seed[:])
	if err != nil {
		return errRandom
	}
	copy(b.ek[:], dk.EncapsulationKey().Bytes())
	p.hasSeed, p.hasEK = true, true
	return nil
}

// answer (responder) encapsulates to the peer's key once it is complete and
// not answered yet.
func (p *pqState) answer(orig *pqState) error {
	if p.hasCT || p.have != pqAllEK {
		return nil
	}
	ek, err := mlkem.NewEncapsulationKey768(p.buf.ek[:])
	if err != nil {
		return errCorrupt // checked when the last chunk arrived
	}
	// Go 1.26 draws ML-KEM encapsulation randomness from crypto/rand itself;
	// tests make it deterministic with testing/cryptotest.
	ss, ct := ek.Encapsulate()
	b := p.mutable(orig)
	copy(b.secret[:], ss)
	wipe(ss)
	copy(b.ct[:], ct)
	b.ek = [mlkemEncapsulationKeySize]byte{}
	p.hasSecret, p.hasCT = true, true
	p.hasEK = false
	p.next = 0
	return nil
}

// fillHeader sets the post-quantum fields of a header we send: the next
// chunk of our offer until the answer started (initiator), or of our answer
// (responder).
func (e *epoch) fillHeader(h *wire.Header) {
	p := &e.pq
	if e.sendMix {
		h.Flags |= wire.FlagMix
	}
	var src []byte
	n := 0
	switch {
	case e.initiator && p.hasSeed && p.have == 0:
		h.Flags |= wire.FlagEK
		src, n = p.buf.ek[:], pqEKChunks
	case !e.initiator && p.hasCT:
		h.Flags |= wire.FlagCT
		src, n = p.buf.ct[:], pqCTChunks
	default:
		return
	}
	i := int(p.next)
	h.Round, h.Index = p.round, p.next
	copy(h.Chunk[:], src[i*pqChunkSize:i*pqChunkSize+wire.ChunkLen(len(src), i)])
	p.next = uint8((i + 1) % n)
}

// receive takes in the chunk of an authenticated header from the peer. It
// returns false for a header an honest peer cannot send, which rejects the
// message. Chunks of earlier rounds (late messages) are ignored.
func (p *pqState) receive(initiator bool, h *wire.Header, orig *pqState) bool {
	if initiator {
		if h.Flags&(wire.FlagEK|wire.FlagMix) != 0 {
			return false // only the initiator offers and mixes
		}
		if h.Flags&wire.FlagCT == 0 {
			return true
		}
		if h.Round > p.round {
			return false
		}
		if h.Round < p.round || !p.hasSeed || p.have&(1<<h.Index) != 0 {
			return true // an earlier round, this one already decapsulated, or a chunk we have
		}
		b := p.mutable(orig)
		p.addChunk(b.ct[:], h)
		p.hasCT = true
		if p.have == pqAllCT {
			dk, err := mlkem.NewDecapsulationKey768(b.seed[:])
			if err != nil {
				return false
			}
			ss, err := dk.Decapsulate(b.ct[:])
			if err != nil {
				return false
			}
			p.reset(orig)
			p.hasSecret = true
			copy(p.mutable(orig).secret[:], ss)
			wipe(ss)
		}
		return true
	}
	if h.Flags&wire.FlagCT != 0 {
		return false // only the responder answers
	}
	if h.Flags&wire.FlagEK == 0 {
		return true
	}
	if h.Round > p.round {
		return false
	}
	if h.Round < p.round || p.hasCT || p.have&(1<<h.Index) != 0 {
		return true // an earlier round, this one already answered, or a chunk we have
	}
	b := p.mutable(orig)
	p.addChunk(b.ek[:], h)
	p.hasEK = true
	if p.have == pqAllEK {
		if _, err := mlkem.NewEncapsulationKey768(b.ek[:]); err != nil {
			return false
		}
	}
	return true
}

func (p *pqState) addChunk(dst []byte, h *wire.Header) {
	i := int(h.Index)
	copy(dst[i*pqChunkSize:], h.Chunk[:wire.ChunkLen(len(dst), i)])
	p.have |= 1 << h.Index
}

// mixed (responder) ends the round whose secret a receiving DH step just
// mixed into the root key, and waits for the next round's key.
func (p *pqState) mixed(orig *pqState) {
	p.reset(orig)
	p.round++
}

// secret returns the round's shared secret, for the root KDF step.
func (p *pqState) secretKey() *[KeySize]byte { return &p.buf.secret }
