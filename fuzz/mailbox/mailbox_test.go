// Package mailbox holds the fuzz targets of the mailbox's decoders: frames
// and their messages (from clients and from mailboxes), blobs, pairing
// codes, tip codes, intake bundles, the asynchronous first handshake and
// the records the mailbox keeps in its vault.
package mailbox

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/sottochat/sotto/fuzz/fuzzcheck"
	"github.com/sottochat/sotto/mailbox"
	"github.com/sottochat/sotto/ratchet"
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

// FuzzTipCode: a tip code that parses prints back as itself.
func FuzzTipCode(f *testing.F) {
	tc := &mailbox.TipCode{ID: bytes.Repeat([]byte{1}, 32), Intake: bytes.Repeat([]byte{3}, 32)}
	tc.Auth[0] = 2
	f.Add(tc.String())
	f.Add(strings.ToUpper(tc.String()))
	f.Add("sottotip1:")
	fuzzcheck.RequireSeeds(f, 3)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := mailbox.ParseTipCode(s)
		if err != nil {
			if !errors.Is(err, mailbox.ErrBadTipCode) {
				t.Fatalf("unexpected error type %v", err)
			}
			return
		}
		norm := strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return unicode.ToLower(r)
		}, s)
		if c.String() != norm {
			t.Fatal("re-encoding differs")
		}
	})
}

// FuzzIntakeBundle: a bundle from a mailbox (hostile) is refused or verifies
// and re-encodes to the same bytes.
func FuzzIntakeBundle(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	id := priv.Public().(ed25519.PublicKey)
	intake := bytes.Repeat([]byte{3}, 32)
	key := bytes.Repeat([]byte{9}, 1216)
	exp := time.Unix(1700000000, 0).Add(mailbox.BundleLifetime)
	b, err := mailbox.MarshalBundle(intake, key, exp, ed25519.Sign(priv, mailbox.BundleMessage(intake, key, exp)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	fuzzcheck.RequireSeeds(f, 1)
	now := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, b []byte) {
		bu, err := mailbox.ParseBundle(b, id, intake, now)
		if err != nil {
			return
		}
		again, err := mailbox.MarshalBundle(bu.Intake, bu.Key, bu.Expires, bu.Sig)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatal("re-encoding differs")
		}
	})
}

// FuzzAsyncFirst: message 1 of the asynchronous handshake from a hostile
// stranger (through a hostile mailbox) never panics, opens only if it
// authenticates, and the answer state it yields round-trips.
func FuzzAsyncFirst(f *testing.F) {
	var jseed, sseed, iseed [32]byte
	jseed[0], sseed[0], iseed[0] = 1, 2, 3
	jpub := ed25519.NewKeyFromSeed(jseed[:]).Public().(ed25519.PublicKey)
	ipub, err := ratchet.IntakePublicKey(&iseed)
	if err != nil {
		f.Fatal(err)
	}
	msg1, ini, err := ratchet.SealFirst(rand.Reader, &sseed, jpub, ipub, []byte("request"))
	if err != nil {
		f.Fatal(err)
	}
	ib, _ := ini.MarshalBinary()
	f.Add(msg1, ib)
	f.Add([]byte{2}, []byte{1})
	fuzzcheck.RequireSeeds(f, 2)
	f.Fuzz(func(t *testing.T, m, state []byte) {
		if _, _, r, err := ratchet.OpenFirst(&jseed, &iseed, m); err == nil {
			b, err := r.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			r2, err := ratchet.UnmarshalAsyncResponder(b)
			if err != nil {
				t.Fatal(err)
			}
			if b2, _ := r2.MarshalBinary(); !bytes.Equal(b, b2) {
				t.Fatal("responder state re-encoding differs")
			}
		} else if !errors.Is(err, ratchet.ErrHandshake) {
			t.Fatalf("unexpected error type %v", err)
		}
		if a, err := ratchet.UnmarshalAsyncInitiator(state); err == nil {
			b, err := a.MarshalBinary()
			if err != nil || !bytes.Equal(b, state) {
				t.Fatal("initiator state re-encoding differs")
			}
			// A hostile answer: refused, never a panic.
			if _, err := a.FinishFirst(m, &sseed); err == nil && len(m) != ratchet.AsyncMsg2Size {
				t.Fatal("an answer of the wrong size finished the handshake")
			}
		}
	})
}
