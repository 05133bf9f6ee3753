package sotto

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto/mailbox"
	"github.com/sottochat/sotto/vault"
)

// Delivery through mailboxes over the in-memory network: the real mailbox
// server (package mailbox, on a vault on disk) and real engines.

var fastMb = mbTiming{Grace: 300 * time.Millisecond, AckDelay: 100 * time.Millisecond, Poll: 2 * time.Second, Op: 5 * time.Second}

// memMailboxNet publishes the mailbox's services on a memNet.
type memMailboxNet struct{ t *memTor }

func (n memMailboxNet) Publish(ctx context.Context, key mailbox.KeyFunc, auth [][32]byte, open bool) (mailbox.Service, error) {
	return n.t.Publish(ctx, key, auth, open)
}

// testMailbox is a mailbox serving on a memNet.
type testMailbox struct {
	t    testing.TB
	n    *memNet
	dir  string
	m    *mailbox.Mailbox
	stop context.CancelFunc
	done chan error
}

func startTestMailbox(t testing.TB, n *memNet, dir string) *testMailbox {
	t.Helper()
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "mb")
		p, _ := vault.NewPassphrase([]byte("mailbox"))
		if err := mailbox.Init(dir, p, mailbox.DefaultConfig(), &vault.Options{UnsafeWorkFactor: 2}); err != nil {
			t.Fatal(err)
		}
		p.Destroy()
	}
	p, _ := vault.NewPassphrase([]byte("mailbox"))
	defer p.Destroy()
	m, err := mailbox.Open(dir, p, mailbox.Options{Vault: &vault.Options{UnsafeWorkFactor: 2}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tm := &testMailbox{t: t, n: n, dir: dir, m: m, stop: cancel, done: make(chan error, 1)}
	go func() { tm.done <- m.Serve(ctx, memMailboxNet{t: n.tor()}) }()
	select {
	case <-m.Ready():
	case err := <-tm.done:
		t.Fatal(err)
	}
	t.Cleanup(tm.close)
	return tm
}

func (tm *testMailbox) close() {
	if tm.m == nil {
		return
	}
	tm.stop()
	<-tm.done
	tm.m.Close()
	tm.m = nil
}

func (tm *testMailbox) code() string {
	tm.t.Helper()
	c, err := tm.m.NewCode(context.Background())
	if err != nil {
		tm.t.Fatal(err)
	}
	return c.String()
}

// startMbPeer is startPeer with the mailbox timings shortened.
func startMbPeer(t testing.TB, n *memNet, disk *memStore) *testPeer {
	t.Helper()
	if disk == nil {
		disk = newMemStore()
	}
	return startMbPeerStalled(t, n, disk, nil)
}

// eventually polls cond until it holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *testPeer) mailboxInfo(id string) MailboxInfo {
	info, err := p.e.Mailbox(id)
	if err != nil {
		p.t.Fatal(err)
	}
	return info
}

// hasPeerOffer reports whether p holds contact's offer.
func (p *testPeer) hasPeerOffer(id, contact string) bool {
	p.e.mu.Lock()
	defer p.e.mu.Unlock()
	c := p.e.ids[id].contacts[contact]
	return c != nil && c.mb.peer != nil
}

