package ratchet

import (
	"encoding"
	"encoding/binary"
	"errors"

	"github.com/sottochat/sotto/internal/erase"
	"github.com/sottochat/sotto/ratchet/wire"
	"golang.org/x/crypto/cryptobyte"
)

var (
	_ encoding.BinaryMarshaler   = (*State)(nil)
	_ encoding.BinaryUnmarshaler = (*State)(nil)
)

// stateVersion is the first byte of a serialised State: the protocol
// version that wrote it.
const stateVersion = Version

// Epoch flag bits in the serialised form (a u16).
const (
	sfHasDHr      = 0x0001
	sfHasCKr      = 0x0002
	sfSendPending = 0x0004
	sfHasDHs      = 0x0008
	sfConfirmed   = 0x0010
	sfInitiator   = 0x0020
	sfSendMix     = 0x0040
	sfRecvMix     = 0x0080
	sfPQSeed      = 0x0100
	sfPQSecret    = 0x0200
	sfPQEK        = 0x0400
	sfPQCT        = 0x0800
	sfAll         = 0x0fff
)

// ErrBadState is returned by UnmarshalBinary for bytes that are not a valid
// serialised State.
var ErrBadState = errors.New("ratchet: invalid serialised state")

// ErrOldState is returned by UnmarshalBinary for a State written by an
// earlier protocol version. It cannot be used with the current protocol:
// the caller discards it and starts again with a first handshake
// (docs/PROTOCOL.md, section 1.10).
var ErrOldState = errors.New("ratchet: state of an earlier protocol version")

// IsOldState reports whether b is a State serialised by an earlier protocol
// version (which UnmarshalBinary refuses with ErrOldState), without parsing
// the rest.
func IsOldState(b []byte) bool { return len(b) > 0 && b[0] < stateVersion }

// epoch sizes in the serialised form.
const (
	epochFixedSize = epochIDSize + KeySize + 11*KeySize + 3*4 + 2 + 4 + 1 + 1 + 1
	skippedKeySize = 4 + 8 + KeySize
)

// MarshalBinary serialises the State (docs/PROTOCOL.md, "State
// serialisation"). The result holds every secret of the session: the caller
// encrypts it at rest and wipes it after use.
func (s *State) MarshalBinary() (b []byte, err error) {
	if len(s.epochs) == 0 || len(s.epochs) > MaxEpochs {
		return nil, errors.New("ratchet: cannot marshal an empty state")
	}
	// Allocated inside erase.Do: the bytes are erased once the caller drops
	// them.
	erase.Do(func() { b, err = s.appendBinary(make([]byte, 0, s.size())) })
	return b, err
}

// MarshalSize is the length of the State's serialisation, for a caller that
// serialises into a buffer of its own with AppendBinary (a locked one, say).
func (s *State) MarshalSize() int { return s.size() }

// AppendBinary appends the serialised State to b, as MarshalBinary. With
// room for MarshalSize more bytes, b is not reallocated, so the serialised
// secrets land only in the caller's buffer.
func (s *State) AppendBinary(b []byte) ([]byte, error) {
	return s.appendBinary(b)
}

func (s *State) appendBinary(b []byte) ([]byte, error) {
	if len(s.epochs) == 0 || len(s.epochs) > MaxEpochs {
		return nil, errors.New("ratchet: cannot marshal an empty state")
	}
	b = append(b, stateVersion)
	b = append(b, s.local[:]...)
	b = append(b, s.peer[:]...)
	b = append(b, uint8(len(s.epochs)))
	for _, e := range s.epochs {
		b = e.appendBinary(b)
	}
	return b, nil
}

