package ratchet

import (
	"crypto/hkdf"
	"crypto/hmac"
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
	out, err := hkdf.Key(sha256.New, ikm, rk[:], labelRootKDF, 3*KeySize)
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
func kdfCK(ck *[KeySize]byte) (next, mk [KeySize]byte) {
	m := hmac.New(sha256.New, ck[:])
	m.Write([]byte{ckMessageByte})
	m.Sum(mk[:0])
	m.Reset()
	m.Write([]byte{ckChainByte})
	m.Sum(next[:0])
	return
}

// wipe zeroes b. Go gives no guarantee that no other copy of a secret exists
// (the garbage collector may have moved it, the compiler may have spilled it);
// wiping shortens the life of the copies we know about.
func wipe(b []byte) {
	clear(b)
}
