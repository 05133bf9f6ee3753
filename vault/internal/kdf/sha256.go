package kdf

import (
	"encoding/binary"
	"math/bits"
)

// SHA-256 (FIPS 180-4) over a state this package owns, so that every byte
// derived from a key sits in memory that this package wipes. crypto/sha256
// would do the same arithmetic, but its Sum copies the whole state (the
// HMAC midstate, a password equivalent) into a frame this package cannot
// reach, and its digest keeps the last partial block.

const (
	hashSize  = 32
	blockSize = 64
)

var iv = [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}

var k256 = [64]uint32{
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

// digest is a SHA-256 state with its message schedule and block buffer.
type digest struct {
	h   [8]uint32
	w   [64]uint32
	x   [blockSize]byte
	nx  int
	len uint64
}

func (d *digest) reset() {
	d.h = iv
	d.nx = 0
	d.len = 0
}

// wipe zeroes the whole state.
func (d *digest) wipe() {
	wipeWords(d.h[:])
	wipeWords(d.w[:])
	wipeBytes(d.x[:])
	d.nx, d.len = 0, 0
}

func (d *digest) write(p []byte) {
	d.len += uint64(len(p))
	if d.nx > 0 {
		n := copy(d.x[d.nx:], p)
		d.nx += n
		p = p[n:]
		if d.nx < blockSize {
			return
		}
		d.block(d.x[:])
		d.nx = 0
	}
	for len(p) >= blockSize {
		d.block(p[:blockSize])
		p = p[blockSize:]
	}
	d.nx = copy(d.x[:], p)
}

// sum finishes the hash into out; d must be reset before it is used again.
func (d *digest) sum(out *[hashSize]byte) {
	n := d.len
	var pad [blockSize + 8]byte
	pad[0] = 0x80
	k := (55 - n) % 64 // zero bytes so that the length ends a block
	binary.BigEndian.PutUint64(pad[1+k:], n<<3)
	d.write(pad[:1+k+8])
	for i, v := range d.h {
		binary.BigEndian.PutUint32(out[4*i:], v)
	}
}

// block processes one 64-byte block; the schedule lives in d.w.
func (d *digest) block(p []byte) {
	w := &d.w
	for i := range 16 {
		w[i] = binary.BigEndian.Uint32(p[4*i:])
	}
	for i := 16; i < 64; i++ {
		v1, v2 := w[i-2], w[i-15]
		s1 := bits.RotateLeft32(v1, -17) ^ bits.RotateLeft32(v1, -19) ^ v1>>10
		s0 := bits.RotateLeft32(v2, -7) ^ bits.RotateLeft32(v2, -18) ^ v2>>3
		w[i] = s1 + w[i-7] + s0 + w[i-16]
	}
	a, b, c, e0, e, f, g, h := d.h[0], d.h[1], d.h[2], d.h[3], d.h[4], d.h[5], d.h[6], d.h[7]
	for i := range 64 {
		t1 := h + (bits.RotateLeft32(e, -6) ^ bits.RotateLeft32(e, -11) ^ bits.RotateLeft32(e, -25)) + ((e & f) ^ (^e & g)) + k256[i] + w[i]
		t2 := (bits.RotateLeft32(a, -2) ^ bits.RotateLeft32(a, -13) ^ bits.RotateLeft32(a, -22)) + ((a & b) ^ (a & c) ^ (b & c))
		h, g, f, e, e0, c, b, a = g, f, e, e0+t1, c, b, a, t1+t2
	}
	d.h[0] += a
	d.h[1] += b
	d.h[2] += c
	d.h[3] += e0
	d.h[4] += e
	d.h[5] += f
	d.h[6] += g
	d.h[7] += h
}

// wipeBytes and wipeWords are not inlined, so the compiler cannot drop the
// stores as dead: they run whether or not the memory is read again.
//
//go:noinline
func wipeBytes(b []byte) { clear(b) }

//go:noinline
func wipeWords(w []uint32) { clear(w) }
