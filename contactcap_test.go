package sotto

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sottochat/sotto/internal/contactcode"
	"github.com/sottochat/sotto/onion"
)

func randomCode(t *testing.T) (string, ed25519.PublicKey) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := contactcode.Code{ID: pub}
	rand.Read(c.Auth[:])
	return c.String(), pub
}

// A restricted identity takes at most onion.MaxClientAuth contacts: the
// next is refused with a message saying what to do, and nothing is saved
// (issue 17: the 153rd contact's ADD_ONION was dropped by onion-grater and
// sent Sotto offline). An open identity carries no client-auth keys.
func TestContactsPerIdentityCapped(t *testing.T) {
	n := newMemNet()
	p := startPeer(t, n, nil)
	mustID(t, p, "w", IdentityOptions{})
	ctx := context.Background()
	var first ed25519.PublicKey
	for i := 0; i < onion.MaxClientAuth; i++ {
		code, pub := randomCode(t)
		if first == nil {
			first = pub
		}
		if _, err := p.e.AddContact(ctx, "w", fmt.Sprintf("c%d", i), code); err != nil {
			t.Fatalf("contact %d: %v", i+1, err)
		}
	}
	code, _ := randomCode(t)
	_, err := p.e.AddContact(ctx, "w", "one-too-many", code)
	if !errors.Is(err, ErrTooManyContacts) || !strings.Contains(err.Error(), "another identity") {
		t.Fatalf("contact %d: %v", onion.MaxClientAuth+1, err)
	}
	cs, err := p.e.Contacts("w")
	if err != nil || len(cs) != onion.MaxClientAuth {
		t.Fatalf("%d contacts after the refusal (%v), want %d", len(cs), err, onion.MaxClientAuth)
	}

	// The clash report names the contact, never its full address.
	addr := onion.AddressFromPublicKey(first)
	p.e.clientAuthShared(addr)
	ev := p.wait("client-auth clash", func(ev Event) bool {
		ee, ok := ev.(ErrorEvent)
		return ok && errors.Is(ee.Err, ErrClientAuthShared)
	}).(ErrorEvent)
	if msg := ev.Err.Error(); !strings.Contains(msg, `"c0" of identity "w"`) || strings.Contains(msg, addr) {
		t.Fatalf("clash message: %s", msg)
	}

	mustID(t, p, "tips", IdentityOptions{Open: true})
	for i := 0; i < onion.MaxClientAuth+1; i++ {
		code, _ := randomCode(t)
		if _, err := p.e.AddContact(ctx, "tips", fmt.Sprintf("t%d", i), code); err != nil {
			t.Fatalf("open identity, contact %d: %v", i+1, err)
		}
	}
}
