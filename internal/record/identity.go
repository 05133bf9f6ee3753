package record

import "fmt"

// IdentityVersion is the version byte of the binary identity record. (Version
// 1 identities were JSON, with the keys in base64: decoding them left copies
// of the keys in ordinary memory. They are no longer read.)
const IdentityVersion = 2

// The identity record has a fixed layout, so that its keys can be moved into
// locked memory straight from the buffer the vault returned, which the
// caller then wipes, with no decoder making copies:
//
//	offset  size  field
//	0       1     version (IdentityVersion)
//	1       1     flags: bit 0 open mode; the others zero
//	2       32    Ed25519 seed (the onion service key)
//	34      32    x25519 client-auth private key
//	66      1     n, the length of the name (1 .. MaxName)
//	67      n     name (UTF-8, ValidName)
const (
	identityKeys  = 2            // offset of seed || auth
	identityName  = 2 + 2*KeyLen // offset of the name length
	identityFixed = identityName + 1
	flagOpen      = 1
)

// MarshalIdentity encodes an identity. The result holds the keys: the caller
// wipes it once stored.
func MarshalIdentity(name string, open bool, seed, auth []byte) ([]byte, error) {
	if !ValidName(name) {
		return nil, bad("identity name")
	}
	if len(seed) != KeyLen || len(auth) != KeyLen {
		return nil, bad("identity keys")
	}
	b := make([]byte, identityFixed+len(name))
	b[0] = IdentityVersion
	if open {
		b[1] = flagOpen
	}
	copy(b[identityKeys:], seed)
	copy(b[identityKeys+KeyLen:], auth)
	b[identityName] = byte(len(name))
	copy(b[identityFixed:], name)
	return b, nil
}

// ParseIdentity decodes an identity record without copying its keys: keys
// is the 64 bytes seed || auth inside b, so wiping b wipes them.
func ParseIdentity(b []byte) (name string, open bool, keys []byte, err error) {
	switch {
	case len(b) < identityFixed:
		return "", false, nil, bad("identity record too short")
	case b[0] != IdentityVersion:
		return "", false, nil, bad(fmt.Sprintf("identity version %d (this Sotto reads version %d; "+
			"a profile from an older development version must be created again)", b[0], IdentityVersion))
	case b[1]&^flagOpen != 0:
		return "", false, nil, bad("identity flags")
	case int(b[identityName]) != len(b)-identityFixed:
		return "", false, nil, bad("identity name length")
	}
	name = string(b[identityFixed:])
	if !ValidName(name) {
		return "", false, nil, bad("identity name")
	}
	return name, b[1]&flagOpen != 0, b[identityKeys:identityName:identityName], nil
}

// MarshalBinary encodes r in the binary identity layout.
func (r *Identity) MarshalBinary() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return MarshalIdentity(r.Name, r.Open, r.Seed, r.Auth)
}

// UnmarshalBinary decodes the binary identity layout into r, copying the
// keys (for tools and tests; the engine uses ParseIdentity).
func (r *Identity) UnmarshalBinary(b []byte) error {
	name, open, keys, err := ParseIdentity(b)
	if err != nil {
		return err
	}
	*r = Identity{V: Version, Name: name, Open: open,
		Seed: append([]byte(nil), keys[:KeyLen]...), Auth: append([]byte(nil), keys[KeyLen:]...)}
	return nil
}
