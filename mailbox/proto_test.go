package mailbox

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// SeedMsgs are one message of every op, for the round-trip tests and the
// fuzz targets' seeds.
func SeedMsgs() []*Msg {
	b, _ := Pack(Record{Type: RecRatchet, Payload: []byte("x")})
	return []*Msg{
		{Op: OpPair, Secret: [SecretLen]byte{1}, Auth: [KeyLen]byte{2}, Token: [TokenLen]byte{3}, Flags: 1},
		{Op: OpHello, Role: RoleOwner, Token: [TokenLen]byte{4}},
		{Op: OpHello, Role: RoleContact, Token: [TokenLen]byte{4}},
		{Op: OpAdd, Rel: [RelLen]byte{5}, TokenHash: [KeyLen]byte{6}, Auth: [KeyLen]byte{7}},
		{Op: OpRemove, Rel: [RelLen]byte{5}},
		{Op: OpDeposit, Rel: [RelLen]byte{5}, TTL: 3600, Blob: b},
		{Op: OpCollect, Rel: [RelLen]byte{5}, Max: 100},
		{Op: OpDelete, Rel: [RelLen]byte{5}, IDs: [][ItemLen]byte{{1}, {2}}},
		{Op: OpWatch}, {Op: OpStatus}, {Op: OpUnpair}, {Op: OpIntakeKey},
		{Op: OpSetIntake, Bundle: []byte("bundle")},
		{Op: OpIntake, TokenHash: [KeyLen]byte{8}, Blob: b},
		{Op: OpPing, Sequence: 9}, {Op: OpPong, Sequence: 9},
		{Op: OpOK, Value: 3, Item: [ItemLen]byte{1}},
		{Op: OpDone, Value: 7},
		{Op: OpError, Code: CodeFull},
		{Op: OpItem, Rel: [RelLen]byte{5}, Item: [ItemLen]byte{1}, Kind: ItemBlob, Blob: b},
		{Op: OpItem, Rel: [RelLen]byte{5}, Item: [ItemLen]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2}, Kind: ItemExpired, Count: 2},
		{Op: OpNotify},
		{Op: OpCounts, Counts: Counts{Relations: 1, In: 2, Out: 3, Bytes: 4, MaxAge: 5}},
		{Op: OpBundle, Bundle: []byte{}},
		{Op: OpPaired, Service: [KeyLen]byte{1}, Intake: [KeyLen]byte{2}},
	}
}

func TestMsgRoundTrip(t *testing.T) {
	for _, m := range SeedMsgs() {
		t.Run(m.Op.String(), func(t *testing.T) {
			f, err := AppendFrame(nil, m)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := ReadFrame(bytes.NewReader(f), nil)
			if err != nil {
				t.Fatal(err)
			}
			f2, err := AppendFrame(nil, got)
			if err != nil || !bytes.Equal(f, f2) {
				t.Fatalf("re-encoding differs: %v", err)
			}
			// Every truncation of the content is malformed, and so is a
			// trailing byte.
			c, _ := m.Marshal()
			for i := range c {
				if _, err := ParseMsg(m.Op, c[:i]); err == nil && !(m.Op == OpBundle || m.Op == OpSetIntake) {
					t.Fatalf("a truncation to %d bytes parses", i)
				}
			}
			if _, err := ParseMsg(m.Op, append(c, 0)); !errors.Is(err, ErrMalformed) {
				t.Fatal("a trailing byte parses")
			}
		})
	}
}

func TestFramesArePadded(t *testing.T) {
	f, _ := AppendFrame(nil, &Msg{Op: OpStatus})
	if len(f) != 4+256 {
		t.Fatalf("a status frame is %d bytes", len(f))
	}
	// Padding must be zero, and the bucket the smallest.
	f[len(f)-1] = 1
	if _, err := ParseFrame(f[4:]); !errors.Is(err, ErrMalformed) {
		t.Fatal("non-zero padding accepted")
	}
	b, _ := Pack(Record{Type: RecRatchet, Payload: []byte("x")})
	big, _ := AppendFrame(nil, &Msg{Op: OpDeposit, Blob: b})
	if len(big) != 4+256 {
		t.Fatalf("a 192-byte blob's deposit is a %d-byte frame", len(big))
	}
}

func TestPackUnpack(t *testing.T) {
	for _, n := range []int{1, 187, 188, 955, 956, 4027, 4028, PackCapacity} {
		b, err := Pack(Record{Type: RecRatchet, Payload: bytes.Repeat([]byte{7}, n)})
		if err != nil {
			t.Fatal(n, err)
		}
		recs, err := Unpack(b)
		if err != nil || len(recs) != 1 || len(recs[0].Payload) != n {
			t.Fatalf("%d: %v", n, err)
		}
		// A blob padded one size further is refused: Unpack∘Pack is the
		// identity and nothing else decodes.
		if len(b) < MaxBlob {
			bigger := append(bytes.Clone(b), make([]byte, 32704)...)
			for _, s := range BlobSizes {
				if s > len(b) {
					if _, err := Unpack(bigger[:s]); err == nil {
						t.Fatalf("%d bytes padded to %d decode", n, s)
					}
					break
				}
			}
		}
	}
	if _, err := Pack(Record{Type: RecRatchet, Payload: make([]byte, PackCapacity+1)}); err == nil {
		t.Fatal("an oversized record packs")
	}
	two, err := Pack(Record{Type: RecAsync2, Payload: []byte("a")}, Record{Type: RecRatchet, Payload: []byte("b")})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := Unpack(two)
	if err != nil || len(recs) != 2 || recs[0].Type != RecAsync2 || string(recs[1].Payload) != "b" {
		t.Fatalf("two records: %v", err)
	}
}

func TestPairingCode(t *testing.T) {
	c := &PairingCode{Admin: bytes.Repeat([]byte{1}, 32)}
	copy(c.Auth[:], bytes.Repeat([]byte{2}, 32))
	copy(c.Secret[:], bytes.Repeat([]byte{3}, 16))
	s := c.String()
	if len(s) != CodeLen {
		t.Fatalf("%d characters", len(s))
	}
	got, err := ParseCode("  " + strings.ToUpper(s) + "\n")
	if err != nil || got.String() != s {
		t.Fatalf("parse: %v", err)
	}
	// Every single-character substitution and every truncation is refused.
	alphabet := "abcdefghijklmnopqrstuvwxyz234567"
	for i := range s {
		if s[i] == ':' {
			continue
		}
		for _, r := range alphabet {
			if byte(r) == s[i] {
				continue
			}
			bad := s[:i] + string(r) + s[i+1:]
			if _, err := ParseCode(bad); err == nil {
				t.Fatalf("substitution at %d accepted", i)
			}
		}
	}
	for i := range s {
		if _, err := ParseCode(s[:i]); !errors.Is(err, ErrBadCode) {
			t.Fatalf("truncation to %d: %v", i, err)
		}
	}
	for _, bad := range []string{"", "sotto1:abc", "sottomb2:" + s[9:], s + "a"} {
		_, err := ParseCode(bad)
		if !errors.Is(err, ErrBadCode) || strings.Contains(err.Error(), s[9:30]) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}
