// Package core holds the fuzz targets of the messenger core's decoders: frames,
// message bodies, contact codes and stored records.
package core

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/sottochat/sotto/fuzz/fuzzcheck"
	"github.com/sottochat/sotto/internal/contactcode"
	"github.com/sottochat/sotto/internal/record"
	"github.com/sottochat/sotto/internal/wire"
)

func seedMessages() [][]byte {
	id := [wire.IDLen]byte{1, 2, 3, 4}
	ms := []*wire.Message{
		{Kind: wire.KindText, ID: id, At: 1700000000, Timer: 30, Text: "hello"},
		{Kind: wire.KindTimer, ID: id, At: 5, Timer: 3600},
		{Kind: wire.KindAck, Acks: [][wire.IDLen]byte{id}},
		{Kind: wire.KindRequest, AuthKey: [32]byte{7}, HasFirst: true, ID: id, At: 3, Text: "hi"},
		{Kind: wire.KindRequest, AuthKey: [32]byte{7}},
		{Kind: wire.KindClose, Status: wire.ClosePending},
		{Kind: wire.KindKeepalive},
		{Kind: wire.KindHello, Status: wire.HelloContact},
		{Kind: wire.KindFileOffer, ID: id, At: 7, Timer: 60, Size: 1 << 20, Hash: [32]byte{9}, Name: "report.pdf"},
		{Kind: wire.KindFileAccept, ID: id, Offset: 1 << 20},
		{Kind: wire.KindFileReject, ID: id, Status: wire.RejectTooLarge},
		{Kind: wire.KindFileChunk, ID: id, Offset: 29696, Data: []byte("chunk")},
		{Kind: wire.KindFileAck, ID: id, Offset: 2 << 20},
		{Kind: wire.KindFileDone, ID: id},
		{Kind: wire.KindFileCancel, ID: id, Status: wire.CancelUser},
	}
	var out [][]byte
	for _, m := range ms {
		b, err := m.Marshal()
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzMessage: any accepted message body re-encodes to the same bytes.
func FuzzMessage(f *testing.F) {
	n := 0
	for _, b := range seedMessages() {
		f.Add(b)
		n++
	}
	fuzzcheck.RequireSeeds(f, n)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := wire.ParseMessage(b)
		if err != nil {
			if !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("unexpected error type %v", err)
			}
			return
		}
		b2, err := m.Marshal()
		if err != nil {
			t.Fatalf("parsed message does not marshal: %v", err)
		}
		if !bytes.Equal(b, b2) {
			t.Fatalf("malleable: %x -> %x", b, b2)
		}
	})
}

// FuzzFrame: any accepted frame re-encodes to the same bytes, and reading
// never allocates more than the largest bucket.
func FuzzFrame(f *testing.F) {
	n := 0
	for _, m := range seedMessages() {
		fr, _ := wire.AppendFrame(nil, wire.FrameData, m)
		f.Add(fr)
		n++
	}
	fr, _ := wire.AppendFrame(nil, wire.FrameHandshake, bytes.Repeat([]byte{9}, 1200))
	f.Add(fr)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	fuzzcheck.RequireSeeds(f, n+2)
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		typ, content, err := wire.ReadFrame(r, nil)
		if err != nil {
			return
		}
		used := len(b) - r.Len()
		again, err := wire.AppendFrame(nil, typ, content)
		if err != nil {
			t.Fatalf("accepted frame does not re-encode: %v", err)
		}
		if !bytes.Equal(again, b[:used]) {
			t.Fatal("malleable frame")
		}
	})
}

// FuzzContactCode: an accepted code is canonical up to case and white space
// (anywhere: a code wrapped across lines is accepted), and every refusal
// wraps ErrBad without echoing the input.
func FuzzContactCode(f *testing.F) {
	c := &contactcode.Code{ID: ed25519.PublicKey(bytes.Repeat([]byte{3}, 32))}
	c.Auth[0] = 1
	s := c.String()
	f.Add(s)
	f.Add(strings.ToUpper(s))
	f.Add(s[:60])
	f.Add("sotto2:" + s[7:])
	f.Add("")
	f.Add(s[:60] + "\r\n" + s[60:])
	f.Add(" " + s[:7] + "\t" + s[7:64] + "\u00a0\n" + s[64:] + "\n")
	fuzzcheck.RequireSeeds(f, 7)
	f.Fuzz(func(t *testing.T, in string) {
		got, err := contactcode.Parse(in)
		if err != nil {
			if !errors.Is(err, contactcode.ErrBad) {
				t.Fatalf("error does not wrap ErrBad: %v", err)
			}
			if len(strings.TrimSpace(in)) >= 20 && strings.Contains(err.Error(), strings.TrimSpace(in)) {
				t.Fatal("error echoes the input")
			}
			return
		}
		if got.String() != strings.ToLower(withoutSpace(in)) {
			t.Fatal("accepted a non-canonical code")
		}
		again, err := contactcode.Parse(got.String())
		if err != nil || !again.ID.Equal(got.ID) || again.Auth != got.Auth {
			t.Fatal("a code does not parse back to its keys")
		}
	})
}

func withoutSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// FuzzSafetyEqual: a typed safety code matches exactly when its characters
// other than white space are the code's 60 digits.
func FuzzSafetyEqual(f *testing.F) {
	var auth [32]byte
	code := contactcode.Safety(ed25519.PublicKey(bytes.Repeat([]byte{1}, 32)), &auth, ed25519.PublicKey(bytes.Repeat([]byte{2}, 32)), &auth)
	digits := strings.ReplaceAll(code, " ", "")
	f.Add(code)
	f.Add(digits)
	f.Add(digits[:30] + "\n" + digits[30:])
	f.Add(digits[:59])
	f.Add("")
	fuzzcheck.RequireSeeds(f, 5)
	f.Fuzz(func(t *testing.T, typed string) {
		if got, want := contactcode.SafetyEqual(code, typed), withoutSpace(typed) == digits; got != want {
			t.Fatalf("SafetyEqual(%q) = %v, want %v", typed, got, want)
		}
	})
}

func seedRecords() []string {
	return []string{
		identitySeed(),
		`{"v":1,"petname":"bob","id":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","auth":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","timer":30,"read":2,"seq":9}`,
		`{"v":1,"seq":3,"id":"AAAAAAAAAAAAAAAAAAAAAA==","dir":1,"kind":0,"text":"hi","at":1700000000,"exp":1700000030}`,
		`{"v":1,"id":"AAAAAAAAAAAAAAAAAAAAAA==","kind":0,"text":"hi","at":1700000000}`,
		`{"v":1,"id":"ab12","peer":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","auth":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","msgid":"AAAAAAAAAAAAAAAAAAAAAA==","text":"tip","at":5}`,
	}
}

// identitySeed is a binary identity record (see record.ParseIdentity).
func identitySeed() string {
	b, err := record.MarshalIdentity("work", true, make([]byte, record.KeyLen), make([]byte, record.KeyLen))
	if err != nil {
		panic(err)
	}
	return string(b)
}

// FuzzRecord: every stored record type decodes strictly; an accepted record
// re-encodes and decodes to the same value.
func FuzzRecord(f *testing.F) {
	n := 0
	for i, s := range seedRecords() {
		f.Add(uint8(i), []byte(s))
		n++
	}
	for _, s := range []struct {
		which uint8
		rec   string
	}{
		{1, `{"v":1,"petname":"bob","id":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","auth":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","verified":true,"safety_v":2,"timer_at":1700000000,"timer_id":"AAAAAAAAAAAAAAAAAAAAAA=="}`},
		{2, `{"v":1,"seq":4,"id":"AAAAAAAAAAAAAAAAAAAAAA==","dir":1,"kind":0,"text":"hi","timer":30,"at":1700000000,"exp":1700086431,"unshown":true}`},
		{2, `{"v":1,"seq":5,"id":"AAAAAAAAAAAAAAAAAAAAAA==","dir":2,"kind":3,"text":"2 messages expired","at":1700000000,"notice":1,"count":2}`},
		{2, `{"v":1,"seq":6,"id":"AAAAAAAAAAAAAAAAAAAAAA==","dir":2,"kind":1,"timer":60,"at":1700000000,"superseded":true}`},
		{5, `{"v":1,"exp":1700000030}`},
	} {
		f.Add(s.which, []byte(s.rec))
		n++
	}
	fuzzcheck.RequireSeeds(f, n)
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		var v interface{ Validate() error }
		switch which % 6 {
		case 0:
			v = &record.Identity{}
		case 1:
			v = &record.Contact{}
		case 2:
			v = &record.Message{}
		case 3:
			v = &record.Outbox{}
		case 4:
			v = &record.Request{}
		case 5:
			v = &record.Shown{}
		}
		if err := record.Unmarshal(b, v); err != nil {
			if !errors.Is(err, record.ErrBad) {
				t.Fatalf("error does not wrap ErrBad: %v", err)
			}
			return
		}
		enc, err := record.Marshal(v)
		if err != nil {
			t.Fatalf("accepted record does not marshal: %v", err)
		}
		w := reflect.New(reflect.TypeOf(v).Elem()).Interface().(interface{ Validate() error })
		if err := record.Unmarshal(enc, w); err != nil {
			t.Fatalf("re-encoded record refused: %v", err)
		}
		if !reflect.DeepEqual(normalize(v), normalize(w)) {
			t.Fatalf("round trip changed the record")
		}
	})
}

// normalize treats nil and empty slices alike.
func normalize(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
