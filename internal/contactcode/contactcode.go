// Package contactcode implements Sotto's contact codes and safety codes
// (docs/PROTOCOL.md §2.2 and §2.3): pure functions over strings and keys.
// Onion addresses are package onion's ([onion.AddressFromPublicKey],
// [onion.ParseAddress]).
package contactcode

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/sottochat/sotto/onion"
)

// Contact codes.
//
// A contact code is one line that a person hands to another out of band:
//
//	sotto1:<onion>:<client-auth key>:<checksum>
//
// <onion> is the identity's 56-character v3 onion address (no ".onion"),
// <client-auth key> the identity's x25519 client-authorization public key in
// unpadded lowercase base32 (52 characters), and <checksum> the first 5 bytes of
// SHA-256("sotto contact code" || 0x01 || ed25519 public key || client-auth key)
// in base32 (8 characters). The code is 125 characters, case-insensitive
// (upper case makes a smaller QR code), and white space anywhere in it (a code
// wrapped across lines when it was copied) is ignored.
// docs/PROTOCOL.md Part 2 gives the same definition.

// ErrBad is wrapped by every error of Parse.
var ErrBad = errors.New("sotto: bad contact code")

const (
	codePrefix     = "sotto"
	codeVersion    = 1
	codeChecksumLn = 5                // bytes of SHA-256 in the checksum
	onionLen       = onion.AddressLen // characters of a v3 onion address
	keyB32Len      = 52               // characters of a 32-byte key in unpadded base32
	checkB32Len    = 8                // characters of the 5-byte checksum
	// Len is the length of a contact code in characters.
	Len = len("sotto1") + 1 + onionLen + 1 + keyB32Len + 1 + checkB32Len
	// codeChecksumLabel is the domain-separation label of the checksum.
	codeChecksumLabel = "sotto contact code"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// contactCode is a parsed contact code.
type Code struct {
	ID   ed25519.PublicKey // the identity key (onion service key)
	Auth [32]byte          // x25519 client-auth public key
}

func codeChecksum(id ed25519.PublicKey, auth *[32]byte) []byte {
	h := sha256.New()
	h.Write([]byte(codeChecksumLabel))
	h.Write([]byte{codeVersion})
	h.Write(id)
	h.Write(auth[:])
	return h.Sum(nil)[:codeChecksumLn]
}

// String formats the code in lower case.
func (c *Code) String() string {
	return fmt.Sprintf("%s%d:%s:%s:%s", codePrefix, codeVersion, onion.AddressFromPublicKey(c.ID),
		strings.ToLower(b32.EncodeToString(c.Auth[:])),
		strings.ToLower(b32.EncodeToString(codeChecksum(c.ID, &c.Auth))))
}

func codeErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBad, fmt.Sprintf(format, args...))
}

// decodeB32 decodes a canonical unpadded base32 string of exactly n bytes.
func decodeB32(s string, n int) ([]byte, int) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return nil, i
		}
	}
	b, err := b32.DecodeString(strings.ToUpper(s))
	if err != nil || len(b) != n || strings.ToLower(b32.EncodeToString(b)) != s {
		return nil, len(s) - 1 // the unused low bits of the last character are not zero
	}
	return b, -1
}

// maxInput bounds what Parse reads: a code with generous white space.
const maxInput = 16 * Len

// Parse parses a contact code; its errors wrap ErrBad and say what is
// wrong without echoing the code. White space anywhere in s is ignored, so a
// code wrapped across lines reads as one; character positions in errors
// count the code's own characters, not the white space.
func Parse(s string) (*Code, error) {
	if len(s) > maxInput {
		return nil, codeErr("the text is too long to be a contact code (%d characters); paste only the line that starts with %s%d:", len(s), codePrefix, codeVersion)
	}
	s = strings.ToLower(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s))
	if s == "" {
		return nil, codeErr("the code is empty; paste the whole line that starts with %s%d:", codePrefix, codeVersion)
	}
	if !strings.HasPrefix(s, codePrefix) {
		return nil, codeErr("a Sotto contact code starts with %s%d:; check that you copied the right line", codePrefix, codeVersion)
	}
	rest := s[len(codePrefix):]
	vEnd := strings.IndexByte(rest, ':')
	if vEnd < 0 {
		return nil, codeErr("the code is truncated: it has %d of %d characters", len(s), Len)
	}
	v, err := strconv.Atoi(rest[:vEnd])
	if err != nil || v < 0 {
		return nil, codeErr("a Sotto contact code starts with %s%d:; check that you copied the right line", codePrefix, codeVersion)
	}
	if v != codeVersion {
		return nil, codeErr("the code is version %d, this Sotto reads version %d; the code may come from a newer Sotto: update yours", v, codeVersion)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == ':') {
			return nil, codeErr("character %d is not allowed (only letters, digits and ':'): was the code mangled in copying?", i+1)
		}
	}
	if len(s) < Len {
		return nil, codeErr("the code is truncated: it has %d of %d characters", len(s), Len)
	}
	if len(s) > Len {
		return nil, codeErr("the code is too long: it has %d characters instead of %d", len(s), Len)
	}
	parts := strings.Split(s, ":")
	if len(parts) != 4 || parts[0] != codePrefix+strconv.Itoa(codeVersion) || len(parts[1]) != onionLen || len(parts[2]) != keyB32Len || len(parts[3]) != checkB32Len {
		return nil, codeErr("the code does not have its four parts (%s%d:onion:key:checksum) of the right lengths", codePrefix, codeVersion)
	}
	pos := len(parts[0]) + 1
	id, err := onion.ParseAddress(parts[1])
	if err != nil {
		return nil, codeErr("the onion address in the code is mistyped (its own checksum does not match)")
	}
	pos += onionLen + 1
	authB, bad := decodeB32(parts[2], 32)
	if authB == nil {
		return nil, codeErr("character %d is mistyped (the key part uses only a-z and 2-7)", pos+bad+1)
	}
	pos += keyB32Len + 1
	check, bad := decodeB32(parts[3], codeChecksumLn)
	if check == nil {
		return nil, codeErr("character %d is mistyped (the checksum uses only a-z and 2-7)", pos+bad+1)
	}
	c := &Code{ID: id}
	copy(c.Auth[:], authB)
	if !bytes.Equal(check, codeChecksum(c.ID, &c.Auth)) {
		return nil, codeErr("the checksum does not match: a character was mistyped; copy the code again")
	}
	return c, nil
}
