// Package mailbox holds the fuzz targets of the mailbox's decoders: frames
// and their messages (from clients and from mailboxes), blobs, pairing
// codes and the records the mailbox keeps in its vault.
package mailbox

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/sottochat/sotto/fuzz/fuzzcheck"
	"github.com/sottochat/sotto/mailbox"
)

func seedFrames() [][]byte {
	b, _ := mailbox.Pack(mailbox.Record{Type: mailbox.RecRatchet, Payload: []byte("x")})
	ms := []*mailbox.Msg{
		{Op: mailbox.OpPair, Flags: 1},
		{Op: mailbox.OpHello, Role: mailbox.RoleContact},
		{Op: mailbox.OpAdd, Rel: [16]byte{5}},
		{Op: mailbox.OpDeposit, TTL: 60, Blob: b},
		{Op: mailbox.OpCollect, Max: 5},
		{Op: mailbox.OpDelete, IDs: [][8]byte{{1}}},
		{Op: mailbox.OpSetIntake, Bundle: []byte("b")},
		{Op: mailbox.OpIntake, Blob: b},
		{Op: mailbox.OpItem, Kind: mailbox.ItemBlob, Blob: b},
		{Op: mailbox.OpItem, Kind: mailbox.ItemExpired, Count: 3},
		{Op: mailbox.OpError, Code: mailbox.CodeFull},
		{Op: mailbox.OpCounts, Counts: mailbox.Counts{In: 1}},
		{Op: mailbox.OpPaired},
		{Op: mailbox.OpWatch},
	}
	var out [][]byte
	for _, m := range ms {
		f, err := mailbox.AppendFrame(nil, m)
		if err != nil {
			panic(err)
		}
		out = append(out, f[4:])
	}
	return out
}

// FuzzFrame: any accepted frame body re-encodes to the same bytes.
func FuzzFrame(f *testing.F) {
	n := 0
	for _, b := range seedFrames() {
		f.Add(b)
		n++
	}
	fuzzcheck.RequireSeeds(f, n)
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := mailbox.ParseFrame(body)
		if err != nil {
			if !errors.Is(err, mailbox.ErrMalformed) {
				t.Fatalf("unexpected error type %v", err)
			}
			return
		}
		again, err := mailbox.AppendFrame(nil, m)
		if err != nil {
			t.Fatalf("parsed but does not encode: %v", err)
		}
		if !bytes.Equal(again[4:], body) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// FuzzBlob: a blob that unpacks packs back to the same bytes.
func FuzzBlob(f *testing.F) {
	n := 0
	for _, recs := range [][]mailbox.Record{
		{{Type: mailbox.RecRatchet, Payload: []byte("hello")}},
		{{Type: mailbox.RecAsync2, Payload: bytes.Repeat([]byte{1}, 300)}, {Type: mailbox.RecRatchet, Payload: []byte("x")}},
	} {
		b, err := mailbox.Pack(recs...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		n++
	}
	fuzzcheck.RequireSeeds(f, n)
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := mailbox.Unpack(b)
		if err != nil {
			if !errors.Is(err, mailbox.ErrMalformed) {
				t.Fatalf("unexpected error type %v", err)
			}
			return
		}
		again, err := mailbox.Pack(recs...)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-packing differs: %v", err)
		}
	})
}

// FuzzPairingCode: a code that parses prints back as itself (lower case,
// trimmed), and errors never echo it.
func FuzzPairingCode(f *testing.F) {
	c := &mailbox.PairingCode{Admin: bytes.Repeat([]byte{1}, 32)}
	f.Add(c.String())
	f.Add(strings.ToUpper(c.String()))
	f.Add("sotto1:abc")
	fuzzcheck.RequireSeeds(f, 3)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := mailbox.ParseCode(s)
		if err != nil {
			if !errors.Is(err, mailbox.ErrBadCode) {
				t.Fatalf("unexpected error type %v", err)
			}
			if len(s) > 20 && strings.Contains(err.Error(), s) {
				t.Fatal("the error echoes the code")
			}
			return
		}
		if p.String() != strings.ToLower(strings.TrimSpace(s)) {
			t.Fatal("re-encoding differs")
		}
	})
}

// FuzzRecord: the mailbox's stored records decode only what they encode.
func FuzzRecord(f *testing.F) {
	n := 0
	for i, k := range mailbox.RecordKinds {
		f.Add(uint8(i), mailbox.SampleRecord(k))
		n++
	}
	fuzzcheck.RequireSeeds(f, n)
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		k := mailbox.RecordKinds[int(kind)%len(mailbox.RecordKinds)]
		again, err := mailbox.RecordRoundTrip(k, b)
		if err != nil {
			return
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("%s: re-encoding differs", k)
		}
	})
}
