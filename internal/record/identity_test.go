package record

import (
	"bytes"
	"errors"
	"testing"
)

func TestIdentityBinary(t *testing.T) {
	seed, auth := bytes.Repeat([]byte{1}, KeyLen), bytes.Repeat([]byte{2}, KeyLen)
	b, err := MarshalIdentity("wörk", true, seed, auth)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != identityFixed+len("wörk") || b[0] != IdentityVersion {
		t.Fatalf("layout % x", b)
	}
	name, open, keys, err := ParseIdentity(b)
	if err != nil || name != "wörk" || !open || !bytes.Equal(keys, append(append([]byte(nil), seed...), auth...)) {
		t.Fatalf("parse: %q %v %x %v", name, open, keys, err)
	}
	// keys is inside b: wiping b wipes it, and it cannot grow into the name.
	clear(b)
	if !bytes.Equal(keys, make([]byte, 2*KeyLen)) || cap(keys) != 2*KeyLen {
		t.Fatal("keys are a copy, or can be appended over the name")
	}
	var r Identity
	b, _ = MarshalIdentity("home", false, seed, auth)
	if err := Unmarshal(b, &r); err != nil || r.Name != "home" || r.Open || !bytes.Equal(r.Seed, seed) || !bytes.Equal(r.Auth, auth) {
		t.Fatalf("Unmarshal: %+v %v", r, err)
	}
	if again, err := Marshal(&r); err != nil || !bytes.Equal(again, b) {
		t.Fatalf("Marshal: %x %v", again, err)
	}
}

func TestIdentityBinaryRefusesBadRecords(t *testing.T) {
	seed := make([]byte, KeyLen)
	good, _ := MarshalIdentity("work", false, seed, seed)
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for name, b := range map[string][]byte{
		"empty":          nil,
		"short":          good[:identityFixed-1],
		"json (v1)":      []byte(`{"v":1,"name":"work","seed":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","auth":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`),
		"version":        mod(func(b []byte) []byte { b[0] = 3; return b }),
		"flags":          mod(func(b []byte) []byte { b[1] = 2; return b }),
		"trailing":       append(append([]byte(nil), good...), 'x'),
		"truncated name": good[:len(good)-1],
		"empty name":     mod(func(b []byte) []byte { b[identityName] = 0; return b[:identityFixed] }),
		"control char":   mod(func(b []byte) []byte { b[identityFixed] = '\n'; return b }),
	} {
		if _, _, _, err := ParseIdentity(b); !errors.Is(err, ErrBad) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := MarshalIdentity("", false, seed, seed); err == nil {
		t.Error("empty name marshalled")
	}
	if _, err := MarshalIdentity("x", false, seed[:31], seed); err == nil {
		t.Error("short seed marshalled")
	}
}
