package scrypt

import "encoding/binary"

// hmacState holds HMAC-SHA-256 (RFC 2104) keyed by the password: the key
// XORed with the inner and outer pads, and a digest. Every field is wiped by
// wipe.
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

// pbkdf2 fills out with PBKDF2-HMAC-SHA-256 (RFC 8018) of the keyed
// password and salt at one iteration, as scrypt uses it: block i of out is
// HMAC(P, salt || INT(i)).
func (s *hmacState) pbkdf2(salt, out []byte) {
	for i := 1; len(out) > 0; i++ {
		binary.BigEndian.PutUint32(s.ctr[:], uint32(i))
		s.d.reset()
		s.d.write(s.ipad[:])
		s.d.write(salt)
		s.d.write(s.ctr[:])
		s.d.sum(&s.u)
		s.d.reset()
		s.d.write(s.opad[:])
		s.d.write(s.u[:])
		s.d.sum(&s.u)
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
