// Copyright 2012 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// The Salsa20/8, BlockMix and ROMix code (salsaXOR, blockMix, smix) is
// golang.org/x/crypto/scrypt's, under the BSD licence above (Go's LICENSE
// file: https://go.googlesource.com/crypto/+/refs/heads/master/LICENSE);
// the rest is Sotto's.

// Package kdf holds the vault's key derivations, written so that the key
// and everything derived from it stay in memory that is wiped before they
// return: [Scrypt] (RFC 7914) for the passphrase, and [HMAC] and [HKDF]
// (SHA-256) for the vault key's file-name key and file names.
//
// golang.org/x/crypto/scrypt computes the same function as Scrypt, but
// its PBKDF2 (x/crypto/pbkdf2, a wrapper over crypto/pbkdf2) converts the
// password to a Go string twice per derivation, and crypto/hmac and
// crypto/sha256 keep the key, XORed with the HMAC pads, in state the
// caller cannot reach. Those copies can never be wiped. Here:
//
//   - the password is only read, never copied, except into the HMAC pads
//     (key XOR 0x36, key XOR 0x5c) of a state this package owns;
//   - SHA-256 and HMAC run over that state (sha256.go, hmac.go), which
//     is wiped before any function of this package returns;
//   - B (PBKDF2's output), XY and V (ROMix's scratch) hold values that let
//     anyone test a password guess without paying scrypt's cost, so they are
//     wiped too;
//   - V, 128·N·r bytes (512 MiB at the vault's largest calibrated work
//     factor), is mapped with mmap(2), wiped and unmapped before Scrypt
//     returns: its memory goes back to the kernel at once, instead of
//     sitting in the Go heap until the scavenger returns it, and it never
//     raises the garbage collector's heap goal.
//
// What remains outside this package's reach: registers and the few stack
// slots the compiler spills while the functions run (intermediate words of
// SHA-256 and Salsa20/8), and V's pages if the kernel swapped them out
// during the derivation (512 MiB cannot be locked by an ordinary user).
package kdf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Scrypt derives keyLen bytes from password and salt with scrypt(N, r, p), as
// golang.org/x/crypto/scrypt.Key does. It copies password nowhere it does
// not wipe, and wipes every intermediate buffer before it returns. The
// result is a new slice the caller wipes when done.
func Scrypt(password, salt []byte, N, r, p, keyLen int) ([]byte, error) {
	if N <= 1 || N&(N-1) != 0 {
		return nil, errors.New("scrypt: N must be > 1 and a power of 2")
	}
	if r <= 0 || p <= 0 || keyLen <= 0 {
		return nil, errors.New("scrypt: parameters must be > 0")
	}
	const maxInt = int(^uint(0) >> 1)
	if uint64(r)*uint64(p) >= 1<<30 || r > maxInt/128/p || r > maxInt/256 || N > maxInt/128/r {
		return nil, errors.New("scrypt: parameters are too large")
	}
	if uint64(keyLen) > (1<<32-1)*hashSize {
		return nil, errors.New("scrypt: key too long")
	}

	vlen := 128 * N * r
	vmem, err := unix.Mmap(-1, 0, vlen, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("scrypt: cannot allocate %d MiB: %w", vlen>>20, err)
	}
	adviseV(vmem)
	v := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(vmem))), vlen/4)

	s := new(hmacState)
	b := make([]byte, p*128*r)
	xy := make([]uint32, 64*r)
	out := make([]byte, keyLen)
	defer func() {
		s.wipe()
		wipeBytes(b)
		wipeWords(xy)
		wipeWords(v)
		v = nil
		if err := unix.Munmap(vmem); err != nil {
			// Only a bug can make this fail (the mapping is ours and
			// whole); say so rather than leak 512 MiB in silence.
			panic("scrypt: munmap: " + err.Error())
		}
		runtime.KeepAlive(s)
	}()

	s.init(password)
	s.pbkdf2(salt, b)
	for i := range p {
		smix(b[i*128*r:], r, N, v, xy)
	}
	s.pbkdf2(b, out)
	return out, nil
}

// blockCopy copies n numbers from src into dst.
func blockCopy(dst, src []uint32, n int) {
	copy(dst, src[:n])
}

// blockXOR XORs numbers from dst with n numbers from src.
func blockXOR(dst, src []uint32, n int) {
	for i, v := range src[:n] {
		dst[i] ^= v
	}
}

