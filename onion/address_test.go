package onion

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

// addressVector was confirmed by tor 0.4.9.11: ADD_ONION with the seed
// {1,2,3,0...} answered ServiceID=<this>.
const (
	vectorAddress = "eip6l5uftine73dzav6j2mwi2p6dk3qujmo2hmhzafxpn4uyrdndlcqd"
)

func vectorSeed() [32]byte { return [32]byte{1, 2, 3} }

func TestAddressVector(t *testing.T) {
	seed := vectorSeed()
	pub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	if got := AddressFromPublicKey(pub); got != vectorAddress {
		t.Fatalf("AddressFromPublicKey = %s, want %s", got, vectorAddress)
	}
	for _, in := range []string{vectorAddress, vectorAddress + ".onion", strings.ToUpper(vectorAddress) + ".ONION"} {
		got, err := ParseAddress(in)
		if err != nil || !got.Equal(pub) {
			t.Errorf("ParseAddress(%q) = %x, %v", in, got, err)
		}
	}
}

func TestParseAddressRejects(t *testing.T) {
	flip := []byte(vectorAddress)
	flip[10] ^= 1 // 'e' <-> 'd' etc: still base32, wrong checksum
	v2 := "3g2upl4pq6kufc4m.onion"
	// Version byte changed: re-encode with version 4.
	raw, _ := addressEncoding.DecodeString(vectorAddress)
	raw[34] = 4
	badVersion := addressEncoding.EncodeToString(raw)
	cases := map[string]string{
		"empty":       "",
		"v2":          v2,
		"checksum":    string(flip),
		"version":     badVersion,
		"not base32":  strings.Repeat("1", 56),
		"too long":    vectorAddress + "a",
		"suffix only": ".onion",
		"huge":        strings.Repeat("a", 10000),
		"two suffix":  vectorAddress + ".onion.onion",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseAddress(in)
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("ParseAddress: %v, want ErrBadAddress", err)
			}
			if len(in) > 10 && strings.Contains(err.Error(), in[:10]) {
				t.Fatalf("error %q repeats the input", err)
			}
		})
	}
}

func TestAbbrev(t *testing.T) {
	if got := Abbrev(vectorAddress + ".onion"); got != "eip6l5…" {
		t.Fatalf("Abbrev = %q", got)
	}
	if got := Abbrev("ab\x1bc"); got != "ab?c…" {
		t.Fatalf("Abbrev = %q", got)
	}
}
