package sotto

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestOutboxListsUnacknowledged checks Engine.Outbox: our texts and timer
// changes the contact has not acknowledged, oldest first, without their
// text, the same after a restart (when a stored timer line no longer says
// whether it was delivered), and empty once the contact has them all.
func TestOutboxListsUnacknowledged(t *testing.T) {
	n := newMemNet()
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	first, err := a.e.Send(ctx, "alice", "bob", "first")
	if err != nil {
		t.Fatal(err)
	}
	a.wait("first delivered", func(ev Event) bool { d, ok := ev.(DeliveredEvent); return ok && d.ID == first })
	if got, err := a.e.Outbox("alice", "bob"); err != nil || len(got) != 0 {
		t.Fatalf("Outbox after delivery = %+v, %v; want empty", got, err)
	}

	bdisk := b.disk
	b.close()
	id1, err := a.e.Send(ctx, "alice", "bob", "one")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.e.SetTimer(ctx, "alice", "bob", time.Hour); err != nil {
		t.Fatal(err)
	}
	id2, err := a.e.Send(ctx, "alice", "bob", "two")
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		got, err := a.e.Outbox("alice", "bob")
		if err != nil {
			t.Fatalf("%s: Outbox: %v", when, err)
		}
		if len(got) != 3 || got[0].ID != id1 || got[0].Kind != TextMessage || got[1].Kind != TimerMessage || got[2].ID != id2 {
			t.Fatalf("%s: Outbox = %+v, want text %x, timer change, text %x", when, got, id1, id2)
		}
		for _, o := range got {
			if o.State != Pending && o.State != Sent {
				t.Fatalf("%s: entry %x is in state %d, want Pending or Sent", when, o.ID, o.State)
			}
		}
	}
	check("bob offline")
	adisk := a.disk
	a.close()
	a = startPeer(t, n, adisk)
	check("after alice's restart")

	if _, err := a.e.Outbox("alice", "bobb"); !errors.Is(err, ErrUnknownContact) {
		t.Fatalf("Outbox of an unknown contact: %v, want ErrUnknownContact", err)
	}
	if _, err := a.e.Outbox("nobody", "bob"); !errors.Is(err, ErrUnknownIdentity) {
		t.Fatalf("Outbox of an unknown identity: %v, want ErrUnknownIdentity", err)
	}

	b = startPeer(t, n, bdisk)
	b.waitMessage("two")
	a.wait("two delivered", func(ev Event) bool { d, ok := ev.(DeliveredEvent); return ok && d.ID == id2 })
	if got, err := a.e.Outbox("alice", "bob"); err != nil || len(got) != 0 {
		t.Fatalf("Outbox once bob has everything = %+v, %v; want empty", got, err)
	}
}
