package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto/internal/e2e"
)

// mailboxNode starts 'sotto mailbox serve' on a fresh mailbox profile.
func mailboxNode(t *testing.T, name string) (*e2e.Profile, *e2e.Node) {
	t.Helper()
	p := harness.NewProfile(t, name)
	p.Must("mailbox", "init")
	n := p.Command([]string{"mailbox", "serve"})
	n.WaitFor(0, readyWithin, "the mailbox ready", e2e.Is(map[string]any{"event": "ready"}))
	return p, n
}

// mailboxCode asks a serving mailbox for a pairing code.
func mailboxCode(t *testing.T, mb *e2e.Node) string {
	t.Helper()
	r := mb.Do(time.Minute, map[string]any{"cmd": "code"})
	code := fmt.Sprint(r["code"])
	if !strings.HasPrefix(code, "sottomb1:") {
		t.Fatalf("code reply %v", r)
	}
	return code
}

// mailboxItems is what the mailbox holds now: in all, and waiting for the
// owners and for their contacts.
func mailboxItems(t *testing.T, mb *e2e.Node) (all, forOwners, forContacts int) {
	t.Helper()
	r := mb.Do(time.Minute, map[string]any{"cmd": "status"})
	return int(r["items"].(float64)), int(r["for_owners"].(float64)), int(r["for_contacts"].(float64))
}

