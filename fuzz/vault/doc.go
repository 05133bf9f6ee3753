// Package vaultfuzz holds the fuzz targets of every decoder of vault files:
// the plaintext encodings in vault/format (record shards, log segments, log
// metadata, the key file) and the key file as Open reads it from disk; and
// the differential targets of the vault's own key derivations
// (vault/internal/kdf, reached through vault/kdftest) against
// golang.org/x/crypto/scrypt, crypto/hmac and crypto/hkdf.
package vaultfuzz
