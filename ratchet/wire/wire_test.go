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
