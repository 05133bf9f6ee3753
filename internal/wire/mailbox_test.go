package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
)

func mailboxSeeds() []*Message {
	id := [IDLen]byte{1}
	offer := &Message{Kind: KindMailbox, MB: &Mailbox{Serial: 7, Service: [32]byte{1}, Auth: [32]byte{2}, Token: [32]byte{3}, MaxAge: 1209600}}
	return []*Message{
		offer,
		{Kind: KindMailboxOK, MB: &Mailbox{Serial: 7}},
		{Kind: KindMailboxOff, MB: &Mailbox{Serial: 7}},
		{Kind: KindBundle, MB: &Mailbox{Seq: 1, Inner: []*Message{
			{Kind: KindAck, Acks: [][IDLen]byte{id}},
			{Kind: KindText, ID: id, At: 1700000000, Timer: 30, Text: "hi"},
			offer,
		}}},
	}
}

func TestMailboxKindsRoundTrip(t *testing.T) {
	for _, m := range mailboxSeeds() {
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(m.Kind, err)
		}
		got, err := ParseMessage(b)
		if err != nil {
			t.Fatal(m.Kind, err)
		}
		b2, err := got.Marshal()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("%v: re-encoding differs", m.Kind)
		}
		for i := range b {
			if _, err := ParseMessage(b[:i]); err == nil {
				t.Fatalf("%v: truncation to %d parses", m.Kind, i)
			}
		}
		if _, err := ParseMessage(append(b, 0)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%v: a trailing byte parses", m.Kind)
		}
	}
}

func TestBundleRefusesWhatMayNotTravelInIt(t *testing.T) {
	for _, in := range []*Message{
		{Kind: KindHello},
		{Kind: KindKeepalive},
		{Kind: KindClose},
		{Kind: KindRequest},
		{Kind: KindBundle, MB: &Mailbox{Seq: 1, Inner: []*Message{{Kind: KindAck, Acks: [][IDLen]byte{{1}}}}}},
	} {
		m := &Message{Kind: KindBundle, MB: &Mailbox{Seq: 1, Inner: []*Message{in}}}
		if _, err := m.Marshal(); err == nil {
			t.Fatalf("a bundle with a %v marshals", in.Kind)
		}
		p, _ := in.Marshal()
		raw := append([]byte{byte(KindBundle), 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, byte(len(p))}, p...)
		if _, err := ParseMessage(raw); err == nil {
			t.Fatalf("a bundle with a %v parses", in.Kind)
		}
	}
	// Too many messages, or too many bytes.
	var many []*Message
	for range MaxBundle + 1 {
		many = append(many, &Message{Kind: KindAck, Acks: [][IDLen]byte{{1}}})
	}
	if _, err := (&Message{Kind: KindBundle, MB: &Mailbox{Inner: many}}).Marshal(); err == nil {
		t.Fatal("a bundle of 65 marshals")
	}
	big := strings.Repeat("x", MaxText)
	var texts []*Message
	for range 2 {
		texts = append(texts, &Message{Kind: KindText, Text: big})
	}
	if _, err := (&Message{Kind: KindBundle, MB: &Mailbox{Inner: texts}}).Marshal(); err == nil {
		t.Fatal("a bundle over MaxBundleBytes marshals")
	}
}

// mailboxVectors are the kind 16-19 examples of docs/PROTOCOL.md Part 3.
func mailboxVectors() map[string]string {
	enc := func(m *Message) string {
		b, err := m.Marshal()
		if err != nil {
			panic(err)
		}
		return hex.EncodeToString(b)
	}
	s := mailboxSeeds()
	return map[string]string{
		"mailbox_offer": enc(s[0]),
		"mailbox_ok":    enc(s[1]),
		"mailbox_off":   enc(s[2]),
		"bundle":        enc(&Message{Kind: KindBundle, MB: &Mailbox{Seq: 1, Inner: []*Message{{Kind: KindAck, Acks: [][IDLen]byte{{1}}}}}}),
	}
}

func TestProtocolDocMailboxVectors(t *testing.T) {
	doc, err := os.ReadFile("../../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	part3 := string(doc)
	i := strings.Index(part3, "# Part 3")
	if i < 0 {
		t.Fatal("no Part 3")
	}
	re := regexp.MustCompile("(?m)^    vector ([a-z_]+): (\\S+)$")
	found := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(part3[i:], -1) {
		found[m[1]] = m[2]
	}
	for name, want := range mailboxVectors() {
		if os.Getenv("PRINT_VECTORS") != "" {
			t.Logf("    vector %s: %s", name, want)
		}
		if found[name] != want {
			t.Errorf("docs/PROTOCOL.md vector %s: doc has %q, code gives %q", name, found[name], want)
		}
	}
}
