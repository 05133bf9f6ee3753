package ratchet

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"io"
)

// The key derivations of the handshake and the ratchet are HMAC-SHA-256
// (RFC 2104) and HKDF-SHA-256 (RFC 5869), spelled out over sha256.Sum256 on
// fixed-size buffers on the stack: crypto/hmac and crypto/hkdf allocate
// their digests on the heap at every call and leave there, unwiped, the keyed
// pads of the root keys, chaining keys and pseudorandom keys they were given.
// Here every buffer that held a key is wiped before the function returns.
// The hash's own working state lives in sha256.Sum256's stack frame, which Go
// gives no way to wipe (docs/PROTOCOL.md, section 1.8); kdfCK, the one
// derivation of every message, keeps its digests in its own frame and resets
// them, but the copy each Sum makes of its digest is in Sum's frame.
// TestKDFMatchesStdlib checks both against crypto/hmac and crypto/hkdf.

// maxHMACMessage bounds the messages hmacSHA256 takes: the longest is an
// HKDF expansion block (32 + len(info) + 1).
const maxHMACMessage = 128

// hmacSHA256 sets out to HMAC-SHA-256(key, msg). The key (32 bytes) is
// shorter than the block, so it is zero-padded and used as is.
func hmacSHA256(out, key *[KeySize]byte, msg []byte) {
	if len(msg) > maxHMACMessage {
		panic("ratchet: hmac message too long") // a programming error: every caller is in this package
	}
	var buf [sha256.BlockSize + maxHMACMessage]byte
	pad := (*[sha256.BlockSize]byte)(buf[:sha256.BlockSize])
	keyedPad(pad, key, ipad)
	n := sha256.BlockSize + copy(buf[sha256.BlockSize:], msg)
	inner := sha256.Sum256(buf[:n])
	keyedPad(pad, key, opad)
	copy(buf[sha256.BlockSize:], inner[:])
	*out = sha256.Sum256(buf[:sha256.BlockSize+sha256.Size])
	clear(buf[:])
	clear(inner[:])
}

// maxHKDFInfo bounds the info strings of hkdfSHA256 (the labels).
const maxHKDFInfo = maxHMACMessage - sha256.Size - 1

// hkdfSHA256 fills out (at most 255 blocks of 32 bytes) with
// HKDF-SHA-256(ikm, salt, info): PRK = HMAC(salt, ikm), T(i) = HMAC(PRK,
// T(i-1) || info || i). ikm is at most maxHMACMessage bytes.
func hkdfSHA256(out []byte, salt *[KeySize]byte, ikm []byte, info string) {
	if len(info) > maxHKDFInfo || len(out) > 255*sha256.Size {
		panic("ratchet: hkdf parameters out of range") // a programming error
	}
	var prk, t [KeySize]byte
	hmacSHA256(&prk, salt, ikm)
	var block [maxHMACMessage]byte
	n := 0
	for i := 1; len(out) > 0; i++ {
		m := 0
		if i > 1 {
			m = copy(block[:], t[:])
		}
		m += copy(block[m:], info)
		block[m] = byte(i)
		hmacSHA256(&t, &prk, block[:m+1])
		c := copy(out, t[:])
		out = out[c:]
		n += c
	}
	clear(prk[:])
	clear(t[:])
	clear(block[:])
}

// kdfRK is Signal's KDF_RK with the header-encryption output: HKDF-SHA-256
// with the root key as salt and the DH output (followed by an ML-KEM shared
// secret on post-quantum steps) as input keying material, 96 bytes split into
// the new root key, a chain key and the next header key.
func kdfRK(rk, dhOut *[KeySize]byte, pqSecret *[KeySize]byte) (newRK, ck, nhk [KeySize]byte) {
	var ikm [2 * KeySize]byte
	n := copy(ikm[:], dhOut[:])
	if pqSecret != nil {
		n += copy(ikm[n:], pqSecret[:])
	}
	var out [3 * KeySize]byte
	hkdfSHA256(out[:], rk, ikm[:n], labelRootKDF)
	copy(newRK[:], out[0:32])
	copy(ck[:], out[32:64])
	copy(nhk[:], out[64:96])
	clear(out[:])
	clear(ikm[:])
	return
}

