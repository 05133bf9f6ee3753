package main

import (
	"fmt"
	"strings"
	"syscall"
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

// killMailbox SIGKILLs a serving mailbox (its tor goes with it: tor is
// started owned by the sotto process) and starts it again on its profile.
func killMailbox(t *testing.T, p *e2e.Profile, mb *e2e.Node) *e2e.Node {
	t.Helper()
	if err := syscall.Kill(mb.PID(false), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	mb.Wait() // "signal: killed"
	n := p.Command([]string{"mailbox", "serve"})
	n.WaitFor(0, readyWithin, "the mailbox ready again", e2e.Is(map[string]any{"event": "ready"}))
	return n
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
// alice, who has no mailbox, collects the reply from bob's mailbox. The
// mailbox is SIGKILLed and restarted twice, once while alice deposits and
// once while bob collects (mailbox.TestKillMailbox does it hundreds of
// times to a mailbox process without tor).
func TestMailboxE2E(t *testing.T) {
	needNetwork(t)
	t.Parallel()
	mbp, mb := mailboxNode(t, "mbox")
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
	alice.WaitFor(from, deliverWithin, "the first queued", e2e.Is(map[string]any{"event": "queued", "contact": "bob", "message": ids[0]}))
	t.Log("== the mailbox is killed while alice deposits")
	mb = killMailbox(t, mbp, mb)
	nodes["mailbox"] = mb
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
	bob.WaitFor(0, deliverWithin, "the first message", e2e.Is(map[string]any{"event": "message", "contact": "alice", "message": ids[0]}))
	t.Log("== the mailbox is killed while bob collects")
	mb = killMailbox(t, mbp, mb)
	nodes["mailbox"] = mb
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

	t.Log("== the other way: bob replies with 'sotto send' while alice is offline")
	alice.Stop()
	// It waits until the text is at his mailbox (alice has none).
	code, out, errs := harness.Run(t, "a reply in my mailbox\n", ps["bob"].Args("send", "bob", "alice")...)
	if code != 0 || !strings.Contains(out, "left at a mailbox for alice") {
		t.Fatalf("sotto send while alice is offline: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	rid, _, _ := strings.Cut(strings.TrimPrefix(out, "stored: "), "\n")
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

// TestTipLineE2E is issue 13's tip line over the private Tor network with
// real sotto processes: a source with a fresh identity and no mailbox sends
// a contact request with its first text to an open identity whose owner is
// offline, and goes offline; the journalist comes online, accepts and
// answers while the source is offline; the source comes back and reads the
// answer, and sees its first text delivered.
func TestTipLineE2E(t *testing.T) {
	needNetwork(t)
	t.Parallel()
	_, mb := mailboxNode(t, "tipbox")
	jp := harness.NewProfile(t, "journalist")
	jp.Must("init")
	jp.Must("id", "new", "tips", "--open")
	j := jp.Headless()
	nodes := map[string]*e2e.Node{"journalist": j, "mailbox": mb}
	e2e.DumpOnFailure(t, nodes)
	j.WaitFor(0, readyWithin, "the journalist ready", e2e.Is(map[string]any{"event": "ready", "identity": "tips"}))

	t.Log("== the journalist pairs the tip line with the mailbox and publishes its tip code")
	r := j.Do(deliverWithin, map[string]any{"cmd": "mailbox_pair", "identity": "tips", "code": mailboxCode(t, mb)})
	if st := r["mailbox"].(map[string]any); st["intake"] == nil || st["intake"] == "" {
		t.Fatalf("mailbox_pair of an open identity: %v, want an intake", r)
	}
	var tip string
	waitUntil(t, deliverWithin, "the tip code", func() bool {
		r := j.Do(time.Minute, map[string]any{"cmd": "card", "identity": "tips"})
		tip = fmt.Sprint(r["contact_code"])
		return strings.HasPrefix(tip, "sottotip1:")
	})
	j.Stop()

	t.Log("== journalist offline: a source with a fresh identity and no mailbox leaves its request")
	sp := harness.NewProfile(t, "source")
	sp.Must("init")
	sp.Must("id", "new", "src")
	sp.Must("contact", "add", "src", "tips", tip)
	s := sp.Headless()
	nodes["source"] = s
	s.WaitFor(0, readyWithin, "the source ready", e2e.Is(map[string]any{"event": "ready", "identity": "src"}))
	r = s.Do(time.Minute, map[string]any{"cmd": "send", "identity": "src", "contact": "tips", "text": "I have documents"})
	first := fmt.Sprint(r["message"])
	s.WaitFor(0, deliverWithin, "the request queued at the intake", e2e.Is(map[string]any{"event": "queued", "contact": "tips", "message": first}))
	s.Stop()
	// The request waits at the mailbox for the journalist.
	if _, forOwners, _ := mailboxItems(t, mb); forOwners == 0 {
		t.Fatal("the mailbox holds nothing for the journalist")
	}

	t.Log("== source offline: the journalist accepts and answers")
	j = jp.Headless()
	nodes["journalist"] = j
	req, _ := j.WaitFor(0, deliverWithin, "the request", e2e.Is(map[string]any{"event": "request", "identity": "tips"}))
	if req["text"] != "I have documents" {
		t.Fatalf("the request: %v", req)
	}
	j.Do(time.Minute, map[string]any{"cmd": "accept", "identity": "tips", "request": req["request"], "contact": "source"})
	r = j.Do(time.Minute, map[string]any{"cmd": "send", "identity": "tips", "contact": "source", "text": "thank you, tell me more"})
	reply := fmt.Sprint(r["message"])
	j.WaitFor(0, deliverWithin, "the answer queued", e2e.Is(map[string]any{"event": "queued", "contact": "source", "message": reply}))
	j.Stop()

	t.Log("== journalist offline: the source reads the answer")
	s = sp.Headless()
	nodes["source"] = s
	m, _ := s.WaitFor(0, deliverWithin, "the answer", e2e.Is(map[string]any{"event": "message", "contact": "tips", "message": reply}))
	if m["text"] != "thank you, tell me more" {
		t.Fatalf("the source got %v", m)
	}
	waitUntil(t, deliverWithin, "the first text delivered", func() bool {
		r := s.Do(time.Minute, map[string]any{"cmd": "messages", "identity": "src", "contact": "tips"})
		ms := r["messages"].([]any)
		return len(ms) > 0 && ms[0].(map[string]any)["id"] == first && ms[0].(map[string]any)["state"] == "delivered"
	})
	if k := s.Count(0, e2e.Is(map[string]any{"event": "message", "contact": "tips"})); k != 1 {
		t.Fatalf("the source got %d message events, want 1", k)
	}
}
