package ratchet

import (
	"crypto/ecdh"
	"crypto/mlkem"
	"encoding"
	"errors"

	"golang.org/x/crypto/cryptobyte"
)

var (
	_ encoding.BinaryMarshaler   = (*State)(nil)
	_ encoding.BinaryUnmarshaler = (*State)(nil)
)

// stateVersion is the first byte of a serialised State.
const stateVersion = 1

// Epoch flag bits in the serialised form.
const (
	sfHasDHr      = 0x01
	sfHasCKr      = 0x02
	sfSendPending = 0x04
	sfHasPQSeed   = 0x08
	sfHasDHs      = 0x10
	sfConfirmed   = 0x20
	sfAll         = sfHasDHr | sfHasCKr | sfSendPending | sfHasPQSeed | sfHasDHs | sfConfirmed
)

// ErrBadState is returned by UnmarshalBinary for bytes that are not a valid
// serialised State.
var ErrBadState = errors.New("ratchet: invalid serialised state")

// MarshalBinary serialises the State (docs/PROTOCOL.md, "State
// serialisation"). The result holds every secret of the session: the caller
// encrypts it at rest and wipes it after use.
func (s *State) MarshalBinary() ([]byte, error) {
	if len(s.epochs) == 0 || len(s.epochs) > MaxEpochs {
		return nil, errors.New("ratchet: cannot marshal an empty state")
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddUint8(stateVersion)
	b.AddBytes(s.local[:])
	b.AddBytes(s.peer[:])
	b.AddUint8(uint8(len(s.epochs)))
	for _, e := range s.epochs {
		e.marshal(b)
	}
	return b.Bytes()
}

func (e *epoch) marshal(b *cryptobyte.Builder) {
	b.AddBytes(e.id[:])
	b.AddBytes(e.resume[:])
	var dhs [KeySize]byte
	if e.dhs != nil {
		copy(dhs[:], e.dhs.Bytes())
	}
	for _, k := range []*[KeySize]byte{&e.rk, &dhs, &e.dhr, &e.cks, &e.ckr, &e.hks, &e.hkr, &e.nhks, &e.nhkr} {
		b.AddBytes(k[:])
	}
	wipe(dhs[:])
	for _, n := range []uint32{e.ns, e.nr, e.pn, e.sendChain, e.recvChain} {
		b.AddUint32(n)
	}
	var f uint8
	if e.hasDHr {
		f |= sfHasDHr
	}
	if e.hasCKr {
		f |= sfHasCKr
	}
	if e.sendPending {
		f |= sfSendPending
	}
	if e.hasPQSeed {
		f |= sfHasPQSeed
	}
	if e.dhs != nil {
		f |= sfHasDHs
	}
	if e.confirmed {
		f |= sfConfirmed
	}
	b.AddUint8(f)
	if e.hasPQSeed {
		b.AddBytes(e.pqSeed[:])
	}
	for _, v := range [][]byte{e.pqPeerEK, e.pqSendEK, e.pqSendCT} {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(v) })
	}
	b.AddUint8(uint8(len(e.skipped)))
	for _, c := range e.skipped {
		b.AddBytes(c.hk[:])
		b.AddUint16(uint16(len(c.keys)))
		for _, k := range c.keys {
			b.AddUint32(k.n)
			b.AddUint64(uint64(k.at))
			b.AddBytes(k.mk[:])
		}
	}
}

