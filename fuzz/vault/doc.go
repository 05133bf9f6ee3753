// Package vaultfuzz holds the fuzz targets of every decoder of vault files:
// the plaintext encodings in vault/format (record shards, log segments, log
// metadata, the key file) and the key file as Open reads it from disk.
package vaultfuzz
