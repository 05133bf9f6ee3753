package wire

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/sottochat/sotto/files"
	ratchetwire "github.com/sottochat/sotto/ratchet/wire"
)

// The examples of docs/PROTOCOL.md §4.2 (id = 00..0f, at = 1700000000).
func TestFileVectors(t *testing.T) {
	var id [IDLen]byte
	for i := range id {
		id[i] = byte(i)
	}
	h := [32]byte{0xaa}
	cases := []struct {
		m   Message
		hex string
	}{
		{Message{Kind: KindFileOffer, ID: id, At: 1700000000, Timer: 0, Size: 1048576, Hash: h, Name: "a.pdf"},
			"08000102030405060708090a0b0c0d0e0f000000006553f100000000000000000000100000aa0000000000000000000000000000000000000000000000000000000000000005612e706466"},
		{Message{Kind: KindFileAccept, ID: id, Offset: 1048576}, "09000102030405060708090a0b0c0d0e0f0000000000100000"},
		{Message{Kind: KindFileReject, ID: id, Status: RejectName}, "0a000102030405060708090a0b0c0d0e0f03"},
		{Message{Kind: KindFileChunk, ID: id, Offset: 0, Data: []byte("hi")}, "0b000102030405060708090a0b0c0d0e0f000000000000000000026869"},
		{Message{Kind: KindFileAck, ID: id, Offset: 2097152}, "0c000102030405060708090a0b0c0d0e0f0000000000200000"},
		{Message{Kind: KindFileDone, ID: id}, "0d000102030405060708090a0b0c0d0e0f"},
		{Message{Kind: KindFileCancel, ID: id, Status: CancelUser}, "0e000102030405060708090a0b0c0d0e0f00"},
	}
	for _, c := range cases {
		b, err := c.m.Marshal()
		if err != nil {
			t.Fatalf("%v: %v", c.m.Kind, err)
		}
		if got := hex.EncodeToString(b); got != c.hex {
			t.Errorf("%v:\n got %s\nwant %s", c.m.Kind, got, c.hex)
		}
		m, err := ParseMessage(b)
		if err != nil {
			t.Fatalf("%v: %v", c.m.Kind, err)
		}
		b2, _ := m.Marshal()
		if !bytes.Equal(b, b2) {
			t.Errorf("%v does not round-trip", c.m.Kind)
		}
	}
}

func TestFileLimits(t *testing.T) {
	id := [IDLen]byte{1}
	bad := []Message{
		{Kind: KindFileOffer, ID: id, Size: 0, Name: "a"},
		{Kind: KindFileOffer, ID: id, Size: files.MaxSize + 1, Name: "a"},
		{Kind: KindFileOffer, ID: id, Size: 1, Name: ""},
		{Kind: KindFileOffer, ID: id, Size: 1, Name: string(make([]byte, 256))},
		{Kind: KindFileOffer, ID: id, Size: 1, Name: "a", Timer: 5},
		{Kind: KindFileChunk, ID: id, Data: nil},
		{Kind: KindFileChunk, ID: id, Data: make([]byte, files.ChunkSize+1)},
		{Kind: KindFileReject, ID: id, Status: 7},
		{Kind: KindFileCancel, ID: id, Status: 4},
	}
	for _, m := range bad {
		if _, err := m.Marshal(); err == nil {
			t.Errorf("%v %+v marshals", m.Kind, m)
		}
	}
	// A full chunk, inside the largest ratchet message, fits the largest frame.
	full, err := (&Message{Kind: KindFileChunk, ID: id, Offset: 5, Data: make([]byte, files.ChunkSize)}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	overhead := ratchetwire.PrefixSize + ratchetwire.NonceSize + ratchetwire.MaxHeaderSize + 2*ratchetwire.TagSize
	if len(full)+overhead > MaxContent {
		t.Errorf("a full chunk of %d bytes plus %d of ratchet overhead exceeds the frame content %d", len(full), overhead, MaxContent)
	}
	// Trailing bytes and a short chunk header are malformed.
	if _, err := ParseMessage(append(full, 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	if _, err := ParseMessage(full[:20]); err == nil {
		t.Error("truncated chunk accepted")
	}
}
