// Package wire implements the byte encodings of Sotto's ratchet messages: the
// envelope of a message and its (decrypted) header, as specified in
// docs/PROTOCOL.md, Part 1. It does no cryptography; package ratchet seals
// and opens what this package encodes. Parsers are strict: every length is
// checked, and a buffer parses only if re-encoding it gives the same bytes.
package wire

import (
	"encoding/binary"
	"errors"

	"golang.org/x/crypto/cryptobyte"
)

const (
	// Version is the first byte of every ratchet message.
	Version = 1
	// PublicKeySize is the size of an X25519 ratchet public key.
	PublicKeySize = 32
	// NonceSize is the size of the XChaCha20-Poly1305 header nonce.
	NonceSize = 24
	// TagSize is the size of a Poly1305 tag.
	TagSize = 16
	// EncapsulationKeySize is the size of an ML-KEM-768 encapsulation key.
	EncapsulationKeySize = 1184
	// CiphertextSize is the size of an ML-KEM-768 ciphertext.
	CiphertextSize = 1088

	// FlagEK marks a header carrying an ML-KEM-768 encapsulation key (offer).
	FlagEK = 0x01
	// FlagCT marks a header carrying an ML-KEM-768 ciphertext (answer).
	FlagCT = 0x02

	// HeaderFixedSize is dh(32) || pn(4) || n(4) || flags(1).
	HeaderFixedSize = PublicKeySize + 4 + 4 + 1
	// PrefixSize is version(1) || sealed_header_length(2).
	PrefixSize = 1 + 2
	// MaxMessageSize bounds a whole message.
	MaxMessageSize = 1 << 20
	// MaxHeaderSize is the largest plaintext header.
	MaxHeaderSize = HeaderFixedSize + EncapsulationKeySize + CiphertextSize
)

// ErrMalformed is returned for bytes that do not parse.
var ErrMalformed = errors.New("wire: malformed ratchet message")

// Header is the plaintext header of a ratchet message:
//
//	dh(32) || pn(u32) || n(u32) || flags(u8) || [ek(1184) if FlagEK] || [ct(1088) if FlagCT]
type Header struct {
	DH    [PublicKeySize]byte // sender's current ratchet public key
	PN    uint32              // number of messages in the sender's previous sending chain
	N     uint32              // number of this message in its chain
	Flags byte
	EK    []byte // ML-KEM-768 encapsulation key, present iff Flags&FlagEK
	CT    []byte // ML-KEM-768 ciphertext, present iff Flags&FlagCT
}

// Size is the length of h's encoding.
func (h *Header) Size() int { return HeaderFixedSize + len(h.EK) + len(h.CT) }

// Marshal encodes h. EK and CT must have their exact sizes when their flag
// is set and be empty otherwise.
func (h *Header) Marshal() []byte {
	return h.Append(make([]byte, 0, h.Size()))
}

// Append appends the encoding of h to b, as Marshal.
func (h *Header) Append(b []byte) []byte {
	b = append(b, h.DH[:]...)
	b = binary.BigEndian.AppendUint32(b, h.PN)
	b = binary.BigEndian.AppendUint32(b, h.N)
	b = append(b, h.Flags)
	b = append(b, h.EK...)
	b = append(b, h.CT...)
	return b
}

// ParseHeader decodes a plaintext header; unknown flags and any missing or
// trailing byte fail. EK and CT alias b.
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
	var dh []byte
	if !s.ReadBytes(&dh, PublicKeySize) || !s.ReadUint32(&h.PN) || !s.ReadUint32(&h.N) || !s.ReadUint8(&h.Flags) ||
		h.Flags&^(FlagEK|FlagCT) != 0 ||
		h.Flags&FlagEK != 0 && !s.ReadBytes(&h.EK, EncapsulationKeySize) ||
		h.Flags&FlagCT != 0 && !s.ReadBytes(&h.CT, CiphertextSize) ||
		!s.Empty() {
		*h = Header{}
		return ErrMalformed
	}
	copy(h.DH[:], dh)
	return nil
}

// Message is a ratchet message split into its parts:
//
//	version(1) || sealed_len(u16) || nonce(24) || enc_header || body
//
// where sealed_len = 24 + len(enc_header), enc_header is the
// XChaCha20-Poly1305 sealing of a Header (with tag) and body the
// ChaCha20-Poly1305 sealing of the plaintext (with tag).
type Message struct {
	Nonce     []byte // header nonce
	EncHeader []byte // sealed header, tag included
	Body      []byte // sealed body, tag included
}

// Prefix returns version || sealed_len, the associated data of the header.
func (m *Message) Prefix() []byte {
	b := []byte{Version}
	return binary.BigEndian.AppendUint16(b, uint16(len(m.Nonce)+len(m.EncHeader)))
}

// Marshal encodes m.
func (m *Message) Marshal() []byte {
	b := make([]byte, 0, PrefixSize+len(m.Nonce)+len(m.EncHeader)+len(m.Body))
	b = append(b, m.Prefix()...)
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
	if len(b) > MaxMessageSize {
		return ErrMalformed
	}
	s := cryptobyte.String(b)
	var v uint8
	var sealed cryptobyte.String
	if !s.ReadUint8(&v) || v != Version || !s.ReadUint16LengthPrefixed(&sealed) {
		return ErrMalformed
	}
	if len(sealed) < NonceSize+HeaderFixedSize+TagSize || len(sealed) > NonceSize+MaxHeaderSize+TagSize || len(s) < TagSize {
		return ErrMalformed
	}
	*m = Message{Nonce: sealed[:NonceSize], EncHeader: sealed[NonceSize:], Body: s}
	return nil
}