// salsaXOR applies Salsa20/8 to the XOR of 16 numbers from tmp and in,
// and puts the result into both tmp and out.
func salsaXOR(tmp *[16]uint32, in, out []uint32) {
	w0 := tmp[0] ^ in[0]
	w1 := tmp[1] ^ in[1]
	w2 := tmp[2] ^ in[2]
	w3 := tmp[3] ^ in[3]
	w4 := tmp[4] ^ in[4]
	w5 := tmp[5] ^ in[5]
	w6 := tmp[6] ^ in[6]
	w7 := tmp[7] ^ in[7]
	w8 := tmp[8] ^ in[8]
	w9 := tmp[9] ^ in[9]
	w10 := tmp[10] ^ in[10]
	w11 := tmp[11] ^ in[11]
	w12 := tmp[12] ^ in[12]
	w13 := tmp[13] ^ in[13]
	w14 := tmp[14] ^ in[14]
	w15 := tmp[15] ^ in[15]

	x0, x1, x2, x3, x4, x5, x6, x7, x8 := w0, w1, w2, w3, w4, w5, w6, w7, w8
	x9, x10, x11, x12, x13, x14, x15 := w9, w10, w11, w12, w13, w14, w15

	for i := 0; i < 8; i += 2 {
		x4 ^= bits.RotateLeft32(x0+x12, 7)
		x8 ^= bits.RotateLeft32(x4+x0, 9)
		x12 ^= bits.RotateLeft32(x8+x4, 13)
		x0 ^= bits.RotateLeft32(x12+x8, 18)

		x9 ^= bits.RotateLeft32(x5+x1, 7)
		x13 ^= bits.RotateLeft32(x9+x5, 9)
		x1 ^= bits.RotateLeft32(x13+x9, 13)
		x5 ^= bits.RotateLeft32(x1+x13, 18)

		x14 ^= bits.RotateLeft32(x10+x6, 7)
		x2 ^= bits.RotateLeft32(x14+x10, 9)
		x6 ^= bits.RotateLeft32(x2+x14, 13)
		x10 ^= bits.RotateLeft32(x6+x2, 18)

		x3 ^= bits.RotateLeft32(x15+x11, 7)
		x7 ^= bits.RotateLeft32(x3+x15, 9)
		x11 ^= bits.RotateLeft32(x7+x3, 13)
		x15 ^= bits.RotateLeft32(x11+x7, 18)

		x1 ^= bits.RotateLeft32(x0+x3, 7)
		x2 ^= bits.RotateLeft32(x1+x0, 9)
		x3 ^= bits.RotateLeft32(x2+x1, 13)
		x0 ^= bits.RotateLeft32(x3+x2, 18)

		x6 ^= bits.RotateLeft32(x5+x4, 7)
		x7 ^= bits.RotateLeft32(x6+x5, 9)
		x4 ^= bits.RotateLeft32(x7+x6, 13)
		x5 ^= bits.RotateLeft32(x4+x7, 18)

		x11 ^= bits.RotateLeft32(x10+x9, 7)
		x8 ^= bits.RotateLeft32(x11+x10, 9)
		x9 ^= bits.RotateLeft32(x8+x11, 13)
		x10 ^= bits.RotateLeft32(x9+x8, 18)

		x12 ^= bits.RotateLeft32(x15+x14, 7)
		x13 ^= bits.RotateLeft32(x12+x15, 9)
		x14 ^= bits.RotateLeft32(x13+x12, 13)
		x15 ^= bits.RotateLeft32(x14+x13, 18)
	}
	x0 += w0
	x1 += w1
	x2 += w2
	x3 += w3
	x4 += w4
	x5 += w5
	x6 += w6
	x7 += w7
	x8 += w8
	x9 += w9
	x10 += w10
	x11 += w11
	x12 += w12
	x13 += w13
	x14 += w14
	x15 += w15

	out[0], tmp[0] = x0, x0
	out[1], tmp[1] = x1, x1
	out[2], tmp[2] = x2, x2
	out[3], tmp[3] = x3, x3
	out[4], tmp[4] = x4, x4
	out[5], tmp[5] = x5, x5
	out[6], tmp[6] = x6, x6
	out[7], tmp[7] = x7, x7
	out[8], tmp[8] = x8, x8
	out[9], tmp[9] = x9, x9
	out[10], tmp[10] = x10, x10
	out[11], tmp[11] = x11, x11
	out[12], tmp[12] = x12, x12
	out[13], tmp[13] = x13, x13
	out[14], tmp[14] = x14, x14
	out[15], tmp[15] = x15, x15
}

// blockMix is scryptBlockMix (RFC 7914 section 4) with Salsa20/8.
func blockMix(tmp *[16]uint32, in, out []uint32, r int) {
	blockCopy(tmp[:], in[(2*r-1)*16:], 16)
	for i := 0; i < 2*r; i += 2 {
		salsaXOR(tmp, in[i*16:], out[i*8:])
		salsaXOR(tmp, in[i*16+16:], out[i*8+r*16:])
	}
}

// integer is Integerify (RFC 7914 section 5): the last 64-byte block's
// first 64 bits, little-endian.
func integer(b []uint32, r int) uint64 {
	j := (2*r - 1) * 16
	return uint64(b[j]) | uint64(b[j+1])<<32
}

// smix is scryptROMix (RFC 7914 section 5) on one 128·r-byte block of b, in
// place, with scratch v (32·N·r words) and xy (64·r words), which the
// caller wipes. The 16-word Salsa20/8 state is wiped here.
func smix(b []byte, r, N int, v, xy []uint32) {
	tmp := new([16]uint32)
	defer wipeWords(tmp[:])
	R := 32 * r
	x := xy
	y := xy[R:]

	j := 0
	for i := 0; i < R; i++ {
		x[i] = binary.LittleEndian.Uint32(b[j:])
		j += 4
	}
	for i := 0; i < N; i += 2 {
		blockCopy(v[i*R:], x, R)
		blockMix(tmp, x, y, r)

		blockCopy(v[(i+1)*R:], y, R)
		blockMix(tmp, y, x, r)
	}
	for i := 0; i < N; i += 2 {
		j := int(integer(x, r) & uint64(N-1))
		blockXOR(x, v[j*R:], R)
		blockMix(tmp, x, y, r)

		j = int(integer(y, r) & uint64(N-1))
		blockXOR(y, v[j*R:], R)
		blockMix(tmp, y, x, r)
	}
	j = 0
	for _, v := range x[:R] {
		binary.LittleEndian.PutUint32(b[j:], v)
		j += 4
	}
}
