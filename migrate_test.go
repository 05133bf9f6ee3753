package sotto

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sottochat/sotto/ratchet"
)

// TestOldStateStartsAfresh: two contacts whose stored ratchet States were
// written by an earlier protocol version (as after upgrading Sotto) are not
// handed to the ratchet: both start again with a first handshake, deliver
// what was queued, and neither reports its keys as rolled back.
func TestOldStateStartsAfresh(t *testing.T) {
	n := newMemNet()
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	if _, err := a.e.Send(ctx, "alice", "bob", "before"); err != nil {
		t.Fatal(err)
	}
	b.waitMessage("before")
	if _, err := b.e.Send(ctx, "bob", "alice", "reply"); err != nil {
		t.Fatal(err)
	}
	a.waitMessage("reply")
	bdisk := b.disk
	b.close()
	queued, err := a.e.Send(ctx, "alice", "bob", "queued across the upgrade")
	if err != nil {
		t.Fatal(err)
	}
	adisk := a.disk
	a.close()

	// Both stored States now say they come from protocol version 1.
	for _, d := range []*memStore{adisk, bdisk} {
		keys, _ := d.Keys(kindRatchet)
		if len(keys) != 1 {
			t.Fatalf("%d stored states", len(keys))
		}
		st, err := d.Get(kindRatchet, keys[0])
		if err != nil {
			t.Fatal(err)
		}
		st[0] = 1
		if !ratchet.IsOldState(st) {
			t.Fatal("not an old state")
		}
		if err := d.Put(kindRatchet, keys[0], st); err != nil {
			t.Fatal(err)
		}
	}

	a = startPeer(t, n, adisk)
	b = startPeer(t, n, bdisk)
	got := false
	delivered := false
	deadline := time.After(20 * time.Second)
	for !got || !delivered {
		var ev Event
		select {
		case ev = <-a.evs:
		case ev = <-b.evs:
		case <-deadline:
			t.Fatalf("queued message received %v, acknowledged %v", got, delivered)
		}
		switch ev := ev.(type) {
		case ErrorEvent:
			if errors.Is(ev.Err, ErrPeerRolledBack) {
				t.Fatalf("an upgrade reported as a rollback: %v", ev.Err)
			}
		case MessageEvent:
			got = got || ev.Message.Text == "queued across the upgrade"
		case DeliveredEvent:
			delivered = delivered || ev.ID == queued
		}
	}
	for _, d := range []*memStore{adisk, bdisk} {
		keys, _ := d.Keys(kindRatchet)
		st, _ := d.Get(kindRatchet, keys[0])
		var s ratchet.State
		if err := s.UnmarshalBinary(st); err != nil {
			t.Fatalf("stored state after the upgrade: %v", err)
		}
	}
	// Later connections continue from the new keys, without warnings.
	if _, err := b.e.Send(ctx, "bob", "alice", "after"); err != nil {
		t.Fatal(err)
	}
	a.waitMessage("after")
}
