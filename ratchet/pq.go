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
// side mixes it, so both mix it into the same root KDF step. pqState holds
// only fixed-size arrays, copied with the epoch.
type pqState struct {
	round     uint32 // initiator: round of our current (or last) offer, 0 before the first; responder: the round we are answering
	have      uint8  // bitmap of the chunks received: of the ciphertext (initiator) or of the key (responder)
	next      uint8  // index of the next chunk we send
	hasSeed   bool   // initiator: seed is the decapsulation key of the current offer
	hasEK     bool   // ek holds our offer (initiator) or the chunks of the peer's (responder)
	hasCT     bool   // ct holds the chunks of the answer (initiator) or our answer (responder)
	hasSecret bool   // secret is the round's shared secret, not yet mixed into the root key

	seed   [mlkemSeedSize]byte
	secret [KeySize]byte
	ek     [mlkemEncapsulationKeySize]byte
	ct     [mlkemCiphertextSize]byte
}

const (
	pqAllEK = 1<<pqEKChunks - 1
	pqAllCT = 1<<pqCTChunks - 1
)

func (p *pqState) wipe() { *p = pqState{} }

// startRound (initiator) draws the decapsulation key of a new offer.
func (p *pqState) startRound(rand io.Reader) error {
	*p = pqState{round: p.round + 1, hasSeed: true, hasEK: true}
	if err := readSecret(rand, p.seed[:]); err != nil {
		return err
	}
	dk, err := mlkem.NewDecapsulationKey768(p.seed[:])
	if err != nil {
		return errRandom
	}
	copy(p.ek[:], dk.EncapsulationKey().Bytes())
	return nil
}

// answer (responder) encapsulates to the peer's key once it is complete and
// not answered yet.
func (p *pqState) answer() error {
	if p.hasCT || p.have != pqAllEK {
		return nil
	}
	ek, err := mlkem.NewEncapsulationKey768(p.ek[:])
	if err != nil {
		return errCorrupt // checked when the last chunk arrived
	}
	// Go 1.26 draws ML-KEM encapsulation randomness from crypto/rand itself;
	// tests make it deterministic with testing/cryptotest.
	ss, ct := ek.Encapsulate()
	copy(p.secret[:], ss)
	wipe(ss)
	copy(p.ct[:], ct)
	p.hasSecret, p.hasCT = true, true
	p.hasEK = false
	p.ek = [mlkemEncapsulationKeySize]byte{}
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
		src, n = p.ek[:], pqEKChunks
	case !e.initiator && p.hasCT:
		h.Flags |= wire.FlagCT
		src, n = p.ct[:], pqCTChunks
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
func (p *pqState) receive(initiator bool, h *wire.Header) bool {
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
		if h.Round < p.round || !p.hasSeed {
			return true // an earlier round, or this one already decapsulated
		}
		p.addChunk(p.ct[:], h)
		p.hasCT = true
		if p.have == pqAllCT {
			dk, err := mlkem.NewDecapsulationKey768(p.seed[:])
			if err != nil {
				return false
			}
			ss, err := dk.Decapsulate(p.ct[:])
			if err != nil {
				return false
			}
			round := p.round
			*p = pqState{round: round, hasSecret: true}
			copy(p.secret[:], ss)
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
	if h.Round < p.round || p.hasCT {
		return true // an earlier round, or this one already answered
	}
	p.addChunk(p.ek[:], h)
	p.hasEK = true
	if p.have == pqAllEK {
		if _, err := mlkem.NewEncapsulationKey768(p.ek[:]); err != nil {
			return false
		}
	}
	return true
}

func (p *pqState) addChunk(dst []byte, h *wire.Header) {
	bit := uint8(1) << h.Index
	if p.have&bit != 0 {
		return
	}
	i := int(h.Index)
	copy(dst[i*pqChunkSize:], h.Chunk[:wire.ChunkLen(len(dst), i)])
	p.have |= bit
}

// mixed (responder) ends the round whose secret a receiving DH step just
// mixed into the root key, and waits for the next round's key.
func (p *pqState) mixed() {
	*p = pqState{round: p.round + 1}
}
