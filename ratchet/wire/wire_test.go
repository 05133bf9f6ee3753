package wire

import (
	"bytes"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	for _, h := range []Header{
		{PN: 7, N: 9},
		{Flags: FlagEK, EK: bytes.Repeat([]byte{1}, EncapsulationKeySize)},
		{Flags: FlagCT, CT: bytes.Repeat([]byte{2}, CiphertextSize)},
		{Flags: FlagEK | FlagCT, EK: make([]byte, EncapsulationKeySize), CT: make([]byte, CiphertextSize)},
	} {
		b := h.Marshal()
		g, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g.Marshal(), b) || g.PN != h.PN || g.N != h.N || g.Flags != h.Flags {
			t.Fatalf("round trip of %+v", h)
		}
		for _, bad := range [][]byte{b[:len(b)-1], append(bytes.Clone(b), 0)} {
			if _, err := ParseHeader(bad); err == nil {
				t.Fatal("bad length accepted")
			}
		}
	}
	b := (&Header{}).Marshal()
	b[HeaderFixedSize-1] = 0x04 // unknown flag
	if _, err := ParseHeader(b); err == nil {
		t.Fatal("unknown flag accepted")
	}
}

func TestMessage(t *testing.T) {
	m := &Message{Nonce: make([]byte, NonceSize), EncHeader: make([]byte, HeaderFixedSize+TagSize), Body: make([]byte, TagSize+5)}
	b := m.Marshal()
	g, err := ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g.Marshal(), b) {
		t.Fatal("round trip")
	}
	bad := bytes.Clone(b)
	bad[0] = 2
	for _, x := range [][]byte{nil, bad, b[:PrefixSize+NonceSize], b[:len(b)-6]} {
		if _, err := ParseMessage(x); err == nil {
			t.Fatalf("accepted %d bytes", len(x))
		}
	}
}

// TestUnmarshalReuse checks that Append encodes as Marshal and that
// Unmarshal into a used Header or Message leaves nothing of the previous
// value, on success and on failure.
func TestUnmarshalReuse(t *testing.T) {
	big := Header{PN: 1, N: 2, Flags: FlagEK | FlagCT, EK: bytes.Repeat([]byte{3}, EncapsulationKeySize), CT: bytes.Repeat([]byte{4}, CiphertextSize)}
	small := Header{PN: 5, N: 6}
	small.DH[0] = 7
	for _, h := range []Header{big, small} {
		pre := []byte("prefix")
		if got := h.Append(bytes.Clone(pre)); !bytes.Equal(got, append(pre, h.Marshal()...)) || len(h.Marshal()) != h.Size() {
			t.Fatal("Append differs from Marshal")
		}
	}
	var h Header
	if err := h.Unmarshal(big.Marshal()); err != nil || h.EK == nil || h.CT == nil {
		t.Fatal("parse big header")
	}
	if err := h.Unmarshal(small.Marshal()); err != nil || h.EK != nil || h.CT != nil || h.PN != 5 || h.N != 6 || h.Flags != 0 || h.DH != small.DH {
		t.Fatalf("reused header: %+v", h)
	}
	if err := h.Unmarshal(small.Marshal()[:10]); err == nil || h.PN != 0 || h.DH != ([PublicKeySize]byte{}) {
		t.Fatal("failed Unmarshal left data")
	}
	m := Message{Nonce: make([]byte, NonceSize), EncHeader: make([]byte, HeaderFixedSize+TagSize), Body: make([]byte, TagSize)}
	var g Message
	if err := g.Unmarshal(m.Marshal()); err != nil || !bytes.Equal(g.Marshal(), m.Marshal()) {
		t.Fatal("message round trip")
	}
	if err := g.Unmarshal([]byte{Version}); err == nil || g.Nonce != nil || g.EncHeader != nil || g.Body != nil {
		t.Fatal("failed Unmarshal left data")
	}
}
