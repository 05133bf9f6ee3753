package mailbox

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/sottochat/sotto/onion"
)

// Pairing codes.
//
// A pairing code is one line that the mailbox prints ('sotto mailbox code')
// and its owner's client takes ('sotto mailbox pair IDENTITY CODE'):
//
//	sottomb1:<admin onion>:<client-auth private key>:<secret>:<checksum>
//
// <admin onion> is the mailbox's pairing service (56 characters), the
// client-auth key the x25519 private key that lets the code's holder fetch
// that service's descriptor (52 characters of unpadded base32), <secret> 16
// random bytes (26 characters) that the mailbox accepts once, and <checksum>
// the first 5 bytes of SHA-256("sotto mailbox code" || 0x01 || admin key ||
// client-auth key || secret) (8 characters). 154 characters, case-insensitive.

// ErrBadCode is wrapped by every error of ParseCode; the message says what
// is wrong without echoing the code.
var ErrBadCode = errors.New("mailbox: bad pairing code")

const (
	codePrefix   = "sottomb1"
	codeLabel    = "sotto mailbox code"
	codeVersion  = 1
	onionChars   = 56
	keyChars     = 52
	secretChars  = 26
	checkChars   = 8
	checkBytes   = 5
	codeSections = 5
	// CodeLen is the length of a pairing code in characters.
	CodeLen = len(codePrefix) + 1 + onionChars + 1 + keyChars + 1 + secretChars + 1 + checkChars
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// PairingCode is a parsed pairing code. Auth and Secret are secrets: whoever
// holds them can pair an identity with the mailbox (once).
type PairingCode struct {
	Admin  ed25519.PublicKey // the pairing service's key
	Auth   [32]byte          // x25519 client-auth private key for it
	Secret [SecretLen]byte
}

func codeChecksum(c *PairingCode) []byte {
	h := sha256.New()
	h.Write([]byte(codeLabel))
	h.Write([]byte{codeVersion})
	h.Write(c.Admin)
	h.Write(c.Auth[:])
	h.Write(c.Secret[:])
	return h.Sum(nil)[:checkBytes]
}

// String returns the code's one-line form.
func (c *PairingCode) String() string {
	var sb strings.Builder
	sb.Grow(CodeLen)
	sb.WriteString(codePrefix)
	sb.WriteByte(':')
	sb.WriteString(onion.AddressFromPublicKey(c.Admin))
	sb.WriteByte(':')
	sb.WriteString(strings.ToLower(b32.EncodeToString(c.Auth[:])))
	sb.WriteByte(':')
	sb.WriteString(strings.ToLower(b32.EncodeToString(c.Secret[:])))
	sb.WriteByte(':')
	sb.WriteString(strings.ToLower(b32.EncodeToString(codeChecksum(c))))
	return sb.String()
}

// Wipe clears the code's secrets.
func (c *PairingCode) Wipe() {
	clear(c.Auth[:])
	clear(c.Secret[:])
}

func codeErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadCode}, args...)...)
}

// decodeKey decodes one base32 section of exactly n bytes, canonically (the
// unused low bits of the last character must be zero).
func decodeKey(s string, dst []byte, what string) error {
	raw, err := b32.DecodeString(strings.ToUpper(s))
	if err != nil || len(raw) != len(dst) {
		return codeErr("its %s is not valid base32", what)
	}
	if strings.ToLower(b32.EncodeToString(raw)) != s {
		return codeErr("its %s is not in canonical form", what)
	}
	copy(dst, raw)
	clear(raw)
	return nil
}

// ParseCode parses a pairing code. It ignores surrounding white space and
// case, and refuses anything else with an error wrapping ErrBadCode that
// says what is wrong (never the code itself).
func ParseCode(s string) (*PairingCode, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return nil, codeErr("the code is empty")
	}
	if strings.HasPrefix(s, "sotto1:") {
		return nil, codeErr("that is a contact code, not a mailbox pairing code (it starts with sottomb1:)")
	}
	if !strings.HasPrefix(s, "sottomb") {
		return nil, codeErr("a pairing code starts with %q", codePrefix+":")
	}
	if !strings.HasPrefix(s, codePrefix+":") {
		return nil, codeErr("unsupported pairing code version (this sotto reads %q)", codePrefix)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7' || r == ':' || r >= '0' && r <= '9') {
			return nil, codeErr("it contains a character that cannot be in a pairing code")
		}
	}
	if len(s) < CodeLen {
		return nil, codeErr("it is too short (%d of %d characters): was it cut off?", len(s), CodeLen)
	}
	if len(s) > CodeLen {
		return nil, codeErr("it is too long (%d of %d characters)", len(s), CodeLen)
	}
	parts := strings.Split(s, ":")
	if len(parts) != codeSections {
		return nil, codeErr("it must have %d sections separated by ':'", codeSections)
	}
	if len(parts[1]) != onionChars || len(parts[2]) != keyChars || len(parts[3]) != secretChars || len(parts[4]) != checkChars {
		return nil, codeErr("a section has the wrong length")
	}
	admin, err := onion.ParseAddress(parts[1])
	if err != nil {
		return nil, codeErr("its onion address is not valid (mistyped?)")
	}
	c := &PairingCode{Admin: admin}
	if err := decodeKey(parts[2], c.Auth[:], "key"); err != nil {
		return nil, err
	}
	if err := decodeKey(parts[3], c.Secret[:], "secret"); err != nil {
		c.Wipe()
		return nil, err
	}
	var sum [checkBytes]byte
	if err := decodeKey(parts[4], sum[:], "checksum"); err != nil {
		c.Wipe()
		return nil, err
	}
	if subtle.ConstantTimeCompare(sum[:], codeChecksum(c)) != 1 {
		c.Wipe()
		return nil, codeErr("its checksum does not match (mistyped?)")
	}
	return c, nil
}
