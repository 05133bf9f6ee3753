// Package wire implements the byte encodings of Sotto's ratchet messages: the
// envelope of a message and its (decrypted) header, as specified in
// docs/PROTOCOL.md, Part 1. It does no cryptography; package ratchet seals
// (with XChaCha20-Poly1305) and opens what this package encodes. Parsers are
// strict: every length and field is checked, and a buffer parses only if
// re-encoding it gives the same bytes.
//
// Every header has the same size: the post-quantum material of the ratchet
// travels in one fixed-size chunk per message (zero when there is none to
// send), so a message's size depends only on its plaintext.
package wire

import (
	"encoding/binary"
	"errors"

	"golang.org/x/crypto/cryptobyte"
)

const (
	// Version is the first byte of every ratchet message (protocol version 2).
	Version = 2
	// PublicKeySize is the size of an X25519 ratchet public key.
	PublicKeySize = 32
	// NonceSize is the size of the XChaCha20-Poly1305 nonce shared by a
	// message's header and body (under different keys).
	NonceSize = 24
	// TagSize is the size of a Poly1305 tag.
	TagSize = 16
	// EncapsulationKeySize is the size of an ML-KEM-768 encapsulation key.
	EncapsulationKeySize = 1184
	// CiphertextSize is the size of an ML-KEM-768 ciphertext.
	CiphertextSize = 1088

	// ChunkSize is the size of the post-quantum chunk every header carries.
	ChunkSize = 240
	// EKChunks is the number of chunks an encapsulation key is cut into
	// (the last one zero-padded).
	EKChunks = (EncapsulationKeySize + ChunkSize - 1) / ChunkSize
	// CTChunks is the number of chunks a ciphertext is cut into.
	CTChunks = (CiphertextSize + ChunkSize - 1) / ChunkSize

	// FlagEK marks a header whose chunk is part of an ML-KEM-768
	// encapsulation key (the initiator's offer).
	FlagEK = 0x01
	// FlagCT marks a header whose chunk is part of an ML-KEM-768 ciphertext
	// (the responder's answer).
	FlagCT = 0x02
	// FlagMix marks every header of a sending chain whose root KDF step
	// mixed in the shared secret of the last completed post-quantum round.
	FlagMix = 0x04

	// HeaderSize is the size of every plaintext header:
	// dh(32) || pn(4) || n(4) || flags(1) || round(4) || index(1) || chunk(240).
	HeaderSize = PublicKeySize + 4 + 4 + 1 + 4 + 1 + ChunkSize
	// MaxHeaderSize is HeaderSize (kept for callers that size buffers for
	// the largest header).
	MaxHeaderSize = HeaderSize
	// PrefixSize is the version byte: the associated data of the header.
	PrefixSize = 1
	// SealedHeaderSize is a sealed header: HeaderSize plus its tag.
	SealedHeaderSize = HeaderSize + TagSize
	// Overhead is what a ratchet message adds to its plaintext: version,
	// nonce, sealed header and the body's tag.
	Overhead = PrefixSize + NonceSize + SealedHeaderSize + TagSize
	// MaxMessageSize bounds a whole message.
	MaxMessageSize = 1 << 20
)

// ErrMalformed is returned for bytes that do not parse.
var ErrMalformed = errors.New("wire: malformed ratchet message")

// Header is the plaintext header of a ratchet message:
//
//	dh(32) || pn(u32) || n(u32) || flags(u8) || round(u32) || index(u8) || chunk(240)
//
// At most one of FlagEK and FlagCT is set. With either, Round (at least 1)
// and Index (below EKChunks or CTChunks) say which part of which key or
// ciphertext Chunk holds, and the bytes of Chunk past the end of that key or
// ciphertext are zero; with neither, Round, Index and Chunk are zero.
type Header struct {
	DH    [PublicKeySize]byte // sender's current ratchet public key
	PN    uint32              // number of messages in the sender's previous sending chain
	N     uint32              // number of this message in its chain
	Flags byte
	Round uint32 // post-quantum round the chunk belongs to
	Index uint8  // which chunk of that round's key or ciphertext
	Chunk [ChunkSize]byte
}

// Size is the length of h's encoding: HeaderSize.
func (h *Header) Size() int { return HeaderSize }

// ChunkLen returns how many bytes of chunk index i of an object of total
// bytes hold data (the rest is zero padding).
func ChunkLen(total, i int) int {
	return max(0, min(ChunkSize, total-i*ChunkSize))
}