// size is the length of the State's serialisation.
func (s *State) size() int {
	n := 1 + 2*PublicKeySize + 1
	for _, e := range s.epochs {
		n += epochFixedSize
		p := &e.pq
		if p.hasSeed {
			n += mlkemSeedSize
		}
		if p.hasSecret {
			n += KeySize
		}
		if p.hasEK {
			n += mlkemEncapsulationKeySize
		}
		if p.hasCT {
			n += mlkemCiphertextSize
		}
		for _, c := range e.skipped {
			n += KeySize + 2 + len(c.keys)*skippedKeySize
		}
	}
	return n
}

func (e *epoch) flags() uint16 {
	var f uint16
	for _, b := range []struct {
		set bool
		bit uint16
	}{
		{e.hasDHr, sfHasDHr}, {e.hasCKr, sfHasCKr}, {e.sendPending, sfSendPending}, {e.hasDHs, sfHasDHs},
		{e.confirmed, sfConfirmed}, {e.initiator, sfInitiator}, {e.sendMix, sfSendMix}, {e.recvMix, sfRecvMix},
		{e.pq.hasSeed, sfPQSeed}, {e.pq.hasSecret, sfPQSecret}, {e.pq.hasEK, sfPQEK}, {e.pq.hasCT, sfPQCT},
	} {
		if b.set {
			f |= b.bit
		}
	}
	return f
}

func (e *epoch) appendBinary(b []byte) []byte {
	b = append(b, e.id[:]...)
	b = append(b, e.resume[:]...)
	for _, k := range []*[KeySize]byte{&e.rk, &e.dhs.priv, &e.dhs.pub, &e.dhr, &e.cks, &e.ckr, &e.hks, &e.hkr, &e.nhks, &e.nhkr} {
		b = append(b, k[:]...)
	}
	b = binary.BigEndian.AppendUint32(b, e.ns)
	b = binary.BigEndian.AppendUint32(b, e.nr)
	b = binary.BigEndian.AppendUint32(b, e.pn)
	b = binary.BigEndian.AppendUint16(b, e.flags())
	p := &e.pq
	b = binary.BigEndian.AppendUint32(b, p.round)
	b = append(b, p.have, p.next)
	if p.hasSeed {
		b = append(b, p.buf.seed[:]...)
	}
	if p.hasSecret {
		b = append(b, p.buf.secret[:]...)
	}
	if p.hasEK {
		b = append(b, p.buf.ek[:]...)
	}
	if p.hasCT {
		b = append(b, p.buf.ct[:]...)
	}
	b = append(b, uint8(len(e.skipped)))
	for _, c := range e.skipped {
		b = append(b, c.hk[:]...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(c.keys)))
		for _, k := range c.keys {
			b = binary.BigEndian.AppendUint32(b, k.n)
			b = binary.BigEndian.AppendUint64(b, uint64(k.at))
			b = append(b, k.mk[:]...)
		}
	}
	return b
}

// UnmarshalBinary replaces s with the State serialised in data. It checks
// every length, bound and invariant and never panics; on error s is
// unchanged. A State of an earlier protocol version is refused with
// ErrOldState.
func (s *State) UnmarshalBinary(data []byte) (err error) {
	erase.Do(func() { err = s.unmarshal(data) })
	return err
}

// ParseState returns the State serialised in data, as UnmarshalBinary
// does, in one allocation fewer: the State and the pointers to its epochs
// are allocated together. It is for a caller that parses its State for
// every message (inside runtime/secret.Do, where each allocation costs
// more): two allocations in all, whatever the State holds.
func ParseState(data []byte) (st *State, err error) {
	erase.Do(func() {
		p := new(parsedState)
		if err = p.s.unmarshalInto(data, p.ptrs[:0]); err == nil {
			st = &p.s
		}
	})
	return st, err
}

// parsedState is a State allocated by ParseState with room for the
// pointers to its epochs.
type parsedState struct {
	s    State
	ptrs [MaxEpochs]*epoch
}

func (s *State) unmarshal(data []byte) error { return s.unmarshalInto(data, nil) }

