package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

func sampleMessages() []*Message {
	id := [IDLen]byte{1, 2, 3}
	return []*Message{
		{Kind: KindText, ID: id, At: 1700000000, Timer: 30, Text: "hello ✓"},
		{Kind: KindText, ID: id, At: 1, Timer: 0, Text: strings.Repeat("x", MaxText)},
		{Kind: KindTimer, ID: id, At: 5, Timer: MaxTimer},
		{Kind: KindTimer, ID: id, At: 5, Timer: 0},
		{Kind: KindAck, Acks: [][IDLen]byte{id, {9}}},
		{Kind: KindRequest, AuthKey: [32]byte{7}},
		{Kind: KindRequest, AuthKey: [32]byte{7}, HasFirst: true, ID: id, At: 3, Text: "hi, it's me"},
		{Kind: KindClose, Status: ClosePending},
		{Kind: KindKeepalive},
		{Kind: KindHello, Status: HelloRequest},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("%v: %v", m.Kind, err)
		}
		got, err := ParseMessage(b)
		if err != nil {
			t.Fatalf("%v: parse: %v", m.Kind, err)
		}
		b2, _ := got.Marshal()
		if !bytes.Equal(b, b2) {
			t.Fatalf("%v: round trip differs", m.Kind)
		}
		// No strict prefix and no extension parses.
		for i := 0; i < len(b); i++ {
			if _, err := ParseMessage(b[:i]); err == nil {
				t.Fatalf("%v: prefix of %d bytes parsed", m.Kind, i)
			}
		}
		if _, err := ParseMessage(append(b, 0)); err == nil {
			t.Fatalf("%v: trailing byte parsed", m.Kind)
		}
	}
}

func TestMessageRefused(t *testing.T) {
	bad := []*Message{
		{Kind: KindText, Text: ""},
		{Kind: KindText, Text: "x", Timer: 29},
		{Kind: KindText, Text: "x", Timer: MaxTimer + 1},
		{Kind: KindText, Text: strings.Repeat("x", MaxText+1)},
		{Kind: KindText, Text: "\xff"},
		{Kind: KindAck},
		{Kind: KindAck, Acks: make([][IDLen]byte, MaxAcks+1)},
		{Kind: KindClose, Status: 9},
		{Kind: KindHello, Status: 2},
		{Kind: 0},
		{Kind: 99},
	}
	for _, m := range bad {
		if _, err := m.Marshal(); err == nil {
			t.Errorf("%v %+v marshalled", m.Kind, m.Status)
		}
	}
}

func TestFramePaddingAndBuckets(t *testing.T) {
	for _, n := range []int{0, 1, 251, 252, 1019, 1020, 5000, MaxContent} {
		c := bytes.Repeat([]byte{0xab}, n)
		b, err := AppendFrame(nil, FrameData, c)
		if err != nil {
			t.Fatal(err)
		}
		if !isBucket(len(b) - FrameHeaderLen) {
			t.Fatalf("%d: frame of %d bytes", n, len(b))
		}
		typ, got, err := ReadFrame(bytes.NewReader(b), nil)
		if err != nil || typ != FrameData || !bytes.Equal(got, c) {
			t.Fatalf("%d: read back: %v", n, err)
		}
	}
	if _, err := AppendFrame(nil, FrameData, make([]byte, MaxContent+1)); err == nil {
		t.Fatal("oversized content framed")
	}
}

func TestFrameRefused(t *testing.T) {
	good, _ := AppendFrame(nil, FrameHandshake, []byte("abc"))
	mut := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	cases := map[string][]byte{
		"huge length":     {0x7f, 0xff, 0xff, 0xff},
		"odd length":      {0, 0, 1, 0, 1},
		"nonzero padding": mut(func(b []byte) []byte { b[len(b)-1] = 1; return b }),
		"unknown type":    mut(func(b []byte) []byte { b[4] = 9; return b }),
		"content too long": mut(func(b []byte) []byte {
			b[7] = 0x02 // 512 + 3 bytes: more than the bucket holds
			return b
		}),
		"wrong bucket": func() []byte {
			b, _ := AppendFrame(nil, FrameData, make([]byte, 300))
			// Claims a 4096-byte body: padded beyond the smallest bucket.
			binary.BigEndian.PutUint32(b, 4096)
			return append(b, make([]byte, 4096-CellBucket)...)
		}(),
	}
	for name, b := range cases {
		if _, _, err := ReadFrame(bytes.NewReader(b), nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A small frame padded to a bigger bucket than needed is refused.
	body := make([]byte, buckets[1])
	body[0] = byte(FrameData)
	if _, _, err := ParseFrameBody(body); !errors.Is(err, ErrMalformed) {
		t.Fatal("over-padded frame accepted")
	}
}

// An oversized length prefix is refused after reading only the 4 bytes.
func TestOversizedPrefixReadsNoMore(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go a.Write([]byte{0x01, 0, 0, 0, 'x'}) // blocks after 4 bytes if nobody reads on
	if _, err := ReadFrameHeader(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v", err)
	}
}

func TestPreamble(t *testing.T) {
	if err := ReadPreamble(bytes.NewReader(Preamble())); err != nil {
		t.Fatal(err)
	}
	for _, v := range []byte{1, 3} { // version 1 (before issue 14) and a later one
		p := Preamble()
		p[7] = v
		if err := ReadPreamble(bytes.NewReader(p)); !errors.Is(err, ErrVersion) {
			t.Fatalf("version %d: got %v", v, err)
		}
	}
	if err := ReadPreamble(strings.NewReader("GET / HTTP/1.1\r\n")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v", err)
	}
	if err := ReadPreamble(strings.NewReader("sot")); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v", err)
	}
}

// TestAppendFrameAllocatesOnce: a frame built from nothing is one
// allocation, whatever its bucket.
func TestAppendFrameAllocatesOnce(t *testing.T) {
	if raceEnabled || testing.CoverMode() != "" {
		t.Skip("the race detector and coverage allocate")
	}
	for _, n := range []int{0, 100, 5000, MaxContent} {
		content := make([]byte, n)
		if a := testing.AllocsPerRun(10, func() {
			if _, err := AppendFrame(nil, FrameData, content); err != nil {
				t.Fatal(err)
			}
		}); a != 1 {
			t.Fatalf("%d bytes: %v allocations", n, a)
		}
	}
}

// TestMarshalAllocatesOnce: the messages the engine sends with every
// exchange (a text, an acknowledgement) encode in one allocation.
func TestMarshalAllocatesOnce(t *testing.T) {
	if raceEnabled || testing.CoverMode() != "" {
		t.Skip("the race detector and coverage allocate")
	}
	for _, m := range []*Message{
		{Kind: KindText, Text: strings.Repeat("a longer text than a stack buffer holds ", 20)},
		{Kind: KindAck, Acks: make([][IDLen]byte, MaxAcks)},
	} {
		if a := testing.AllocsPerRun(10, func() {
			if _, err := m.Marshal(); err != nil {
				t.Fatal(err)
			}
		}); a != 1 {
			t.Fatalf("kind %d: %v allocations", m.Kind, a)
		}
	}
}