func TestMailboxDeliveryBothWays(t *testing.T) {
	n := newMemNet()
	mb := startTestMailbox(t, n, "")
	a, b := startMbPeer(t, n, nil), startMbPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	info, err := b.e.PairMailbox(ctx, "bob", mb.code())
	if err != nil {
		t.Fatal(err)
	}
	if info.State != MailboxPaired || info.Onion == "" {
		t.Fatalf("after pairing: %+v", info)
	}
	// bob's offer reaches alice (on their session) and she confirms it.
	eventually(t, "alice confirms bob's offer", func() bool { return b.mailboxInfo("bob").Confirmed == 1 })
	if !a.hasPeerOffer("alice", "bob") {
		t.Fatal("alice has no offer from bob")
	}
	adisk, bdisk := a.disk, b.disk
	b.close()
	var ids []MessageID
	for i := range 20 {
		id, err := a.e.Send(ctx, "alice", "bob", fmt.Sprintf("m%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	queued := map[MessageID]bool{}
	a.wait("20 queued at bob's mailbox", func(ev Event) bool {
		if q, ok := ev.(QueuedEvent); ok {
			queued[q.ID] = true
		}
		return len(queued) == 20
	})
	msgs, _ := a.e.Messages("alice", "bob")
	for _, m := range msgs {
		if m.State != Queued {
			t.Fatalf("%s is %v, not queued", m.Text, m.State)
		}
	}
	a.close()
	// bob comes back: all 20 arrive once, in order.
	b = startMbPeer(t, n, bdisk)
	for i := range 20 {
		b.waitMessage(fmt.Sprintf("m%02d", i))
	}
	got, _ := b.e.Messages("bob", "alice")
	if len(got) != 20 {
		t.Fatalf("bob has %d messages", len(got))
	}
	for i, m := range got {
		if m.Text != fmt.Sprintf("m%02d", i) || m.ID != ids[i] {
			t.Fatalf("message %d is %q", i, m.Text)
		}
	}
	// bob's acknowledgements wait in his mailbox for alice (she has none).
	// (Items > 0 alone would also hold before he deleted alice's blobs.)
	eventually(t, "bob's acknowledgements at his mailbox", func() bool {
		st := mb.m.Stats()
		return st.ForContacts > 0 && st.ForOwners == 0
	})
	b.close()
	a = startMbPeer(t, n, adisk)
	delivered := map[MessageID]bool{}
	a.wait("20 delivered", func(ev Event) bool {
		if d, ok := ev.(DeliveredEvent); ok {
			delivered[d.ID] = true
		}
		return len(delivered) == 20
	})
	// The other way: bob writes while alice is offline; alice, who has no
	// mailbox, collects the reply from bob's.
	a.close()
	b = startMbPeer(t, n, bdisk)
	rid, err := b.e.Send(ctx, "bob", "alice", "reply while you were away")
	if err != nil {
		t.Fatal(err)
	}
	b.wait("reply queued", func(ev Event) bool { q, ok := ev.(QueuedEvent); return ok && q.ID == rid })
	b.close()
	a = startMbPeer(t, n, adisk)
	a.waitMessage("reply while you were away")
	// Her acknowledgement goes into bob's mailbox (his offer to her).
	// (Items == 1 alone would also hold before she deleted the reply.)
	eventually(t, "alice's acknowledgement at bob's mailbox", func() bool {
		st := mb.m.Stats()
		return st.ForOwners == 1 && st.ForContacts == 0
	})
	a.close()
	b = startMbPeer(t, n, bdisk)
	b.wait("reply delivered", func(ev Event) bool { d, ok := ev.(DeliveredEvent); return ok && d.ID == rid })
	eventually(t, "the mailbox empties", func() bool { return mb.m.Stats().Items == 0 })
}

// pairedPair makes alice and bob contacts with bob paired and his offer
// confirmed by alice.
func pairedPair(t *testing.T, n *memNet, mb *testMailbox) (a, b *testPeer) {
	t.Helper()
	a, b = startMbPeer(t, n, nil), startMbPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	if _, err := b.e.PairMailbox(context.Background(), "bob", mb.code()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alice confirms bob's offer", func() bool { return b.mailboxInfo("bob").Confirmed == 1 })
	return a, b
}

// ownerConnFromDisk opens a stream to bob's mailbox as its owner with the
// credentials in his (closed) engine's store, as a test's eye on the
// mailbox.
func ownerConnFromDisk(t *testing.T, n *memNet, disk *memStore) (*mailbox.Conn, [16]byte) {
	t.Helper()
	keys, _ := disk.Keys(kindMbOwn)
	if len(keys) != 1 {
		t.Fatal("no mailbox record")
	}
	b, _ := disk.Get(kindMbOwn, keys[0])
	r, err := parseMbOwn(b)
	if err != nil {
		t.Fatal(err)
	}
	rels, _ := disk.Keys(kindMbRel)
	rb, _ := disk.Get(kindMbRel, rels[0])
	rr, err := parseMbRel(rb)
	if err != nil {
		t.Fatal(err)
	}
	tor := n.tor()
	ctx := context.Background()
	addr := onionOfKey(r.Service[:])
	if err := tor.Authorize(ctx, addr, func(use func(*[32]byte) error) error { return use(&r.AuthPriv) }); err != nil {
		t.Fatal(err)
	}
	c, err := mailbox.Dial(ctx, tor, "test", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello(mailbox.RoleOwner, func(use func(*[32]byte) error) error { return use(&r.Token) }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, rr.ID
}

// TestHostileMailboxBlobs: a mailbox that returns blobs duplicated,
// reordered, withheld and then delivered late, replayed, garbage or with a
// damaged ratchet message. Every message is stored once, the late ones are
// reported, nothing else happens, and the conversation goes on.
func TestHostileMailboxBlobs(t *testing.T) {
	n := newMemNet()
	mb := startTestMailbox(t, n, "")
	a, b := pairedPair(t, n, mb)
	ctx := context.Background()
	bdisk := b.disk
	b.close()
	for i := 1; i <= 6; i++ {
		id, err := a.e.Send(ctx, "alice", "bob", fmt.Sprintf("h%d", i))
		if err != nil {
			t.Fatal(err)
		}
		a.wait("queued", func(ev Event) bool { q, ok := ev.(QueuedEvent); return ok && q.ID == id })
	}
	// The test takes the blobs out of the mailbox, so that bob's engine
	// gets only what the "mailbox" below hands it.
	oc, rel := ownerConnFromDisk(t, n, bdisk)
	var items []mailbox.Item
	if _, err := oc.Collect(rel, 100, func(it mailbox.Item) error { items = append(items, it); return nil }); err != nil {
		t.Fatal(err)
	}
	var ids [][8]byte
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	if _, err := oc.Delete(rel, ids); err != nil {
		t.Fatal(err)
	}
	// The first blob may carry alice's mailbox messages alone; the last six
	// carry h1..h6.
	if len(items) < 6 {
		t.Fatalf("%d blobs", len(items))
	}
	h := items[len(items)-6:]
	garbage := mailbox.Item{ID: [8]byte{9}, Blob: make([]byte, 960)}
	for i := range garbage.Blob {
		garbage.Blob[i] = byte(i*7 + 3)
	}
	recs, _ := mailbox.Unpack(h[0].Blob)
	bad := append([]byte(nil), recs[0].Payload...)
	bad[len(bad)-1] ^= 1
	badBlob, _ := mailbox.Pack(mailbox.Record{Type: mailbox.RecRatchet, Payload: bad})
	damaged := mailbox.Item{ID: [8]byte{10}, Blob: badBlob}
	// No session while the "mailbox" feeds bob: only what it hands him counts.
	noSession := func(to string) bool { return true }
	a.tor.mu.Lock()
	a.tor.stall = noSession
	a.tor.mu.Unlock()
	b = startMbPeerStalled(t, n, bdisk, noSession)
	feed := func(items ...mailbox.Item) {
		b.e.mu.Lock()
		c := b.e.ids["bob"].contacts["alice"]
		b.e.receiveItemsLocked(c, items)
		b.e.mu.Unlock()
	}
	// Batch 1: h5, h4, garbage, h1, h1 again, a damaged h1: h2 and h3 held back.
	feed(append(items[:len(items)-6:len(items)-6], h[4], h[3], garbage, h[0], h[0], damaged)...)
	for _, want := range []string{"h1", "h4", "h5"} {
		b.waitMessage(want)
	}
	// Batch 2: the held-back ones arrive late, with h6; then everything again.
	feed(h[1], h[2], h[5])
	b.wait("the late delivery is reported", func(ev Event) bool { _, ok := ev.(MailboxUnorderedEvent); return ok })
	feed(h...)
	msgs, _ := b.e.Messages("bob", "alice")
	var got []string
	for _, m := range msgs {
		got = append(got, m.Text)
	}
	if fmt.Sprint(got) != "[h1 h4 h5 h2 h3 h6]" {
		t.Fatalf("bob's conversation: %q", got)
	}
	// The conversation goes on, both ways, by session.
	for _, p := range []*testPeer{a, b} {
		p.tor.mu.Lock()
		p.tor.stall = nil
		p.tor.mu.Unlock()
		p.e.mu.Lock()
		for _, id := range p.e.ids {
			for _, c := range id.contacts {
				c.nudge()
			}
		}
		p.e.mu.Unlock()
	}
	if _, err := b.e.Send(ctx, "bob", "alice", "after all that"); err != nil {
		t.Fatal(err)
	}
	a.waitMessage("after all that")
	eventually(t, "alice's six delivered", func() bool {
		msgs, _ := a.e.Messages("alice", "bob")
		n := 0
		for _, m := range msgs {
			if m.Dir == Outgoing && m.State == Delivered {
				n++
			}
		}
		return n == 6
	})
}

// startMbPeerStalled is startMbPeer with dials stalled where stall says.
func startMbPeerStalled(t testing.TB, n *memNet, disk *memStore, stall func(string) bool) *testPeer {
	t.Helper()
	tor := n.tor()
	tor.stall = stall
	e, err := newEngine(engineConfig{disk: disk, net: tor, newSecret: testSecret, timing: fastTiming, logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	e.mbt = fastMb
	e.start()
	return watchEvents(&testPeer{t: t, e: e, disk: disk, tor: tor}, 10000)
}

// TestMailboxRevokedAndUnpaired: a removed contact's credentials stop
// working and it forgets them; unpairing tells every contact to stop.
func TestMailboxRevokedAndUnpaired(t *testing.T) {
	n := newMemNet()
	mb := startTestMailbox(t, n, "")
	a, b := pairedPair(t, n, mb)
	ctx := context.Background()
	if st := mb.m.Stats(); st.Relations != 1 {
		t.Fatalf("%d relations", st.Relations)
	}
	// Unpairing: the service goes, alice is told and forgets the offer.
	if err := b.e.UnpairMailbox(ctx, "bob", false); err != nil {
		t.Fatal(err)
	}
	if st := mb.m.Stats(); st.Services != 0 || st.Relations != 0 {
		t.Fatalf("after unpair: %+v", st)
	}
	eventually(t, "alice forgets bob's mailbox", func() bool { return !a.hasPeerOffer("alice", "bob") })
	eventually(t, "bob's relation record goes once alice confirmed", func() bool {
		b.e.mu.Lock()
		defer b.e.mu.Unlock()
		return b.e.ids["bob"].contacts["alice"].mb.rel == nil
	})
	if info := b.mailboxInfo("bob"); info.State != MailboxNone {
		t.Fatalf("after unpair: %+v", info)
	}
	// Pair again (a new code), then bob removes alice: her relation goes
	// from the mailbox, and her credentials are refused.
	if _, err := b.e.PairMailbox(ctx, "bob", mb.code()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alice takes the new offer", func() bool { return a.hasPeerOffer("alice", "bob") })
	if err := b.e.RemoveContact(ctx, "bob", "alice"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the relation leaves the mailbox", func() bool { return mb.m.Stats().Relations == 0 })
	// Her tor can no longer fetch the service's descriptor: what she
	// writes stays in her outbox, never reported queued.
	id, err := a.e.Send(ctx, "alice", "bob", "are you there?")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * fastMb.Grace)
	msgs, _ := a.e.Messages("alice", "bob")
	for _, m := range msgs {
		if m.ID == id && m.State != Pending {
			t.Fatalf("a message to a contact that removed us is %v", m.State)
		}
	}
}

func onionOfKey(pub []byte) string { return mailbox.OnionOf(pub) }

// TestTipLine is issue 13's tip line over the in-memory network: a source
// with a fresh identity and no mailbox sends a contact request with its
// first text to an open identity whose owner is offline, and goes offline;
// the journalist accepts and answers while the source is offline; the
// source reads the answer when it comes back; then they talk through the
// journalist's mailbox.
func TestTipLine(t *testing.T) {
	n := newMemNet()
	mb := startTestMailbox(t, n, "")
	ctx := context.Background()
	j := startMbPeer(t, n, nil)
	mustID(t, j, "tips", IdentityOptions{Open: true})
	info, err := j.e.PairMailbox(ctx, "tips", mb.code())
	if err != nil {
		t.Fatal(err)
	}
	if info.Intake == "" {
		t.Fatal("an open identity was paired without an intake")
	}
	eventually(t, "the intake bundle set", func() bool {
		j.e.mu.Lock()
		defer j.e.mu.Unlock()
		return j.e.ids["tips"].mb.bundleSet
	})
	code, err := j.e.Card("tips")
	if err != nil || !mailbox.IsTipCode(code) {
		t.Fatalf("card %q: %v", code, err)
	}
	if err := CheckCode(code); err != nil {
		t.Fatal(err)
	}
	jdisk := j.disk
	j.close()

	s := startMbPeer(t, n, nil)
	mustID(t, s, "src", IdentityOptions{})
	if _, err := s.e.AddContact(ctx, "src", "tips", code); err != nil {
		t.Fatal(err)
	}
	first, err := s.e.Send(ctx, "src", "tips", "I have documents")
	if err != nil {
		t.Fatal(err)
	}
	s.wait("the request queued at the intake", func(ev Event) bool { q, ok := ev.(QueuedEvent); return ok && q.ID == first })
	sdisk := s.disk
	s.close()

	j = startMbPeer(t, n, jdisk)
	ev := j.wait("the request", func(ev Event) bool { _, ok := ev.(RequestEvent); return ok })
	req := ev.(RequestEvent).Request
	if req.Text != "I have documents" {
		t.Fatalf("request text %q", req.Text)
	}
	if err := j.e.AcceptRequest(ctx, "tips", req.ID, "source"); err != nil {
		t.Fatal(err)
	}
	reply, err := j.e.Send(ctx, "tips", "source", "thank you, tell me more")
	if err != nil {
		t.Fatal(err)
	}
	j.wait("the answer queued", func(ev Event) bool { q, ok := ev.(QueuedEvent); return ok && q.ID == reply })
	// The journalist's mailbox offer to its new contact follows once the
	// owner's loop added the relation at the mailbox: in the answer's
	// bundle or in the next one. (A journalist who goes offline before
	// that offers it at its next time online.)
	eventually(t, "the journalist's offer deposited", func() bool {
		j.e.mu.Lock()
		defer j.e.mu.Unlock()
		c := j.e.ids["tips"].contacts["source"]
		return c != nil && c.mb.rel != nil && c.mb.rel.rec.Added &&
			strings.HasPrefix(c.mb.ctlDone, fmt.Sprintf("r%d/true/", c.mb.rel.rec.Serial))
	})
	j.close()

	s = startMbPeer(t, n, sdisk)
	s.waitMessage("thank you, tell me more")
	eventually(t, "the first text delivered", func() bool {
		msgs, _ := s.e.Messages("src", "tips")
		return len(msgs) > 0 && msgs[0].ID == first && msgs[0].State == Delivered
	})
	eventually(t, "the journalist's mailbox offer", func() bool { return s.hasPeerOffer("src", "tips") })
	// The source answers through the journalist's mailbox.
	more, err := s.e.Send(ctx, "src", "tips", "here is more")
	if err != nil {
		t.Fatal(err)
	}
	s.wait("queued at the journalist's mailbox", func(ev Event) bool { q, ok := ev.(QueuedEvent); return ok && q.ID == more })
	s.close()
	j = startMbPeer(t, n, jdisk)
	j.waitMessage("here is more")
	msgs, _ := j.e.Messages("tips", "source")
	var texts []string
	for _, m := range msgs {
		texts = append(texts, m.Text)
	}
	if fmt.Sprint(texts) != "[I have documents thank you, tell me more here is more]" {
		t.Fatalf("the journalist's conversation: %q", texts)
	}
}
