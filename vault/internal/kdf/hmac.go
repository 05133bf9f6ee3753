package kdf

import (
	"encoding/binary"
	"errors"
	"runtime"
)

// hmacState holds HMAC-SHA-256 (RFC 2104) keyed by a secret: the key XORed
// with the inner and outer pads, and a digest. Every field is wiped by wipe.
type hmacState struct {
	ipad, opad [blockSize]byte
	d          digest
	u          [hashSize]byte // one PRF output
	ctr        [4]byte
}

// init keys the state with key. A key longer than a block is hashed first,
// as RFC 2104 says; the hash goes straight into the pads.
func (s *hmacState) init(key []byte) {
	wipeBytes(s.ipad[:])
	if len(key) > blockSize {
		s.d.reset()
		s.d.write(key)
		s.d.sum(&s.u)
		copy(s.ipad[:], s.u[:])
		wipeBytes(s.u[:])
	} else {
		copy(s.ipad[:], key)
	}
	for i := range s.ipad {
		s.opad[i] = s.ipad[i] ^ 0x5c
		s.ipad[i] ^= 0x36
	}
}

// mac writes HMAC(key, msg[0] || msg[1] || ...) to out (which may be &s.u).
func (s *hmacState) mac(out *[hashSize]byte, msg ...[]byte) {
	s.d.reset()
	s.d.write(s.ipad[:])
	for _, m := range msg {
		s.d.write(m)
	}
	s.d.sum(&s.u)
	s.d.reset()
	s.d.write(s.opad[:])
	s.d.write(s.u[:])
	s.d.sum(out)
}

// pbkdf2 fills out with PBKDF2-HMAC-SHA-256 (RFC 8018) of the keyed
// password and salt at one iteration, as scrypt uses it: block i of out is
// HMAC(P, salt || INT(i)).
func (s *hmacState) pbkdf2(salt, out []byte) {
	for i := 1; len(out) > 0; i++ {
		binary.BigEndian.PutUint32(s.ctr[:], uint32(i))
		s.mac(&s.u, salt, s.ctr[:])
		out = out[copy(out, s.u[:]):]
	}
}

func (s *hmacState) wipe() {
	wipeBytes(s.ipad[:])
	wipeBytes(s.opad[:])
	wipeBytes(s.u[:])
	wipeBytes(s.ctr[:])
	s.d.wipe()
}

// HMAC writes HMAC-SHA-256(key, msg[0] || msg[1] || ...) to out. Unlike
// crypto/hmac, it leaves no copy of key (XORed with the pads) behind: its
// state is wiped before it returns.
func HMAC(out *[32]byte, key []byte, msg ...[]byte) {
	s := new(hmacState)
	s.init(key)
	s.mac(out, msg...)
	s.wipe()
	runtime.KeepAlive(s)
}

// HKDF fills out with HKDF-SHA-256 (RFC 5869) of secret, salt and info, at
// most 255·32 bytes. out may be locked memory: nothing derived from secret
// is left anywhere else once HKDF returns.
func HKDF(out, secret, salt []byte, info string) error {
	if len(out) > 255*hashSize {
		return errors.New("kdf: HKDF output too long")
	}
	s := new(hmacState)
	defer func() {
		s.wipe()
		runtime.KeepAlive(s)
	}()
	var zero [hashSize]byte
	if len(salt) == 0 {
		salt = zero[:]
	}
	// Extract: PRK = HMAC(salt, secret), kept in s.u only long enough to
	// key the state for Expand.
	s.init(salt)
	s.mac(&s.u, secret)
	s.init(s.u[:])
	wipeBytes(s.u[:])
	// Expand: T(i) = HMAC(PRK, T(i-1) || info || i).
	prev := 0
	for i := 1; len(out) > 0; i++ {
		s.ctr[0] = byte(i)
		s.mac(&s.u, s.u[:prev], []byte(info), s.ctr[:1])
		prev = hashSize
		out = out[copy(out, s.u[:]):]
	}
	return nil
}