// kdfCK is Signal's KDF_CK: HMAC-SHA-256 keyed with the chain key, over the
// single byte 0x01 for the message key and 0x02 for the next chain key.
//
// The two HMACs share their key, so the SHA-256 states after the keyed
// inner and outer pads are computed once and used for both (as crypto/hmac
// does between messages): six compressions instead of the eight of four
// sha256.Sum256 calls, and two digest set-ups instead of four. The states
// are kept as the digests' own binary encoding (AppendBinary, restored with
// UnmarshalBinary) in arrays of this frame; the digests are sha256.New's,
// which the compiler keeps in this frame too (the calls are devirtualized;
// TestKDFCKNoAlloc fails otherwise). Every one of them is wiped before
// return. TestKDFCKMatchesHMAC checks the result against crypto/hmac.
func kdfCK(ck *[KeySize]byte) (next, mk [KeySize]byte) {
	var pad [sha256.BlockSize]byte
	keyedPad(&pad, ck, ipad)
	in := sha256.New()
	in.Write(pad[:])
	keyedPad(&pad, ck, opad)
	out := sha256.New()
	out.Write(pad[:])
	wipe(pad[:])
	var inState, outState [sha256StateSize]byte
	is, err1 := in.(encoding.BinaryAppender).AppendBinary(inState[:0])
	os, err2 := out.(encoding.BinaryAppender).AppendBinary(outState[:0])
	var inner [sha256.Size]byte
	msg := [1]byte{ckMessageByte}
	in.Write(msg[:])
	in.Sum(inner[:0])
	out.Write(inner[:])
	out.Sum(mk[:0])
	err3 := in.(encoding.BinaryUnmarshaler).UnmarshalBinary(is)
	err4 := out.(encoding.BinaryUnmarshaler).UnmarshalBinary(os)
	msg[0] = ckChainByte
	in.Write(msg[:])
	in.Sum(inner[:0])
	out.Write(inner[:])
	out.Sum(next[:0])
	// Reset leaves the digests' block buffers as they were: out's holds
	// the inner hash, which is overwritten first.
	wipe(inner[:])
	out.Reset()
	out.Write(inner[:])
	out.Reset()
	in.Reset()
	wipe(inState[:])
	wipe(outState[:])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || len(is) > len(inState) || len(os) > len(outState) {
		panic("ratchet: SHA-256 state not restored") // cannot happen: the state is the digest's own encoding
	}
	return
}

// HMAC's inner and outer pad bytes, eight at a time.
const (
	ipad = 0x3636363636363636
	opad = 0x5c5c5c5c5c5c5c5c
)

// keyedPad sets pad to HMAC's K ^ ipad or K ^ opad (fill) for a 32-byte key
// K zero-padded to the block, eight bytes at a time.
func keyedPad(pad *[sha256.BlockSize]byte, key *[KeySize]byte, fill uint64) {
	for i := 0; i < KeySize; i += 8 {
		binary.LittleEndian.PutUint64(pad[i:], binary.LittleEndian.Uint64(key[i:])^fill)
	}
	for i := KeySize; i < sha256.BlockSize; i += 8 {
		binary.LittleEndian.PutUint64(pad[i:], fill)
	}
}

// sha256StateSize is the length of crypto/sha256's binary encoding of a
// digest: a 4-byte magic, the 8 words of state, the 64-byte block buffer
// and the 8-byte length. A longer one would be allocated by AppendBinary,
// which TestKDFCKNoAlloc catches.
const sha256StateSize = 4 + sha256.Size + sha256.BlockSize + 8

// continuityProof is the proof that a side holds the continuity secret c of
// an epoch, bound to the handshake's transcript hash h and to the side's
// role (label): the first proofSize bytes of HMAC-SHA-256(c, label || h).
func continuityProof(c *[KeySize]byte, label string, h *[32]byte) [proofSize]byte {
	var msg [len(labelProofInitiator) + 32]byte
	n := copy(msg[:], label)
	n += copy(msg[n:], h[:])
	var mac [KeySize]byte
	hmacSHA256(&mac, c, msg[:n])
	var p [proofSize]byte
	copy(p[:], mac[:])
	clear(mac[:])
	return p
}

// readSecret fills dst (usually a stack array) with secret randomness from
// rand. An io.Reader may keep the slice it is given, so the bytes are read
// into a heap buffer of their own, which is wiped once copied: passing dst
// itself would move it, and with it the key it becomes, to the heap.
func readSecret(rand io.Reader, dst []byte) error {
	buf := make([]byte, len(dst))
	defer clear(buf)
	if _, err := io.ReadFull(rand, buf); err != nil {
		return errRandom
	}
	copy(dst, buf)
	return nil
}

// wipe zeroes b. Go gives no guarantee that no other copy of a secret exists
// (the garbage collector may have moved it, the compiler may have spilled it);
// wiping shortens the life of the copies we know about.
func wipe(b []byte) {
	clear(b)
}
