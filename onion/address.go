package onion

import (
	"crypto/ed25519"
	"crypto/sha3"
	"encoding/base32"
	"errors"
	"strings"
)

// Sizes of a v3 onion address, from rend-spec-v3 section 6 ("Encoding onion
// addresses").
const (
	// AddressLen is the length of a v3 onion address without ".onion":
	// base32(PUBKEY(32) | CHECKSUM(2) | VERSION(1)), 35 bytes -> 56 characters.
	AddressLen = 56
	// addressVersion is the VERSION byte of a v3 address.
	addressVersion = 0x03
	// addressChecksumLabel is the prefix of the checksum hash input:
	// CHECKSUM = SHA3-256(".onion checksum" | PUBKEY | VERSION)[:2].
	addressChecksumLabel = ".onion checksum"
	// onionSuffix is the DNS suffix tor recognises.
	onionSuffix = ".onion"
)

// addressEncoding is RFC 4648 base32, lower case, no padding (35 bytes are
// exactly 56 characters).
var addressEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ErrBadAddress is returned by ParseAddress for anything that is not a valid
// v3 onion address. The wrapped message says what is wrong, never the address.
var ErrBadAddress = errors.New("onion: not a valid v3 onion address")

// AddressFromPublicKey returns the 56-character v3 onion address (lower case,
// without ".onion") of an Ed25519 public key. It panics if pub is not 32 bytes,
// like the ed25519 package does for malformed keys.
func AddressFromPublicKey(pub ed25519.PublicKey) string {
	if len(pub) != ed25519.PublicKeySize {
		panic("onion: bad ed25519 public key length")
	}
	var raw [35]byte
	copy(raw[:32], pub)
	sum := addressChecksum(pub)
	raw[32], raw[33] = sum[0], sum[1]
	raw[34] = addressVersion
	return addressEncoding.EncodeToString(raw[:])
}

func addressChecksum(pub []byte) [32]byte {
	in := make([]byte, 0, len(addressChecksumLabel)+len(pub)+1)
	in = append(in, addressChecksumLabel...)
	in = append(in, pub...)
	in = append(in, addressVersion)
	return sha3.Sum256(in)
}

// ParseAddress decodes a v3 onion address: 56 base32 characters, optionally
// followed by ".onion", in any case. It checks the version byte and the
// checksum and returns the service's Ed25519 public key.
func ParseAddress(s string) (ed25519.PublicKey, error) {
	if len(s) > AddressLen+len(onionSuffix) {
		return nil, badAddress("too long")
	}
	s = strings.ToLower(s)
	s = strings.TrimSuffix(s, onionSuffix)
	if len(s) != AddressLen {
		return nil, badAddress("wrong length (want 56 characters)")
	}
	raw, err := addressEncoding.DecodeString(s)
	if err != nil || len(raw) != 35 {
		return nil, badAddress("not base32")
	}
	if raw[34] != addressVersion {
		return nil, badAddress("not version 3")
	}
	pub := ed25519.PublicKey(raw[:32])
	sum := addressChecksum(pub)
	if raw[32] != sum[0] || raw[33] != sum[1] {
		return nil, badAddress("bad checksum (mistyped?)")
	}
	// base32 of 35 bytes has no spare bits, so the encoding is canonical:
	// re-encoding gives back s exactly.
	return pub, nil
}

type addressError struct{ why string }

func (e *addressError) Error() string { return ErrBadAddress.Error() + ": " + e.why }
func (e *addressError) Unwrap() error { return ErrBadAddress }

func badAddress(why string) error { return &addressError{why} }

// Abbrev shortens an onion address for logs and error messages: the first 6
// characters and an ellipsis. Sotto never logs a contact's full address.
func Abbrev(addr string) string {
	addr = strings.TrimSuffix(strings.ToLower(addr), onionSuffix)
	if len(addr) > 6 {
		addr = addr[:6]
	}
	var b strings.Builder
	for _, r := range addr {
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String() + "…"
}
