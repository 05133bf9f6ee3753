package ratchet

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// kdfRK is Signal's KDF_RK with the header-encryption output: HKDF-SHA-256
// with the root key as salt and the DH output (followed by an ML-KEM shared
// secret on post-quantum steps) as input keying material, 96 bytes split into
// the new root key, a chain key and the next header key.
func kdfRK(rk *[KeySize]byte, dhOut, pqSecret []byte) (newRK, ck, nhk [KeySize]byte) {
	ikm := make([]byte, 0, len(dhOut)+len(pqSecret))
	ikm = append(ikm, dhOut...)
	ikm = append(ikm, pqSecret...)
	// A copy of the salt, so that rk (usually a field of an epoch copy on
	// the caller's stack) does not escape to the heap with it.
	salt := *rk
	defer wipe(salt[:])
	out, err := hkdf.Key(sha256.New, ikm, salt[:], labelRootKDF, 3*KeySize)
	if err != nil {
		panic("ratchet: hkdf failed") // only for lengths above 255*32
	}
	copy(newRK[:], out[0:32])
	copy(ck[:], out[32:64])
	copy(nhk[:], out[64:96])
	wipe(out)
	wipe(ikm)
	return
}

// kdfCK is Signal's KDF_CK: HMAC-SHA-256 keyed with the chain key, over the
// single byte 0x01 for the message key and 0x02 for the next chain key.
//
// HMAC (RFC 2104) is spelled out over sha256.Sum256 so that it runs on stack
// buffers: crypto/hmac allocates its digests on the heap at every call and
// leaves copies of the keyed pads there, unwiped. The key (32 bytes) is
// shorter than the block, so it is zero-padded and used as is.
// TestKDFCKMatchesHMAC checks it against crypto/hmac.
func kdfCK(ck *[KeySize]byte) (next, mk [KeySize]byte) {
	var ipad [sha256.BlockSize + 1]byte           // (K ^ ipad) || input byte
	var opad [sha256.BlockSize + sha256.Size]byte // (K ^ opad) || inner hash
	for i := range sha256.BlockSize {
		ipad[i] = 0x36
		opad[i] = 0x5c
	}
	for i, b := range ck {
		ipad[i] ^= b
		opad[i] ^= b
	}
	ipad[sha256.BlockSize] = ckMessageByte
	inner := sha256.Sum256(ipad[:])
	copy(opad[sha256.BlockSize:], inner[:])
	mk = sha256.Sum256(opad[:])
	ipad[sha256.BlockSize] = ckChainByte
	inner = sha256.Sum256(ipad[:])
	copy(opad[sha256.BlockSize:], inner[:])
	next = sha256.Sum256(opad[:])
	wipe(ipad[:])
	wipe(opad[:])
	wipe(inner[:])
	return
}

// wipe zeroes b. Go gives no guarantee that no other copy of a secret exists
// (the garbage collector may have moved it, the compiler may have spilled it);
// wiping shortens the life of the copies we know about.
func wipe(b []byte) {
	clear(b)
}
