package mailbox

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"golang.org/x/crypto/cryptobyte"

	"github.com/sottochat/sotto/onion"
)

// The tip line (docs/PROTOCOL.md §3.10): the tip code an open-mode identity
// with an intake publishes, and the signed intake bundle its intake service
// serves.

// Tip codes.
//
//	sottotip1:<onion>:<auth>:<intake onion>:<checksum>
//
// <onion> and <auth> as in a contact code (the identity's address and its
// x25519 client-auth public key in unpadded lower-case base32), <intake
// onion> the intake service's address, <checksum> the first 5 bytes of
// SHA-256("sotto tip code" || 0x01 || ID || AUTH || intake key). 185
// characters, case-insensitive; white space anywhere is ignored.

// ErrBadTipCode is wrapped by every error of ParseTipCode.
var ErrBadTipCode = errors.New("mailbox: bad tip code")

const (
	tipPrefix = "sottotip1"
	tipLabel  = "sotto tip code"
	// TipCodeLen is the length of a tip code in characters.
	TipCodeLen = len(tipPrefix) + 1 + onionChars + 1 + keyChars + 1 + onionChars + 1 + checkChars
)

// TipCode is a parsed tip code.
type TipCode struct {
	ID     ed25519.PublicKey // the identity
	Auth   [32]byte          // its client-auth public key
	Intake ed25519.PublicKey // its intake service's key
}

func tipChecksum(c *TipCode) []byte {
	h := sha256.New()
	h.Write([]byte(tipLabel))
	h.Write([]byte{1})
	h.Write(c.ID)
	h.Write(c.Auth[:])
	h.Write(c.Intake)
	return h.Sum(nil)[:checkBytes]
}

// String returns the code's one-line form.
func (c *TipCode) String() string {
	return tipPrefix + ":" + onion.AddressFromPublicKey(c.ID) + ":" +
		strings.ToLower(b32.EncodeToString(c.Auth[:])) + ":" + onion.AddressFromPublicKey(c.Intake) + ":" +
		strings.ToLower(b32.EncodeToString(tipChecksum(c)))
}

// IsTipCode reports whether s looks like a tip code (its prefix), to choose
// the parser; ParseTipCode says whether it is a valid one.
func IsTipCode(s string) bool {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	return len(s) >= len(tipPrefix) && strings.EqualFold(s[:len(tipPrefix)], tipPrefix)
}

func tipErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadTipCode}, args...)...)
}

// ParseTipCode parses a tip code; its errors wrap ErrBadTipCode and say
// what is wrong without echoing the code.
func ParseTipCode(s string) (*TipCode, error) {
	if len(s) > 16*TipCodeLen {
		return nil, tipErr("the text is too long to be a tip code")
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
	if !strings.HasPrefix(s, tipPrefix+":") {
		return nil, tipErr("a tip code starts with %q", tipPrefix+":")
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == ':') {
			return nil, tipErr("it contains a character that cannot be in a tip code")
		}
	}
	if len(s) != TipCodeLen {
		return nil, tipErr("it has %d characters, not %d: was it cut off?", len(s), TipCodeLen)
	}
	parts := strings.Split(s, ":")
	if len(parts) != 5 || len(parts[1]) != onionChars || len(parts[2]) != keyChars || len(parts[3]) != onionChars || len(parts[4]) != checkChars {
		return nil, tipErr("its sections have the wrong lengths")
	}
	id, err := onion.ParseAddress(parts[1])
	if err != nil {
		return nil, tipErr("its onion address is not valid (mistyped?)")
	}
	intake, err := onion.ParseAddress(parts[3])
	if err != nil {
		return nil, tipErr("its intake address is not valid (mistyped?)")
	}
	c := &TipCode{ID: id, Intake: intake}
	if err := decodeKey(parts[2], c.Auth[:], "key"); err != nil {
		return nil, tipErr("its key is not valid base32")
	}
	var sum [checkBytes]byte
	if err := decodeKey(parts[4], sum[:], "checksum"); err != nil {
		return nil, tipErr("its checksum is not valid base32")
	}
	if subtle.ConstantTimeCompare(sum[:], tipChecksum(c)) != 1 {
		return nil, tipErr("its checksum does not match (mistyped?)")
	}
	return c, nil
}