// UnmarshalBinary replaces s with the State serialised in data. It checks
// every length and bound and never panics; on error s is unchanged.
func (s *State) UnmarshalBinary(data []byte) error {
	in := cryptobyte.String(data)
	var v, n uint8
	var local, peer []byte
	if !in.ReadUint8(&v) || v != stateVersion ||
		!in.ReadBytes(&local, PublicKeySize) || !in.ReadBytes(&peer, PublicKeySize) ||
		!in.ReadUint8(&n) || n == 0 || n > MaxEpochs {
		return ErrBadState
	}
	if _, err := identityX25519(local); err != nil {
		return ErrBadState
	}
	if _, err := identityX25519(peer); err != nil {
		return ErrBadState
	}
	out := &State{}
	copy(out.local[:], local)
	copy(out.peer[:], peer)
	total := 0
	for range n {
		e, ok := parseEpoch(&in)
		if !ok {
			out.Wipe()
			return ErrBadState
		}
		for _, o := range out.epochs {
			if o.id == e.id {
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
	*s = *out
	return nil
}

func parseEpoch(in *cryptobyte.String) (*epoch, bool) {
	e := new(epoch)
	if !readArray(in, e.id[:]) || !readArray(in, e.resume[:]) {
		return nil, false
	}
	var dhs [KeySize]byte
	defer wipe(dhs[:])
	for _, k := range []*[KeySize]byte{&e.rk, &dhs, &e.dhr, &e.cks, &e.ckr, &e.hks, &e.hkr, &e.nhks, &e.nhkr} {
		if !readArray(in, k[:]) {
			return nil, false
		}
	}
	for _, n := range []*uint32{&e.ns, &e.nr, &e.pn, &e.sendChain, &e.recvChain} {
		if !in.ReadUint32(n) {
			return nil, false
		}
	}
	var f uint8
	if !in.ReadUint8(&f) || f&^sfAll != 0 {
		return nil, false
	}
	e.hasDHr = f&sfHasDHr != 0
	e.hasCKr = f&sfHasCKr != 0
	e.sendPending = f&sfSendPending != 0
	e.hasPQSeed = f&sfHasPQSeed != 0
	e.confirmed = f&sfConfirmed != 0
	if e.hasPQSeed && !readArray(in, e.pqSeed[:]) {
		return nil, false
	}
	if e.hasCKr && !e.hasDHr {
		return nil, false
	}
	// Our ratchet key: any 32 bytes are a valid X25519 private key; absent,
	// it must be zero (one encoding per state).
	if f&sfHasDHs != 0 {
		priv, err := ecdh.X25519().NewPrivateKey(dhs[:])
		if err != nil {
			return nil, false
		}
		e.dhs = priv
	} else if dhs != ([KeySize]byte{}) {
		return nil, false
	}
	if e.dhs == nil && !e.sendPending {
		return nil, false // nothing to send with
	}
	var ek, sek, sct cryptobyte.String
	if !in.ReadUint16LengthPrefixed(&ek) || !in.ReadUint16LengthPrefixed(&sek) || !in.ReadUint16LengthPrefixed(&sct) {
		return nil, false
	}
	if len(ek) != 0 {
		if _, err := mlkem.NewEncapsulationKey768(ek); err != nil {
			return nil, false
		}
		e.pqPeerEK = append([]byte(nil), ek...)
	}
	if len(sek) != 0 {
		if _, err := mlkem.NewEncapsulationKey768(sek); err != nil {
			return nil, false
		}
		e.pqSendEK = append([]byte(nil), sek...)
	}
	if len(sct) != 0 {
		if len(sct) != mlkemCiphertextSize {
			return nil, false
		}
		e.pqSendCT = append([]byte(nil), sct...)
	}
	// The post-quantum fields must match the schedule of the sending chain
	// (and a pending offer needs its answer to be possible).
	if !e.sendPending && (len(e.pqSendEK) != 0) != isOffer(e.sendChain) {
		return nil, false
	}
	if !e.sendPending && (len(e.pqSendCT) != 0) != isAnswer(e.sendChain) {
		return nil, false
	}
	var nc uint8
	if !in.ReadUint8(&nc) || nc > maxSkippedChains {
		return nil, false
	}
	for range nc {
		var c skippedChain
		var nk uint16
		if !readArray(in, c.hk[:]) || !in.ReadUint16(&nk) || nk == 0 || int(nk) > MaxSkippedKeys {
			return nil, false
		}
		for _, o := range e.skipped {
			if o.hk == c.hk {
				return nil, false
			}
		}
		c.keys = make([]skippedKey, 0, nk)
		for i := range int(nk) {
			var k skippedKey
			var at uint64
			if !in.ReadUint32(&k.n) || !in.ReadUint64(&at) || !readArray(in, k.mk[:]) {
				return nil, false
			}
			k.at = int64(at)
			if i > 0 && k.n <= c.keys[i-1].n {
				return nil, false // sorted and unique
			}
			c.keys = append(c.keys, k)
		}
		e.skipped = append(e.skipped, c)
	}
	return e, true
}

func readArray(in *cryptobyte.String, dst []byte) bool {
	var b []byte
	if !in.ReadBytes(&b, len(dst)) {
		return false
	}
	copy(dst, b)
	return true
}
