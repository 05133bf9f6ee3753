package ratchet

import (
	"crypto/sha256"
	"encoding/binary"

	"golang.org/x/crypto/chacha20poly1305"
)

// symmetric is the handshake's transcript hash and key schedule, shaped like
// Noise's SymmetricState (Noise specification, section 5.2), with the
// package's HKDF-SHA-256 over fixed buffers (kdf.go).
type symmetric struct {
	ck   [KeySize]byte // chaining key
	h    [32]byte      // transcript hash
	k    [KeySize]byte // current handshake AEAD key
	hasK bool
	n    uint64                           // nonce counter for k
	nb   [chacha20poly1305.NonceSize]byte // n encoded, here rather than on the stack: the AEAD's interface would move it to the heap at every call

	// aead is the ChaCha20-Poly1305 instance of the handshake's
	// messages, made at the first use (inside erase.Do) and holding k only
	// during an operation (xAEAD).
	aead xAEAD
}

// cipher returns the handshake's AEAD instance, made at the first call.
func (s *symmetric) cipher() *xAEAD {
	if s.aead.a == nil && !s.aead.chacha {
		s.aead = newChaChaAEAD()
	}
	return &s.aead
}

func (s *symmetric) init() {
	s.h = sha256.Sum256([]byte(protocolName))
	s.ck = s.h
}

// mixHash sets h = SHA-256(h || data).
func (s *symmetric) mixHash(data []byte) {
	d := sha256.New()
	d.Write(s.h[:])
	d.Write(data)
	d.Sum(s.h[:0])
}

// mixKey sets ck, k = HKDF-SHA-256(salt = ck, ikm, info = labelMixKey, 64).
func (s *symmetric) mixKey(ikm []byte) {
	var out [2 * KeySize]byte
	hkdfSHA256(out[:], &s.ck, ikm, labelMixKey)
	copy(s.ck[:], out[:KeySize])
	copy(s.k[:], out[KeySize:])
	clear(out[:])
	s.hasK = true
	s.n = 0
}

func (s *symmetric) nonce() []byte {
	s.nb = [chacha20poly1305.NonceSize]byte{}
	binary.LittleEndian.PutUint64(s.nb[4:], s.n)
	return s.nb[:]
}

// encryptAndHash seals pt under k with h as associated data and mixes the
// ciphertext into h.
func (s *symmetric) encryptAndHash(pt []byte) []byte {
	if !s.hasK {
		panic("ratchet: encryptAndHash without a key")
	}
	ct := s.cipher().seal(&s.k, nil, s.nonce(), pt, s.h[:])
	s.n++
	s.mixHash(ct)
	return ct
}

// decryptAndHash opens ct under k with h as associated data and mixes the
// ciphertext into h.
func (s *symmetric) decryptAndHash(ct []byte) ([]byte, error) {
	if !s.hasK {
		return nil, ErrHandshake
	}
	pt, err := s.cipher().open(&s.k, nil, s.nonce(), ct, s.h[:])
	if err != nil {
		return nil, ErrHandshake
	}
	s.n++
	s.mixHash(ct)
	return pt, nil
}

func (s *symmetric) clear() {
	clear(s.ck[:])
	clear(s.k[:])
	clear(s.h[:])
	s.hasK = false
	s.n = 0
	s.nb = [chacha20poly1305.NonceSize]byte{}
	s.aead = xAEAD{}
}
