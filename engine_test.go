package sotto

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// plainBox is a test secretBox (the engine uses vault.Secret). Like
// vault.Secret, it may be destroyed while another goroutine opens it: that
// Open fails.
type plainBox struct {
	mu sync.RWMutex
	b  []byte
}

func (p *plainBox) Open(fn func([]byte) error) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.b == nil {
		return errors.New("destroyed")
	}
	return fn(p.b)
}
func (p *plainBox) Destroy() { p.mu.Lock(); clear(p.b); p.b = nil; p.mu.Unlock() }

// plainLocked is a test lockedBuf (the engine uses vault.Locked).
type plainLocked struct{ b []byte }

func (p *plainLocked) Bytes() []byte { return p.b }
func (p *plainLocked) Destroy()      { clear(p.b); p.b = nil }

func testLocked(n int) (lockedBuf, error) { return &plainLocked{b: make([]byte, n)}, nil }

func testSecret(b []byte) (secretBox, error) {
	c := append([]byte(nil), b...)
	clear(b)
	return &plainBox{b: c}, nil
}

var fastTiming = timing{
	Keepalive:  300 * time.Millisecond,
	Idle:       2 * time.Second,
	Handshake:  2 * time.Second,
	Frame:      time.Second,
	BackoffMin: 50 * time.Millisecond,
	BackoffMax: 400 * time.Millisecond,
}

type testPeer struct {
	t    testing.TB
	e    *Engine
	disk *memStore
	tor  *memTor
	evs  chan Event
	done chan struct{}
}

func startPeer(t testing.TB, n *memNet, disk *memStore) *testPeer {
	t.Helper()
	return startPeerClock(t, n, disk, nil)
}

func startPeerClock(t testing.TB, n *memNet, disk *memStore, now func() time.Time) *testPeer {
	t.Helper()
	return startPeerWith(t, n, disk, now, fastTiming)
}

func startPeerWith(t testing.TB, n *memNet, disk *memStore, now func() time.Time, tm timing) *testPeer {
	t.Helper()
	if disk == nil {
		disk = newMemStore()
	}
	tor := n.tor()
	e, err := newEngine(engineConfig{disk: disk, net: tor, newSecret: testSecret, newLocked: testLocked, timing: tm, now: now, logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	e.start()
	return watchEvents(&testPeer{t: t, e: e, disk: disk, tor: tor}, 10000)
}

// watchEvents finishes a test peer around its started engine: its events
// are copied into a channel of buf, and the engine closes with the test.
func watchEvents(p *testPeer, buf int) *testPeer {
	p.evs, p.done = make(chan Event, buf), make(chan struct{})
	go func() {
		defer close(p.done)
		for ev := range p.e.Events() {
			p.evs <- ev
		}
	}()
	p.t.Cleanup(p.close)
	return p
}

func (p *testPeer) close() {
	if p.e == nil {
		return
	}
	p.e.Close()
	<-p.done
	p.e = nil
}

// wait returns the first event that matches, failing after a timeout.
func (p *testPeer) wait(what string, match func(Event) bool) Event {
	p.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-p.evs:
			if match(ev) {
				return ev
			}
			if ee, ok := ev.(ErrorEvent); ok {
				p.t.Logf("error event: %v", ee.Err)
			}
		case <-timeout:
			p.t.Fatalf("timed out waiting for %s", what)
			return nil
		}
	}
}

func (p *testPeer) waitMessage(text string) Message {
	p.t.Helper()
	ev := p.wait("message "+text, func(ev Event) bool {
		m, ok := ev.(MessageEvent)
		return ok && m.Message.Text == text
	})
	return ev.(MessageEvent).Message
}

