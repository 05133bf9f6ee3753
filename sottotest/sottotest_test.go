package sottotest

import (
	"context"
	"errors"
	"testing"

	"github.com/sottochat/sotto"
)

// The fake's codes are real ones, and its errors are the engine's.
func TestFakeBehavesLikeTheEngine(t *testing.T) {
	ctx := context.Background()
	e := New(nil)
	for _, n := range []string{"zed", "alice", "mia"} {
		if _, err := e.NewIdentity(ctx, n, sotto.IdentityOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.NewIdentity(ctx, "alice", sotto.IdentityOptions{}); !errors.Is(err, sotto.ErrIdentityExists) {
		t.Fatalf("second alice: %v", err)
	}
	ids := e.Identities()
	if len(ids) != 3 || ids[0].Name != "alice" || ids[2].Name != "zed" {
		t.Fatalf("identities not sorted by name: %+v", ids)
	}
	code := MakeCode("bob")
	if err := sotto.CheckCode(code); err != nil {
		t.Fatalf("CheckCode(MakeCode): %v", err)
	}
	c, err := e.AddContact(ctx, "alice", "bob", code)
	if err != nil || c.Onion != Onion("bob") {
		t.Fatalf("AddContact = %+v, %v; want onion %s", c, err, Onion("bob"))
	}
	if _, err := e.AddContact(ctx, "alice", "bob", code); !errors.Is(err, sotto.ErrContactExists) {
		t.Fatalf("second bob: %v", err)
	}
	if _, err := e.AddContact(ctx, "alice", "eve", code[:len(code)-1]); !errors.Is(err, sotto.ErrBadCode) {
		t.Fatalf("short code: %v", err)
	}
	if _, err := e.Send(ctx, "alice", "nobody", "x"); !errors.Is(err, sotto.ErrUnknownContact) {
		t.Fatalf("Send to nobody: %v", err)
	}
	if _, err := e.Send(ctx, "alice", "bob", string(make([]byte, sotto.MaxText+1))); !errors.Is(err, sotto.ErrTooLong) {
		t.Fatalf("Send too long: %v", err)
	}
	if err := e.SetTimer(ctx, "alice", "bob", 5); !errors.Is(err, sotto.ErrBadTimer) {
		t.Fatalf("SetTimer 5ns: %v", err)
	}
	if _, err := e.Messages("ghost", "bob"); !errors.Is(err, sotto.ErrUnknownIdentity) {
		t.Fatalf("Messages of ghost: %v", err)
	}
	if err := e.RejectRequest(ctx, "alice", "r9"); !errors.Is(err, sotto.ErrUnknownRequest) {
		t.Fatalf("RejectRequest r9: %v", err)
	}
	e.Close()
	e.Close()
	if _, ok := <-e.Events(); ok {
		t.Fatal("events open after Close")
	}
}
