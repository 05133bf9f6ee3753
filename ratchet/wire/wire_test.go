package wire

import (
	"bytes"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	ek := Header{PN: 1, N: 2, Flags: FlagEK, Round: 3, Index: EKChunks - 1}
	copy(ek.Chunk[:], bytes.Repeat([]byte{1}, ChunkLen(EncapsulationKeySize, EKChunks-1)))
	ct := Header{Flags: FlagCT | FlagMix, Round: 1, Index: CTChunks - 1}
	copy(ct.Chunk[:], bytes.Repeat([]byte{2}, ChunkLen(CiphertextSize, CTChunks-1)))
	full := Header{Flags: FlagEK, Round: 1}
	copy(full.Chunk[:], bytes.Repeat([]byte{3}, ChunkSize))
	for _, h := range []Header{{PN: 7, N: 9}, {Flags: FlagMix}, ek, ct, full} {
		b := h.Marshal()
		if len(b) != HeaderSize {
			t.Fatalf("header of %d bytes", len(b))
		}
		g, err := ParseHeader(b)
		if err != nil {
			t.Fatalf("%+v: %v", h, err)
		}
		if !bytes.Equal(g.Marshal(), b) || *g != h {
			t.Fatalf("round trip of %+v", h)
		}
		for _, bad := range [][]byte{b[:len(b)-1], append(bytes.Clone(b), 0)} {
			if _, err := ParseHeader(bad); err == nil {
				t.Fatal("bad length accepted")
			}
		}
	}
	at := func(h Header, f func(b []byte)) []byte { b := h.Marshal(); f(b); return b }
	const flags, round, index, chunk = 40, 41, 45, 46
	for name, b := range map[string][]byte{
		"unknown flag":           at(Header{}, func(b []byte) { b[flags] = 0x08 }),
		"ek and ct":              at(ek, func(b []byte) { b[flags] |= FlagCT }),
		"round without chunk":    at(Header{}, func(b []byte) { b[round+3] = 1 }),
		"index without chunk":    at(Header{}, func(b []byte) { b[index] = 1 }),
		"data without chunk":     at(Header{}, func(b []byte) { b[chunk+5] = 1 }),
		"round zero":             at(ek, func(b []byte) { b[round+3] = 0 }),
		"ek index too large":     at(ek, func(b []byte) { b[index] = EKChunks }),
		"ct index too large":     at(ct, func(b []byte) { b[index] = CTChunks }),
		"ek padding not zero":    at(ek, func(b []byte) { b[HeaderSize-1] = 1 }),
		"ct padding not zero":    at(ct, func(b []byte) { b[chunk+ChunkLen(CiphertextSize, CTChunks-1)] = 1 }),
		"mix data without chunk": at(Header{Flags: FlagMix}, func(b []byte) { b[HeaderSize-1] = 1 }),
	} {
		if _, err := ParseHeader(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestChunkCounts(t *testing.T) {
	if EKChunks*ChunkSize < EncapsulationKeySize || (EKChunks-1)*ChunkSize >= EncapsulationKeySize ||
		CTChunks*ChunkSize < CiphertextSize || (CTChunks-1)*ChunkSize >= CiphertextSize {
		t.Fatal("chunk counts")
	}
	n := 0
	for i := range EKChunks {
		n += ChunkLen(EncapsulationKeySize, i)
	}
	if n != EncapsulationKeySize {
		t.Fatalf("chunks hold %d bytes", n)
	}
}

func TestMessage(t *testing.T) {
	m := &Message{Nonce: make([]byte, NonceSize), EncHeader: make([]byte, SealedHeaderSize), Body: make([]byte, TagSize+5)}
	b := m.Marshal()
	if len(b) != Overhead+5 {
		t.Fatalf("message of %d bytes", len(b))
	}
	g, err := ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g.Marshal(), b) {
		t.Fatal("round trip")
	}
	bad := bytes.Clone(b)
	bad[0] = 1
	for _, x := range [][]byte{nil, bad, b[:PrefixSize+NonceSize], b[:Overhead-1], make([]byte, MaxMessageSize+1)} {
		if _, err := ParseMessage(x); err == nil {
			t.Fatalf("accepted %d bytes", len(x))
		}
	}
}

// TestUnmarshalReuse checks that Append encodes as Marshal and that
// Unmarshal into a used Header or Message leaves nothing of the previous
// value, on success and on failure.
func TestUnmarshalReuse(t *testing.T) {
	big := Header{PN: 1, N: 2, Flags: FlagEK, Round: 9}
	big.Chunk[0] = 3
	small := Header{PN: 5, N: 6}
	small.DH[0] = 7
	pre := []byte("prefix")
	if got := big.Append(bytes.Clone(pre)); !bytes.Equal(got, append(pre, big.Marshal()...)) {
		t.Fatal("Append differs from Marshal")
	}
	var h Header
	if err := h.Unmarshal(big.Marshal()); err != nil || h != big {
		t.Fatal("parse big header")
	}
	if err := h.Unmarshal(small.Marshal()); err != nil || h != small {
		t.Fatalf("reused header: %+v", h)
	}
	if err := h.Unmarshal(small.Marshal()[:10]); err == nil || h != (Header{}) {
		t.Fatal("failed Unmarshal left data")
	}
	m := Message{Nonce: make([]byte, NonceSize), EncHeader: make([]byte, SealedHeaderSize), Body: make([]byte, TagSize)}
	var g Message
	if err := g.Unmarshal(m.Marshal()); err != nil || !bytes.Equal(g.Marshal(), m.Marshal()) {
		t.Fatal("message round trip")
	}
	if err := g.Unmarshal([]byte{Version}); err == nil || g.Nonce != nil || g.EncHeader != nil || g.Body != nil {
		t.Fatal("failed Unmarshal left data")
	}
}

// TestAllZero: allZero (eight bytes at a time, then the tail) finds a
// single non-zero bit at every position of every length up to ChunkSize.
func TestAllZero(t *testing.T) {
	b := make([]byte, ChunkSize)
	for n := 0; n <= ChunkSize; n++ {
		if !allZero(b[:n]) {
			t.Fatalf("%d zero bytes: not all zero", n)
		}
		for i := range n {
			for _, bit := range []byte{0x01, 0x80} {
				b[i] = bit
				if allZero(b[:n]) {
					t.Fatalf("length %d: byte %d = %#x not seen", n, i, bit)
				}
				b[i] = 0
			}
		}
	}
}

// BenchmarkHeaderUnmarshal decodes a header with an empty chunk, whose
// 240 bytes of padding are checked.
func BenchmarkHeaderUnmarshal(b *testing.B) {
	enc := (&Header{PN: 1, N: 2}).Append(nil)
	var h Header
	for b.Loop() {
		if err := h.Unmarshal(enc); err != nil {
			b.Fatal(err)
		}
	}
}
