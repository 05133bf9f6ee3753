package ratchet

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"
)

type party struct {
	seed [32]byte
	pub  ed25519.PublicKey
}

func newParty(t testing.TB) *party {
	p := &party{}
	if _, err := rand.Read(p.seed[:]); err != nil {
		t.Fatal(err)
	}
	p.pub = ed25519.NewKeyFromSeed(p.seed[:]).Public().(ed25519.PublicKey)
	return p
}

// handshake runs a full handshake between initiator a and responder b with
// the given prior states and returns the new ones.
func handshake(t testing.TB, a, b *party, pa, pb *State) (*State, *State) {
	t.Helper()
	hi, err := NewInitiator(rand.Reader, b.pub, pa)
	if err != nil {
		t.Fatal(err)
	}
	hr, err := NewResponder(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m1, err := hi.Hello()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := hr.Reply(m1, &b.seed)
	if err != nil {
		t.Fatal(err)
	}
	m3, err := hi.Authenticate(m2, &a.seed)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := hr.ReadAuth(m3)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(peer, a.pub) {
		t.Fatalf("responder learned %x, want %x", peer, a.pub)
	}
	m4, sb, err := hr.Accept(pb)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := hi.Finish(m4)
	if err != nil {
		t.Fatal(err)
	}
	if hi.State() != Done || hr.State() != Done {
		t.Fatalf("states %v %v", hi.State(), hr.State())
	}
	return sa, sb
}

func mustEncrypt(t testing.TB, s *State, pt string) []byte {
	t.Helper()
	m, err := s.Encrypt(rand.Reader, []byte(pt), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustDecrypt(t testing.TB, s *State, m []byte, want string) {
	t.Helper()
	pt, err := s.Decrypt(time.Now(), m, []byte("ad"))
	if err != nil {
		t.Fatalf("decrypt %q: %v", want, err)
	}
	if string(pt) != want {
		t.Fatalf("got %q, want %q", pt, want)
	}
}

func TestBasicConversation(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	// The responder can speak first.
	mustDecrypt(t, sa, mustEncrypt(t, sb, "hello from b"), "hello from b")
	mustDecrypt(t, sb, mustEncrypt(t, sa, "hello from a"), "hello from a")
	for i := range 20 {
		x, y := sa, sb
		if i%3 == 0 {
			x, y = sb, sa
		}
		msg := string(rune('a' + i))
		mustDecrypt(t, y, mustEncrypt(t, x, msg), msg)
	}
}
