package contactcode

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"strings"
)

// Safety codes.
//
// The safety code of two identities is 20 decimal digits in four groups of
// five, the same on both screens. It is computed from the two Ed25519 identity
// keys sorted bytewise (so the order does not matter):
//
//	h0 = SHA-512("sotto safety code" || 0x01 || lo || hi)
//	h(i+1) = SHA-512(h(i) || lo || hi), i = 0..safetyIterations-2
//	group j (j = 0..3) = big-endian uint40 of h[5j : 5j+5] mod 100000
//
// The iterations make grinding an identity key that matches a given code cost
// 2^10 hashes per try on top of the ~2^66 tries that 20 digits need.
const (
	safetyLabel      = "sotto safety code"
	safetyVersion    = 1
	safetyIterations = 1024
	safetyGroups     = 4
)

// Safety returns the safety code of two identity keys.
func Safety(a, b ed25519.PublicKey) string {
	lo, hi := a, b
	if bytes.Compare(lo, hi) > 0 {
		lo, hi = hi, lo
	}
	h := sha512.New()
	h.Write([]byte(safetyLabel))
	h.Write([]byte{safetyVersion})
	h.Write(lo)
	h.Write(hi)
	sum := h.Sum(nil)
	for i := 1; i < safetyIterations; i++ {
		h.Reset()
		h.Write(sum)
		h.Write(lo)
		h.Write(hi)
		sum = h.Sum(sum[:0])
	}
	groups := make([]string, safetyGroups)
	for j := range groups {
		var buf [8]byte
		copy(buf[3:], sum[5*j:5*j+5])
		groups[j] = fmt.Sprintf("%05d", binary.BigEndian.Uint64(buf[:])%100000)
	}
	return strings.Join(groups, " ")
}