func mustID(t testing.TB, p *testPeer, name string, o IdentityOptions) IdentityInfo {
	t.Helper()
	info, err := p.e.NewIdentity(context.Background(), name, o)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func befriend(t testing.TB, a *testPeer, aid, aname string, b *testPeer, bid, bname string) {
	t.Helper()
	ca, err := a.e.Card(aid)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.e.Card(bid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.e.AddContact(context.Background(), aid, bname, cb); err != nil {
		t.Fatal(err)
	}
	if _, err := b.e.AddContact(context.Background(), bid, aname, ca); err != nil {
		t.Fatal(err)
	}
}

func TestTwoEnginesExchange(t *testing.T) {
	n := newMemNet()
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	id1, err := a.e.Send(ctx, "alice", "bob", "hello bob")
	if err != nil {
		t.Fatal(err)
	}
	m := b.waitMessage("hello bob")
	if m.Dir != Incoming || m.ID != id1 || m.Contact != "alice" {
		t.Fatalf("got %+v", m)
	}
	a.wait("delivered", func(ev Event) bool { d, ok := ev.(DeliveredEvent); return ok && d.ID == id1 })
	if _, err := b.e.Send(ctx, "bob", "alice", "hi alice"); err != nil {
		t.Fatal(err)
	}
	a.waitMessage("hi alice")
	// Safety codes agree.
	sa, _ := a.e.SafetyCode("alice", "bob")
	sb, _ := b.e.SafetyCode("bob", "alice")
	if sa != sb || sa == "" {
		t.Fatalf("safety codes %q %q", sa, sb)
	}
	msgs, _ := a.e.Messages("alice", "bob")
	if len(msgs) != 2 || msgs[0].State != Delivered || msgs[1].Text != "hi alice" {
		t.Fatalf("conversation %+v", msgs)
	}
	cs, _ := b.e.Contacts("bob")
	if len(cs) != 1 || cs[0].Unread != 1 {
		t.Fatalf("contacts %+v", cs)
	}
}

func TestRestartDeliversQueuedOnceInOrder(t *testing.T) {
	n := newMemNet()
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	a.e.Send(ctx, "alice", "bob", "first")
	b.waitMessage("first")
	bdisk := b.disk
	b.close()
	var ids []MessageID
	for i := range 20 {
		id, err := a.e.Send(ctx, "alice", "bob", fmt.Sprintf("queued %d", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// alice restarts too, with the messages in her outbox.
	adisk := a.disk
	a.close()
	a = startPeer(t, n, adisk)
	b = startPeer(t, n, bdisk)
	for i := range 20 {
		m := b.waitMessage(fmt.Sprintf("queued %d", i))
		if m.ID != ids[i] {
			t.Fatal("wrong id")
		}
	}
	got := map[MessageID]bool{}
	for len(got) < 20 {
		ev := a.wait("delivered", func(ev Event) bool { _, ok := ev.(DeliveredEvent); return ok })
		got[ev.(DeliveredEvent).ID] = true
	}
	msgs, _ := b.e.Messages("bob", "alice")
	if len(msgs) != 21 {
		t.Fatalf("bob has %d messages", len(msgs))
	}
	for i, m := range msgs[1:] {
		if m.Text != fmt.Sprintf("queued %d", i) {
			t.Fatalf("order: %d is %q", i, m.Text)
		}
	}
}

func TestStrangerCannotConnect(t *testing.T) {
	n := newMemNet()
	a, b, s := startPeer(t, n, nil), startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	mustID(t, s, "eve", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	cb, _ := b.e.Card("bob")
	// eve has bob's code but bob does not have hers.
	if _, err := s.e.AddContact(context.Background(), "eve", "bob", cb); err != nil {
		t.Fatal(err)
	}
	s.e.Send(context.Background(), "eve", "bob", "let me in")
	a.e.Send(context.Background(), "alice", "bob", "control")
	b.waitMessage("control")
	time.Sleep(300 * time.Millisecond)
	for {
		select {
		case ev := <-b.evs:
			if m, ok := ev.(MessageEvent); ok && m.Message.Text == "let me in" {
				t.Fatal("stranger's message arrived")
			}
			continue
		default:
		}
		break
	}
	cs, _ := s.e.Contacts("eve")
	if cs[0].Online {
		t.Fatal("stranger online with bob")
	}
}

func TestOpenModeRequest(t *testing.T) {
	n := newMemNet()
	tip, src := startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, tip, "tips", IdentityOptions{Open: true})
	mustID(t, src, "source", IdentityOptions{Ephemeral: true})
	code, _ := tip.e.Card("tips")
	ctx := context.Background()
	if _, err := src.e.AddContact(ctx, "source", "paper", code); err != nil {
		t.Fatal(err)
	}
	first, _ := src.e.Send(ctx, "source", "paper", "I have documents")
	src.e.Send(ctx, "source", "paper", "second message")
	ev := tip.wait("request", func(ev Event) bool { _, ok := ev.(RequestEvent); return ok })
	req := ev.(RequestEvent).Request
	if req.Text != "I have documents" {
		t.Fatalf("request %+v", req)
	}
	time.Sleep(500 * time.Millisecond) // the source keeps retrying: still only the one request
	rs, _ := tip.e.Requests("tips")
	if len(rs) != 1 {
		t.Fatalf("%d requests", len(rs))
	}
	if cs, _ := tip.e.Contacts("tips"); len(cs) != 0 {
		t.Fatal("a contact before approval")
	}
	if err := tip.e.AcceptRequest(ctx, "tips", req.ID, "source1"); err != nil {
		t.Fatal(err)
	}
	tip.waitMessage("second message")
	msgs, _ := tip.e.Messages("tips", "source1")
	if len(msgs) != 2 || msgs[0].ID != first || msgs[0].Text != "I have documents" {
		t.Fatalf("conversation %+v", msgs)
	}
	src.wait("first delivered", func(ev Event) bool { d, ok := ev.(DeliveredEvent); return ok && d.ID == first })
	tip.e.Send(ctx, "tips", "source1", "thank you")
	src.waitMessage("thank you")
}

func TestTimerExpiresOnBothSides(t *testing.T) {
	n := newMemNet()
	clock := &testClock{t: time.Now()}
	a, b := startPeerClock(t, n, nil, clock.now), startPeerClock(t, n, nil, clock.now)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	if err := a.e.SetTimer(ctx, "alice", "bob", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	b.wait("timer", func(ev Event) bool {
		m, ok := ev.(MessageEvent)
		return ok && m.Message.Kind == TimerMessage && m.Message.Timer == 30*time.Second
	})
	id, _ := a.e.Send(ctx, "alice", "bob", "burn after reading")
	m := b.waitMessage("burn after reading")
	if m.ExpiresAt.IsZero() {
		t.Fatal("no expiry")
	}
	if _, err := b.e.MarkShown("bob", "alice", m.ID); err != nil {
		t.Fatal(err)
	}
	a.wait("delivered", func(ev Event) bool { d, ok := ev.(DeliveredEvent); return ok && d.ID == id })
	clock.add(32 * time.Second)
	for _, p := range []*testPeer{a, b} {
		p.wait("expired", func(ev Event) bool { x, ok := ev.(ExpiredEvent); return ok && x.ID == id })
	}
	for _, p := range []*testPeer{a, b} {
		msgs, _ := p.e.Messages(map[*testPeer]string{a: "alice", b: "bob"}[p], map[*testPeer]string{a: "bob", b: "alice"}[p])
		for _, m := range msgs {
			if m.ID == id {
				t.Fatal("expired message still listed")
			}
		}
		if dump := p.disk.dump(); strings.Contains(dump, "burn after reading") {
			t.Fatal("expired text still in the store")
		}
	}
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestBadInput(t *testing.T) {
	n := newMemNet()
	a := startPeer(t, n, nil)
	ctx := context.Background()
	if _, err := a.e.NewIdentity(ctx, "", IdentityOptions{}); !errors.Is(err, ErrBadName) {
		t.Fatal(err)
	}
	mustID(t, a, "x", IdentityOptions{})
	if _, err := a.e.NewIdentity(ctx, "x", IdentityOptions{}); !errors.Is(err, ErrIdentityExists) {
		t.Fatal(err)
	}
	if _, err := a.e.AddContact(ctx, "x", "y", "sotto1:abc"); !errors.Is(err, ErrBadCode) {
		t.Fatal(err)
	}
	code, _ := a.e.Card("x")
	if _, err := a.e.AddContact(ctx, "x", "me", code); !errors.Is(err, ErrSelf) {
		t.Fatal(err)
	}
	if _, err := a.e.Send(ctx, "x", "nobody", "hi"); !errors.Is(err, ErrUnknownContact) {
		t.Fatal(err)
	}
	if err := a.e.SetTimer(ctx, "x", "nobody", time.Second); !errors.Is(err, ErrBadTimer) {
		t.Fatal(err)
	}
	//lint:ignore SA1012 the test checks that nil is refused
	if _, err := a.e.Send(nil, "x", "y", "z"); !errors.Is(err, ErrNilContext) { //nolint
		t.Fatal(err)
	}
}