// unmarshalInto is unmarshal with ptrs (empty, with room for MaxEpochs) as
// the new State's list of epochs, or a new list if ptrs is nil.
func (s *State) unmarshalInto(data []byte, ptrs []*epoch) error {
	if IsOldState(data) {
		return ErrOldState
	}
	in := cryptobyte.String(data)
	var v, n uint8
	var local, peer []byte
	if !in.ReadUint8(&v) || v != stateVersion ||
		!in.ReadBytes(&local, PublicKeySize) || !in.ReadBytes(&peer, PublicKeySize) ||
		!in.ReadUint8(&n) || n == 0 || n > MaxEpochs {
		return ErrBadState
	}
	// The identities are not decoded as curve points here (that costs more
	// than the rest of a parse): a State is only ever used with a handshake
	// whose identities were checked and must equal these bytes, and Encrypt
	// and Decrypt do not use them.
	// One allocation for the epochs and their post-quantum buffers (a
	// State is parsed for every message by a caller that keeps it
	// serialised, inside runtime/secret.Do, where each allocation costs
	// more) and one for their pointers.
	block := make([]parsedEpoch, n)
	if ptrs == nil {
		ptrs = make([]*epoch, 0, n)
	}
	out := State{epochs: ptrs}
	copy(out.local[:], local)
	copy(out.peer[:], peer)
	total := 0
	for i := range block {
		e := &block[i].e
		if !e.parse(&in, &block[i].pq) {
			e.wipe()
			out.Wipe()
			return ErrBadState
		}
		for _, o := range out.epochs {
			if o.id == e.id {
				e.wipe()
				out.Wipe()
				return ErrBadState
			}
		}
		total += e.skippedCount()
		out.epochs = append(out.epochs, e)
	}
	if !in.Empty() || total > MaxSkippedKeys {
		out.Wipe()
		return ErrBadState
	}
	s.Wipe()
	*s = out
	return nil
}

// parsedEpoch is an epoch parsed by UnmarshalBinary with room for its
// post-quantum buffers, allocated together. A working copy that changes the
// buffers gets new ones (pqState.mutable) and these are wiped (replaced),
// as buffers allocated on their own would be.
type parsedEpoch struct {
	e  epoch
	pq pqBuffers
}

