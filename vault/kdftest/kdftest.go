// Package kdftest exposes the vault's own key derivations (package
// vault/internal/kdf: scrypt, HMAC-SHA-256 and HKDF-SHA-256 over state they
// wipe) to tests outside package vault, such as fuzz/vault's differential
// targets, which check them against golang.org/x/crypto/scrypt, crypto/hmac
// and crypto/hkdf. It must only be imported by tests.
package kdftest

import "github.com/sottochat/sotto/vault/internal/kdf"

// Scrypt is kdf.Scrypt: scrypt(N, r, p) of password and salt, keyLen bytes.
func Scrypt(password, salt []byte, N, r, p, keyLen int) ([]byte, error) {
	return kdf.Scrypt(password, salt, N, r, p, keyLen)
}

// HMAC is kdf.HMAC: HMAC-SHA-256(key, msg[0] || msg[1] || ...).
func HMAC(key []byte, msg ...[]byte) [32]byte {
	var out [32]byte
	kdf.HMAC(&out, key, msg...)
	return out
}

// HKDF is kdf.HKDF: HKDF-SHA-256 of secret, salt and info into out.
func HKDF(out, secret, salt []byte, info string) error {
	return kdf.HKDF(out, secret, salt, info)
}
