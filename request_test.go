package sotto

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// An open identity stores at most requestRateN new requests per period and
// refuses the rest; nothing of a refused requester reaches the owner.
func TestRequestRateLimit(t *testing.T) {
	n := newMemNet()
	tip := startPeer(t, n, nil)
	mustID(t, tip, "tips", IdentityOptions{Open: true})
	code, _ := tip.e.Card("tips")
	ctx := context.Background()
	for i := range requestRateN + 3 {
		// One profile each: a profile's identities cannot share a contact.
		src := startPeer(t, n, nil)
		name := fmt.Sprintf("s%d", i)
		mustID(t, src, name, IdentityOptions{Ephemeral: true})
		if _, err := src.e.AddContact(ctx, name, "tips", code); err != nil {
			t.Fatal(err)
		}
		src.e.Send(ctx, name, "tips", "tip from "+name)
	}
	for range requestRateN {
		tip.wait("request", func(ev Event) bool { _, ok := ev.(RequestEvent); return ok })
	}
	time.Sleep(time.Second) // the others keep retrying and are refused
	rs, _ := tip.e.Requests("tips")
	if len(rs) != requestRateN {
		t.Fatalf("%d requests stored, want %d", len(rs), requestRateN)
	}
	if err := tip.e.RejectRequest(ctx, "tips", rs[0].ID); err != nil {
		t.Fatal(err)
	}
	if rs2, _ := tip.e.Requests("tips"); len(rs2) != requestRateN-1 {
		t.Fatal("reject did not remove the request")
	}
	if err := tip.e.AcceptRequest(ctx, "tips", rs[0].ID, "x"); err == nil {
		t.Fatal("accepted a rejected request")
	}
}

// Removing a contact stops the conversation and withdraws its authorisation;
// SetHistory(false) takes the conversation out of the store.
func TestRemoveContactAndHistory(t *testing.T) {
	n := newMemNet()
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	chat(t, a, "alice", "bob", b, "bob", "alice", "kept")
	if err := b.e.SetHistory("bob", "alice", false); err != nil {
		t.Fatal(err)
	}
	chat(t, a, "alice", "bob", b, "bob", "alice", "memory only")
	if d := b.disk.dump(); contains(d, "memory only") || contains(d, "kept") {
		t.Fatal("a no-history conversation is on disk")
	}
	msgs, _ := b.e.Messages("bob", "alice")
	if len(msgs) != 4 {
		t.Fatalf("%d messages in memory", len(msgs))
	}
	if err := b.e.SetHistory("bob", "alice", true); err != nil {
		t.Fatal(err)
	}
	if !contains(b.disk.dump(), "memory only") {
		t.Fatal("history not stored again")
	}
	if err := b.e.Verify("bob", "alice"); err != nil {
		t.Fatal(err)
	}
	if cs, _ := b.e.Contacts("bob"); !cs[0].Verified {
		t.Fatal("not verified")
	}
	if err := b.e.RemoveContact(context.Background(), "bob", "alice"); err != nil {
		t.Fatal(err)
	}
	if contains(b.disk.dump(), "memory only") {
		t.Fatal("removed contact's conversation still stored")
	}
	a.e.Send(context.Background(), "alice", "bob", "after removal")
	b.noEvent(time.Second, "message after removal", func(ev Event) bool {
		m, ok := ev.(MessageEvent)
		return ok && m.Message.Text == "after removal"
	})
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// Both sides change the timer at the same moment: both settle on the same one.
func TestConcurrentTimerChangesConverge(t *testing.T) {
	n := newMemNet()
	clock := &testClock{t: time.Unix(1800000000, 0)}
	a, b := startPeerClock(t, n, nil, clock.now), startPeerClock(t, n, nil, clock.now)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	if err := a.e.SetTimer(ctx, "alice", "bob", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := b.e.SetTimer(ctx, "bob", "alice", time.Hour); err != nil {
		t.Fatal(err)
	}
	isTimer := func(ev Event) bool {
		m, ok := ev.(MessageEvent)
		return ok && m.Message.Kind == TimerMessage && m.Message.Dir == System
	}
	// Each side shows both changes (its own from SetTimer, the other's on receipt).
	a.wait("timer", isTimer)
	a.wait("timer", isTimer)
	b.wait("timer", isTimer)
	b.wait("timer", isTimer)
	ca, _ := a.e.Contacts("alice")
	cb, _ := b.e.Contacts("bob")
	if ca[0].Timer != cb[0].Timer {
		t.Fatalf("alice has %v, bob has %v", ca[0].Timer, cb[0].Timer)
	}
	// A later change wins on both sides.
	clock.add(time.Second)
	a.e.SetTimer(ctx, "alice", "bob", 2*time.Minute)
	b.wait("timer", isTimer)
	cb, _ = b.e.Contacts("bob")
	if cb[0].Timer != 2*time.Minute {
		t.Fatalf("bob has %v after a later change", cb[0].Timer)
	}
}

// Unread counts survive restarts and MarkRead.
func TestUnreadAcrossRestart(t *testing.T) {
	n := newMemNet()
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	a.e.Send(ctx, "alice", "bob", "one")
	a.e.Send(ctx, "alice", "bob", "two")
	b.waitMessage("two")
	unread := func() int {
		cs, err := b.e.Contacts("bob")
		if err != nil || len(cs) != 1 {
			t.Fatalf("contacts %v %v", cs, err)
		}
		return cs[0].Unread
	}
	restart := func() {
		d := b.disk
		b.close()
		b = startPeer(t, n, d)
	}
	if unread() != 2 {
		t.Fatalf("unread %d", unread())
	}
	restart()
	if unread() != 2 {
		t.Fatalf("unread after restart %d", unread())
	}
	if err := b.e.MarkRead("bob", "alice"); err != nil {
		t.Fatal(err)
	}
	restart()
	if unread() != 0 {
		t.Fatalf("unread after MarkRead and restart %d", unread())
	}
	a.e.Send(ctx, "alice", "bob", "three")
	b.waitMessage("three")
	restart()
	if unread() != 1 {
		t.Fatalf("unread %d, want 1", unread())
	}
	msgs, _ := b.e.Messages("bob", "alice")
	if len(msgs) != 3 || msgs[2].Text != "three" {
		t.Fatalf("order after restarts: %+v", msgs)
	}
}
