package contactcode

import (
	"crypto/ed25519"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"strconv"
	"strings"
	"unicode"
)

// Safety codes (docs/PROTOCOL.md §2.3).
//
// Each party has its own fingerprint over everything its contact code
// carries, its Ed25519 identity key ID and its x25519 client-auth public key
// AUTH, iterated as Signal's numeric fingerprints are:
//
//	h_0     = SHA-512("sotto safety code" || 0x02 || ID || AUTH)
//	h_(i+1) = SHA-512(h_i || ID || AUTH)              i = 0 .. SafetyIterations-2
//	half    = six groups: uint40(h[5j : 5j+5]) mod 100000, j = 0..5
//
// The safety code of two parties interleaves their two halves, x the smaller
// as a string of digits and y the other: x0 y0 x1 y1 ... x5 y5, 60 digits in
// 12 groups of five, the same on both screens.
//
// A half depends on its own party only, so a man in the middle who hands
// each side a contact code of his own must find, for each victim, keys whose
// half equals that victim's half: a second preimage on about 99.7 bits
// (10^30), each try costing SafetyIterations hashes, instead of the birthday
// search over one code of both parties that version 1 allowed. Interleaving
// (rather than one half after the other, as Signal shows them) keeps a
// partial comparison honest: an attacker can grind his own half to sort
// first on both screens, which would put 30 digits of his choosing at the
// front; interleaved, any two neighbouring groups hold one group of each
// victim's own half.
const (
	safetyLabel = "sotto safety code"
	// SafetyVersion is the version of the safety code; a contact verified
	// under an older version must be verified again.
	SafetyVersion = 2
	// SafetyIterations is the number of SHA-512 steps of each half.
	SafetyIterations = 5200
	// SafetyGroups is the number of five-digit groups of a safety code.
	SafetyGroups = 12
	// SafetyDigits is the number of digits of a safety code.
	SafetyDigits = 5 * SafetyGroups
	halfGroups   = SafetyGroups / 2
)

// SafetyHalf returns the 30-digit fingerprint of one party (no spaces).
func SafetyHalf(id ed25519.PublicKey, auth *[32]byte) string {
	h := sha512.New()
	h.Write([]byte(safetyLabel))
	h.Write([]byte{SafetyVersion})
	h.Write(id)
	h.Write(auth[:])
	sum := h.Sum(make([]byte, 0, sha512.Size))
	for i := 1; i < SafetyIterations; i++ {
		h.Reset()
		h.Write(sum)
		h.Write(id)
		h.Write(auth[:])
		sum = h.Sum(sum[:0])
	}
	b := make([]byte, 0, 5*halfGroups)
	for j := range halfGroups {
		var buf [8]byte
		copy(buf[3:], sum[5*j:5*j+5])
		n := binary.BigEndian.Uint64(buf[:]) % 100000
		for k := len(strconv.FormatUint(n, 10)); k < 5; k++ {
			b = append(b, '0')
		}
		b = strconv.AppendUint(b, n, 10)
	}
	return string(b)
}

// Safety returns the safety code of two parties, each given by its identity
// key and client-auth public key: 12 groups of five digits separated by
// single spaces. The order of the parties does not matter.
func Safety(aID ed25519.PublicKey, aAuth *[32]byte, bID ed25519.PublicKey, bAuth *[32]byte) string {
	return interleave(SafetyHalf(aID, aAuth), SafetyHalf(bID, bAuth))
}

// interleave writes two halves as a safety code: the smaller first, group by
// group.
func interleave(x, y string) string {
	if y < x {
		x, y = y, x
	}
	var b strings.Builder
	b.Grow(SafetyDigits + SafetyGroups - 1)
	for j := range halfGroups {
		if j > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x[5*j : 5*j+5])
		b.WriteByte(' ')
		b.WriteString(y[5*j : 5*j+5])
	}
	return b.String()
}

// NormalSafety removes the white space of a safety code as a person types,
// pastes or reads it back (spaces, tabs, line breaks, anywhere).
func NormalSafety(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// SafetyEqual reports whether two safety codes are the same, ignoring white
// space, in time that does not depend on where they differ.
func SafetyEqual(a, b string) bool {
	x, y := NormalSafety(a), NormalSafety(b)
	return len(x) > 0 && subtle.ConstantTimeCompare([]byte(x), []byte(y)) == 1
}