// parse reads an epoch into e, which is zero; pqb is zero room for its
// post-quantum buffers.
func (e *epoch) parse(in *cryptobyte.String, pqb *pqBuffers) bool {
	if !readArray(in, e.id[:]) || !readArray(in, e.resume[:]) {
		return false
	}
	for _, k := range []*[KeySize]byte{&e.rk, &e.dhs.priv, &e.dhs.pub, &e.dhr, &e.cks, &e.ckr, &e.hks, &e.hkr, &e.nhks, &e.nhkr} {
		if !readArray(in, k[:]) {
			return false
		}
	}
	var f uint16
	p := &e.pq
	if !in.ReadUint32(&e.ns) || !in.ReadUint32(&e.nr) || !in.ReadUint32(&e.pn) || !in.ReadUint16(&f) || f&^sfAll != 0 ||
		!in.ReadUint32(&p.round) || !in.ReadUint8(&p.have) || !in.ReadUint8(&p.next) {
		return false
	}
	e.hasDHr = f&sfHasDHr != 0
	e.hasCKr = f&sfHasCKr != 0
	e.sendPending = f&sfSendPending != 0
	e.hasDHs = f&sfHasDHs != 0
	e.confirmed = f&sfConfirmed != 0
	e.initiator = f&sfInitiator != 0
	e.sendMix = f&sfSendMix != 0
	e.recvMix = f&sfRecvMix != 0
	p.hasSeed = f&sfPQSeed != 0
	p.hasSecret = f&sfPQSecret != 0
	p.hasEK = f&sfPQEK != 0
	p.hasCT = f&sfPQCT != 0
	if p.hasSeed || p.hasSecret || p.hasEK || p.hasCT {
		p.buf = pqb
		b := pqb
		if p.hasSeed && !readArray(in, b.seed[:]) || p.hasSecret && !readArray(in, b.secret[:]) ||
			p.hasEK && !readArray(in, b.ek[:]) || p.hasCT && !readArray(in, b.ct[:]) {
			return false
		}
	}
	var zero [KeySize]byte
	switch {
	case e.hasCKr && !e.hasDHr,
		!e.hasDHs && (e.dhs.priv != zero || e.dhs.pub != zero),
		!e.hasDHs && !e.sendPending, // nothing to send with
		!e.hasDHr && e.dhr != zero,
		!e.pqValid():
		return false
	}
	// The public half of our ratchet key is stored, not recomputed (a
	// scalar multiplication per epoch at every load): a State is only ever
	// read back from the caller's authenticated storage, and a wrong value
	// could only make the peer fail to decrypt us.
	var nc uint8
	if !in.ReadUint8(&nc) || nc > maxSkippedChains {
		return false
	}
	for range nc {
		var c skippedChain
		var nk uint16
		if !readArray(in, c.hk[:]) || !in.ReadUint16(&nk) || nk == 0 || int(nk) > MaxSkippedKeys {
			return false
		}
		for _, o := range e.skipped {
			if o.hk == c.hk {
				return false
			}
		}
		c.keys = make([]skippedKey, 0, nk)
		for i := range int(nk) {
			var k skippedKey
			var at uint64
			if !in.ReadUint32(&k.n) || !in.ReadUint64(&at) || !readArray(in, k.mk[:]) {
				clear(c.keys)
				return false
			}
			k.at = int64(at)
			if i > 0 && k.n <= c.keys[i-1].n {
				clear(c.keys)
				return false // sorted and unique
			}
			c.keys = append(c.keys, k)
		}
		e.skipped = append(e.skipped, c)
	}
	return true
}

// pqValid checks that the post-quantum fields describe a state the
// protocol can reach (section 1.5), with zero bytes wherever a chunk has not
// arrived, so that each State has one encoding. An encapsulation key that
// is complete is checked when it is used, not here: parsing one costs as
// much as a message.
func (e *epoch) pqValid() bool {
	p := &e.pq
	if e.initiator {
		switch {
		case e.recvMix,
			p.hasSeed != p.hasEK,
			p.hasCT && !p.hasSeed,
			p.hasCT != (p.have != 0),
			p.have&^pqAllCT != 0 || p.have == pqAllCT,
			p.hasSecret && p.hasSeed,
			p.round == 0 && (p.hasSeed || p.hasSecret || e.sendMix),
			int(p.next) >= pqEKChunks || !p.hasSeed && p.next != 0:
			return false
		}
		return !p.hasCT || chunksZero(p.buf.ct[:], p.have, pqCTChunks)
	}
	switch {
	case e.sendMix, p.hasSeed,
		p.round == 0,
		p.hasCT != p.hasSecret,
		p.hasCT && (p.hasEK || p.have != pqAllEK),
		!p.hasCT && p.hasEK != (p.have != 0),
		p.have&^pqAllEK != 0,
		int(p.next) >= pqCTChunks || !p.hasCT && p.next != 0:
		return false
	}
	return !p.hasEK || chunksZero(p.buf.ek[:], p.have, pqEKChunks)
}

// chunksZero reports whether the chunks of buf not in have are all zero.
func chunksZero(buf []byte, have uint8, n int) bool {
	for i := range n {
		if have&(1<<i) != 0 {
			continue
		}
		for _, c := range buf[i*pqChunkSize : i*pqChunkSize+wire.ChunkLen(len(buf), i)] {
			if c != 0 {
				return false
			}
		}
	}
	return true
}

func readArray(in *cryptobyte.String, dst []byte) bool {
	var b []byte
	if !in.ReadBytes(&b, len(dst)) {
		return false
	}
	copy(dst, b)
	return true
}