// Intake bundles.
//
//	bundle    = 0x01 || intake service key (32) || X-Wing public key (1216) || expires u64 || signature (64)
//	signature = Ed25519(identity key, "sotto intake bundle" || 0x01 || intake service key || X-Wing public key || expires)

const (
	bundleLabel = "sotto intake bundle"
	// BundleLifetime is how long a new bundle is valid; the owner renews it
	// when fewer than BundleRenew remain.
	BundleLifetime = 14 * 24 * time.Hour
	BundleRenew    = 7 * 24 * time.Hour
	xwingPubLen    = 1216
	bundleLen      = 1 + 32 + xwingPubLen + 8 + ed25519.SignatureSize
)

// ErrBadBundle is returned for an intake bundle that does not decode, does
// not verify, is for another intake service or has expired.
var ErrBadBundle = errors.New("mailbox: the tip line's intake key is not valid (not signed by the identity, or expired)")

// IntakeBundle is a parsed intake bundle.
type IntakeBundle struct {
	Intake  ed25519.PublicKey
	Key     []byte // X-Wing public key
	Expires time.Time
	Sig     []byte
}

// BundleMessage is what the identity signs.
func BundleMessage(intake ed25519.PublicKey, key []byte, expires time.Time) []byte {
	var b cryptobyte.Builder
	b.AddBytes([]byte(bundleLabel))
	b.AddUint8(1)
	b.AddBytes(intake)
	b.AddBytes(key)
	b.AddUint64(uint64(expires.Unix()))
	return b.BytesOrPanic()
}

// MarshalBundle encodes a signed bundle.
func MarshalBundle(intake ed25519.PublicKey, key []byte, expires time.Time, sig []byte) ([]byte, error) {
	if len(intake) != 32 || len(key) != xwingPubLen || len(sig) != ed25519.SignatureSize || expires.Unix() < 0 {
		return nil, ErrBadBundle
	}
	var b cryptobyte.Builder
	b.AddUint8(1)
	b.AddBytes(intake)
	b.AddBytes(key)
	b.AddUint64(uint64(expires.Unix()))
	b.AddBytes(sig)
	return b.Bytes()
}

// ParseBundle decodes a bundle and checks it: signed by identity, for the
// intake service intake, not expired at now and not valid for longer than
// a bundle can be.
func ParseBundle(b []byte, identity, intake ed25519.PublicKey, now time.Time) (*IntakeBundle, error) {
	s := cryptobyte.String(b)
	var v uint8
	var ik, key, sig []byte
	var exp uint64
	if len(b) != bundleLen || !s.ReadUint8(&v) || v != 1 || !s.ReadBytes(&ik, 32) || !s.ReadBytes(&key, xwingPubLen) ||
		!s.ReadUint64(&exp) || !s.ReadBytes(&sig, ed25519.SignatureSize) || !s.Empty() || exp > 1<<62 {
		return nil, ErrBadBundle
	}
	bu := &IntakeBundle{Intake: ed25519.PublicKey(ik), Key: key, Expires: time.Unix(int64(exp), 0), Sig: sig}
	if !bu.Intake.Equal(intake) || len(identity) != ed25519.PublicKeySize ||
		!ed25519.Verify(identity, BundleMessage(bu.Intake, key, bu.Expires), sig) {
		return nil, ErrBadBundle
	}
	if !now.Before(bu.Expires) || bu.Expires.After(now.Add(BundleLifetime+24*time.Hour)) {
		return nil, ErrBadBundle
	}
	return bu, nil
}
