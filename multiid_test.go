package sotto

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// tor keeps one client-auth key per onion address, so two identities of a
// profile cannot both have the same contact: the second is refused with an
// error saying why and what to do, by AddContact and by AcceptRequest.
func TestContactOfAnotherIdentityRefused(t *testing.T) {
	n := newMemNet()
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "work", IdentityOptions{})
	mustID(t, a, "home", IdentityOptions{Open: true})
	mustID(t, b, "bob", IdentityOptions{})
	ctx := context.Background()
	card, err := b.e.Card("bob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.e.AddContact(ctx, "work", "bob", card); err != nil {
		t.Fatal(err)
	}
	_, err = a.e.AddContact(ctx, "home", "bob", card)
	if !errors.Is(err, ErrContactOfOtherIdentity) {
		t.Fatalf("second identity added the same contact: %v", err)
	}
	for _, want := range []string{`"work"`, "client authorization", "separate profile"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %s", err, want)
		}
	}
	if cs, _ := a.e.Contacts("home"); len(cs) != 0 {
		t.Fatalf("home has contacts %+v", cs)
	}
	// The same through a contact request to the open identity "home".
	homeCard, err := a.e.Card("home")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.e.AddContact(ctx, "bob", "home", homeCard); err != nil {
		t.Fatal(err)
	}
	ev := a.wait("a contact request", func(ev Event) bool { _, ok := ev.(RequestEvent); return ok })
	r := ev.(RequestEvent)
	if err := a.e.AcceptRequest(ctx, "home", r.Request.ID, "bob"); !errors.Is(err, ErrContactOfOtherIdentity) {
		t.Fatalf("accepting bob's request from a second identity: %v", err)
	}
	// Removing it from the first identity makes room.
	if err := a.e.RemoveContact(ctx, "work", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.e.AddContact(ctx, "home", "bob", card); err != nil {
		t.Fatalf("after removing it from work: %v", err)
	}
}