// waitUntil polls cond every half second.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestMailboxE2E is issue 13's first must-show over the private Tor network
// with real sotto processes: alice, bob and bob's mailbox. bob is stopped;
// alice sends 20 messages, sees them queued at the mailbox, and stops; bob
// starts: all 20 arrive once, in order; alice starts later and sees all 20
// delivered. Then the other way: bob replies while alice is offline, and
// alice, who has no mailbox, collects the reply from bob's mailbox.
func TestMailboxE2E(t *testing.T) {
	needNetwork(t)
	t.Parallel()
	_, mb := mailboxNode(t, "mbox")
	ps := map[string]*e2e.Profile{}
	codes := map[string]string{}
	for _, n := range []string{"alice", "bob"} {
		p := harness.NewProfile(t, n)
		ps[n] = p
		p.Must("init")
		p.Must("id", "new", n)
		codes[n] = strings.TrimSpace(p.Must("id", "card", n, "--no-qr"))
	}
	ps["alice"].Must("contact", "add", "alice", "bob", codes["bob"])
	ps["bob"].Must("contact", "add", "bob", "alice", codes["alice"])
	alice, bob := ps["alice"].Headless(), ps["bob"].Headless()
	nodes := map[string]*e2e.Node{"alice": alice, "bob": bob, "mailbox": mb}
	e2e.DumpOnFailure(t, nodes)
	alice.WaitFor(0, readyWithin, "alice ready", e2e.Is(map[string]any{"event": "ready", "identity": "alice"}))
	bob.WaitFor(0, readyWithin, "bob ready", e2e.Is(map[string]any{"event": "ready", "identity": "bob"}))

	t.Log("== bob pairs his identity with the mailbox; alice gets his offer")
	r := bob.Do(deliverWithin, map[string]any{"cmd": "mailbox_pair", "identity": "bob", "code": mailboxCode(t, mb)})
	if st := r["mailbox"].(map[string]any); st["state"] != "paired" && st["state"] != "reachable" {
		t.Fatalf("mailbox_pair: %v", r)
	}
	waitUntil(t, deliverWithin, "alice confirms bob's mailbox", func() bool {
		r := bob.Do(time.Minute, map[string]any{"cmd": "mailbox_status", "identity": "bob"})
		return r["mailbox"].(map[string]any)["confirmed"] == float64(1)
	})

	t.Log("== bob away: alice's 20 messages are queued at his mailbox")
	bob.Stop()
	from := alice.Mark()
	var ids []string
	for i := range 20 {
		r := alice.Do(time.Minute, map[string]any{"cmd": "send", "identity": "alice", "contact": "bob", "text": fmt.Sprintf("via mailbox %02d", i)})
		ids = append(ids, fmt.Sprint(r["message"]))
	}
	for _, id := range ids {
		alice.WaitFor(from, deliverWithin, "queued "+id, e2e.Is(map[string]any{"event": "queued", "contact": "bob", "message": id}))
	}
	r = alice.Do(time.Minute, map[string]any{"cmd": "messages", "identity": "alice", "contact": "bob"})
	for _, x := range r["messages"].([]any) {
		if m := x.(map[string]any); m["state"] != "queued" {
			t.Fatalf("alice lists %v, want every message queued", m)
		}
	}
	alice.Stop()

	t.Log("== bob back, alice away: all 20 arrive once, in order")
	bob = ps["bob"].Headless()
	nodes["bob"] = bob
	for i, id := range ids {
		bob.WaitFor(0, deliverWithin, fmt.Sprintf("message %d", i), e2e.Is(map[string]any{"event": "message", "contact": "alice", "message": id}))
	}
	got := bob.All(0, e2e.Is(map[string]any{"event": "message", "contact": "alice"}))
	if len(got) != 20 {
		t.Fatalf("bob got %d message events, want 20", len(got))
	}
	for i, m := range got {
		if m["message"] != ids[i] || m["text"] != fmt.Sprintf("via mailbox %02d", i) {
			t.Fatalf("message %d is %v: out of order", i, m)
		}
	}
	// His acknowledgements go into his mailbox (alice has none).
	waitUntil(t, deliverWithin, "bob's acknowledgements at the mailbox", func() bool {
		_, _, forContacts := mailboxItems(t, mb)
		return forContacts > 0
	})
	bob.Stop()

	t.Log("== alice back, bob away: she sees all 20 delivered")
	alice = ps["alice"].Headless()
	nodes["alice"] = alice
	for _, id := range ids {
		alice.WaitFor(0, deliverWithin, "delivered "+id, e2e.Is(map[string]any{"event": "delivered", "contact": "bob", "message": id}))
	}

	t.Log("== the other way: bob replies while alice is offline")
	alice.Stop()
	bob = ps["bob"].Headless()
	nodes["bob"] = bob
	bob.WaitFor(0, readyWithin, "bob ready", e2e.Is(map[string]any{"event": "ready", "identity": "bob"}))
	r = bob.Do(time.Minute, map[string]any{"cmd": "send", "identity": "bob", "contact": "alice", "text": "a reply in my mailbox"})
	rid := fmt.Sprint(r["message"])
	bob.WaitFor(0, deliverWithin, "reply queued", e2e.Is(map[string]any{"event": "queued", "contact": "alice", "message": rid}))
	bob.Stop()
	alice = ps["alice"].Headless()
	nodes["alice"] = alice
	m, _ := alice.WaitFor(0, deliverWithin, "the reply", e2e.Is(map[string]any{"event": "message", "contact": "bob", "message": rid}))
	if m["text"] != "a reply in my mailbox" {
		t.Fatalf("alice got %v", m)
	}
	if k := alice.Count(0, e2e.Is(map[string]any{"event": "message", "contact": "bob"})); k != 1 {
		t.Fatalf("alice got %d message events, want 1", k)
	}
	// Her acknowledgement waits at bob's mailbox; bob sees it delivered.
	waitUntil(t, deliverWithin, "alice's acknowledgement at the mailbox", func() bool {
		_, forOwners, _ := mailboxItems(t, mb)
		return forOwners > 0
	})
	alice.Stop()
	bob = ps["bob"].Headless()
	nodes["bob"] = bob
	bob.WaitFor(0, deliverWithin, "reply delivered", e2e.Is(map[string]any{"event": "delivered", "contact": "alice", "message": rid}))
	// Everything collected is deleted.
	waitUntil(t, time.Minute, "the mailbox empty", func() bool {
		all, _, _ := mailboxItems(t, mb)
		return all == 0
	})
}
