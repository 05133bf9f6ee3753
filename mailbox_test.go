package sotto

import (
	"context"
	"fmt"
	"path/filepath"
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
	tor := n.tor()
	e, err := newEngine(engineConfig{disk: disk, net: tor, newSecret: testSecret, timing: fastTiming, logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	e.mbt = fastMb
	e.start()
	p := &testPeer{t: t, e: e, disk: disk, tor: tor, evs: make(chan Event, 10000), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for ev := range e.Events() {
			p.evs <- ev
		}
	}()
	t.Cleanup(func() { p.close() })
	return p
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
	eventually(t, "bob's acknowledgements at his mailbox", func() bool { return mb.m.Stats().Items > 0 })
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
	eventually(t, "alice's acknowledgement at bob's mailbox", func() bool { return mb.m.Stats().Items == 1 })
	a.close()
	b = startMbPeer(t, n, bdisk)
	b.wait("reply delivered", func(ev Event) bool { d, ok := ev.(DeliveredEvent); return ok && d.ID == rid })
	eventually(t, "the mailbox empties", func() bool { return mb.m.Stats().Items == 0 })
}