// Marshal encodes h.
func (h *Header) Marshal() []byte {
	return h.Append(make([]byte, 0, HeaderSize))
}

// Append appends the encoding of h to b, as Marshal.
func (h *Header) Append(b []byte) []byte {
	b = append(b, h.DH[:]...)
	b = binary.BigEndian.AppendUint32(b, h.PN)
	b = binary.BigEndian.AppendUint32(b, h.N)
	b = append(b, h.Flags)
	b = binary.BigEndian.AppendUint32(b, h.Round)
	b = append(b, h.Index)
	return append(b, h.Chunk[:]...)
}

// ParseHeader decodes a plaintext header; unknown flags, inconsistent
// chunk fields and any missing or trailing byte fail.
func ParseHeader(b []byte) (*Header, error) {
	h := new(Header)
	if err := h.Unmarshal(b); err != nil {
		return nil, err
	}
	return h, nil
}

// Unmarshal decodes a plaintext header into h, as ParseHeader, without
// allocating. On error h is zero.
func (h *Header) Unmarshal(b []byte) error {
	*h = Header{}
	s := cryptobyte.String(b)
	var dh, chunk []byte
	if !s.ReadBytes(&dh, PublicKeySize) || !s.ReadUint32(&h.PN) || !s.ReadUint32(&h.N) || !s.ReadUint8(&h.Flags) ||
		!s.ReadUint32(&h.Round) || !s.ReadUint8(&h.Index) || !s.ReadBytes(&chunk, ChunkSize) || !s.Empty() {
		*h = Header{}
		return ErrMalformed
	}
	copy(h.DH[:], dh)
	copy(h.Chunk[:], chunk)
	if !h.valid() {
		*h = Header{}
		return ErrMalformed
	}
	return nil
}

func (h *Header) valid() bool {
	if h.Flags&^(FlagEK|FlagCT|FlagMix) != 0 || h.Flags&(FlagEK|FlagCT) == FlagEK|FlagCT {
		return false
	}
	total, n := 0, 0
	switch {
	case h.Flags&FlagEK != 0:
		total, n = EncapsulationKeySize, EKChunks
	case h.Flags&FlagCT != 0:
		total, n = CiphertextSize, CTChunks
	default:
		return h.Round == 0 && h.Index == 0 && allZero(h.Chunk[:])
	}
	return h.Round != 0 && int(h.Index) < n && allZero(h.Chunk[ChunkLen(total, int(h.Index)):])
}

// allZero reports whether b is all zero, eight bytes at a time (the chunk
// padding it checks is up to ChunkSize bytes, and every header received is
// checked): about four times faster than a byte at a time. Its time depends
// on len(b) only.
func allZero(b []byte) bool {
	var x uint64
	for len(b) >= 8 {
		x |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		x |= uint64(c)
	}
	return x == 0
}

// Message is a ratchet message split into its parts:
//
//	version(1) || nonce(24) || enc_header(HeaderSize+16) || body
//
// where enc_header is the XChaCha20-Poly1305 sealing of a Header under the
// header key and body the XChaCha20-Poly1305 sealing of the plaintext under
// the message key, both with the same nonce (and their tags).
type Message struct {
	Nonce     []byte // nonce of the header and the body
	EncHeader []byte // sealed header, tag included
	Body      []byte // sealed body, tag included
}

// Prefix returns the version byte, the associated data of the header.
func (m *Message) Prefix() []byte { return []byte{Version} }

// Marshal encodes m.
func (m *Message) Marshal() []byte {
	b := make([]byte, 0, PrefixSize+len(m.Nonce)+len(m.EncHeader)+len(m.Body))
	b = append(b, Version)
	b = append(b, m.Nonce...)
	b = append(b, m.EncHeader...)
	return append(b, m.Body...)
}

// ParseMessage splits a message. Its parts alias b.
func ParseMessage(b []byte) (*Message, error) {
	m := new(Message)
	if err := m.Unmarshal(b); err != nil {
		return nil, err
	}
	return m, nil
}

// Unmarshal splits a message into m, as ParseMessage, without allocating.
// On error m is zero.
func (m *Message) Unmarshal(b []byte) error {
	*m = Message{}
	if len(b) > MaxMessageSize || len(b) < Overhead || b[0] != Version {
		return ErrMalformed
	}
	h := PrefixSize + NonceSize
	*m = Message{Nonce: b[PrefixSize:h], EncHeader: b[h : h+SealedHeaderSize], Body: b[h+SealedHeaderSize:]}
	return nil
}
