package sotto

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/onion/testnet"
)

// The tests in this file run real engines, each with its own launched tor,
// over the private Tor network that TestMain starts.

var tn *testnet.Network

func TestMain(m *testing.M) {
	os.Exit(testnet.Main(m, func(n *testnet.Network) { tn = n }))
}

// torTiming keeps the real protocol shape with limits a test can wait for.
var torTiming = timing{
	Keepalive:  20 * time.Second,
	Idle:       60 * time.Second,
	Handshake:  60 * time.Second,
	Frame:      5 * time.Second,
	BackoffMin: time.Second,
	BackoffMax: 8 * time.Second,
}

// torProfile is a profile directory with a short path (unix sockets).
func torProfile(t testing.TB) (dir, netFile string) {
	t.Helper()
	d, err := os.MkdirTemp("", "st")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	netFile = filepath.Join(d, "network.torrc")
	if err := os.WriteFile(netFile, []byte(tn.ClientTorrc()), 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(d, "p"), netFile
}

func torOptions(dir, netFile string, now func() time.Time) Options {
	name := filepath.Base(filepath.Dir(dir))
	return Options{ProfileDir: dir, Network: netFile, unsafeVaultWork: 10, timing: torTiming, Now: now,
		logf: func(f string, args ...any) {
			if testing.Verbose() {
				fmt.Fprintf(os.Stderr, "%s %s: %s\n", time.Now().Format("15:04:05.000"), name, fmt.Sprintf(f, args...))
			}
		}}
}

// openTorPeer opens (creating if needed) a profile with its own tor.
func openTorPeer(t testing.TB, o Options) *testPeer {
	t.Helper()
	ctx := context.Background()
	if _, err := os.Stat(filepath.Join(o.ProfileDir, vaultSubdir)); err != nil {
		if err := Init(ctx, o, pass("pw")); err != nil {
			t.Fatal(err)
		}
	}
	e, err := Open(ctx, o, pass("pw"))
	if err != nil {
		t.Fatal(err)
	}
	return watchEvents(&testPeer{t: t, e: e}, 100000)
}

func (p *testPeer) waitOnline(name string) {
	p.t.Helper()
	p.waitFor(90*time.Second, "identity "+name+" online", func(ev Event) bool {
		ie, ok := ev.(IdentityEvent)
		return ok && ie.Identity == name && ie.Online
	})
}

func (p *testPeer) waitFor(d time.Duration, what string, match func(Event) bool) Event {
	p.t.Helper()
	timeout := time.After(d)
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
			p.t.Fatalf("timed out after %v waiting for %s", d, what)
			return nil
		}
	}
}

func (p *testPeer) waitText(text string) Message {
	p.t.Helper()
	ev := p.waitFor(120*time.Second, "message "+text, func(ev Event) bool {
		m, ok := ev.(MessageEvent)
		return ok && m.Message.Text == text
	})
	return ev.(MessageEvent).Message
}

// noEvent checks that nothing matching arrives for d.
func (p *testPeer) noEvent(d time.Duration, what string, match func(Event) bool) {
	p.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev := <-p.evs:
			if match(ev) {
				p.t.Fatalf("unexpected %s: %#v", what, ev)
			}
		case <-timeout:
			return
		}
	}
}

func torChat(t *testing.T, a *testPeer, aid, ac string, b *testPeer, bid, bc, text string) {
	t.Helper()
	ctx := context.Background()
	if _, err := a.e.Send(ctx, aid, ac, text); err != nil {
		t.Fatal(err)
	}
	m := b.waitText(text)
	if m.Contact != bc || m.Identity != bid {
		t.Fatalf("%q arrived as %s/%s", text, m.Identity, m.Contact)
	}
}

func TestTorEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("over the private Tor network")
	}
	ctx := context.Background()
	clock := &testClock{t: time.Now()}
	ad, an := torProfile(t)
	bd, bn := torProfile(t)
	cd, cn := torProfile(t)
	a := openTorPeer(t, torOptions(ad, an, clock.now))
	b := openTorPeer(t, torOptions(bd, bn, clock.now))
	c := openTorPeer(t, torOptions(cd, cn, clock.now))
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	tips := mustID(t, b, "tips", IdentityOptions{Open: true})
	mustID(t, c, "carol", IdentityOptions{})
	mustID(t, c, "eve", IdentityOptions{Ephemeral: true})
	a.waitOnline("alice")
	b.waitOnline("bob")
	c.waitOnline("carol")
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	befriend(t, a, "alice", "alice", c, "carol", "carol")
	befriend(t, b, "bob", "bob", c, "carol", "carol")

	top := t
	use := func(t *testing.T) {
		a.t, b.t, c.t = t, t, t
	}
	t.Run("every direction", func(t *testing.T) {
		use(t)
		start := time.Now()
		torChat(t, a, "alice", "bob", b, "bob", "alice", "a->b")
		torChat(t, b, "bob", "alice", a, "alice", "bob", "b->a")
		torChat(t, a, "alice", "carol", c, "carol", "alice", "a->c")
		torChat(t, c, "carol", "alice", a, "alice", "carol", "c->a")
		torChat(t, b, "bob", "carol", c, "carol", "bob", "b->c")
		torChat(t, c, "carol", "bob", b, "bob", "carol", "c->b")
		t.Logf("six directions in %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("restart with queued messages", func(t *testing.T) {
		use(t)
		b.close()
		var ids []MessageID
		for i := range 20 {
			id, err := a.e.Send(ctx, "alice", "bob", fmt.Sprintf("while away %02d", i))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		start := time.Now()
		b = openTorPeer(top, torOptions(bd, bn, clock.now)) // closed at the end of the whole test
		use(t)
		for i := range 20 {
			m := b.waitText(fmt.Sprintf("while away %02d", i))
			if m.ID != ids[i] {
				t.Fatalf("message %d has the wrong id", i)
			}
		}
		want := map[MessageID]bool{}
		for _, id := range ids {
			want[id] = true
		}
		for len(want) > 0 {
			ev := a.waitFor(60*time.Second, "delivered", func(ev Event) bool { _, ok := ev.(DeliveredEvent); return ok })
			delete(want, ev.(DeliveredEvent).ID)
		}
		t.Logf("20 queued messages delivered %v after bob's restart", time.Since(start).Round(time.Millisecond))
		msgs, _ := b.e.Messages("bob", "alice")
		n := 0
		for _, m := range msgs {
			if strings.HasPrefix(m.Text, "while away") {
				if m.Text != fmt.Sprintf("while away %02d", n) {
					t.Fatalf("order: position %d holds %q", n, m.Text)
				}
				n++
			}
		}
		if n != 20 {
			t.Fatalf("bob holds %d of the 20 (each once)", n)
		}
	})

	t.Run("timer expires on both sides", func(t *testing.T) {
		use(t)
		if err := a.e.SetTimer(ctx, "alice", "bob", 30*time.Second); err != nil {
			t.Fatal(err)
		}
		b.waitFor(60*time.Second, "timer change", func(ev Event) bool {
			m, ok := ev.(MessageEvent)
			return ok && m.Message.Kind == TimerMessage && m.Message.Timer == 30*time.Second
		})
		id, _ := a.e.Send(ctx, "alice", "bob", "this disappears")
		b.waitText("this disappears")
		a.waitFor(60*time.Second, "delivered", func(ev Event) bool { d, ok := ev.(DeliveredEvent); return ok && d.ID == id })
		// bob's clock starts when the text is on his screen (§2.9).
		if started, err := b.e.MarkShown("bob", "alice", id); err != nil || len(started) != 1 {
			t.Fatalf("MarkShown: %d started, %v", len(started), err)
		}
		clock.add(31 * time.Second)
		for _, p := range []*testPeer{a, b} {
			p.waitFor(10*time.Second, "expired", func(ev Event) bool { x, ok := ev.(ExpiredEvent); return ok && x.ID == id })
			if strings.Contains(vaultDump(t, p.e), "this disappears") {
				t.Fatal("expired text still in the vault")
			}
		}
		a.e.SetTimer(ctx, "alice", "bob", 0)
	})

	t.Run("stranger cannot reach a restricted identity", func(t *testing.T) {
		use(t)
		// tips knows eve's code; eve (restricted) never added tips. (Not
		// eve dialing bob: carol, in eve's profile, has bob, and a profile
		// cannot have one contact in two identities.)
		code, _ := c.e.Card("eve")
		if _, err := b.e.AddContact(ctx, "tips", "eve", code); err != nil {
			t.Fatal(err)
		}
		defer b.e.RemoveContact(ctx, "tips", "eve")
		b.e.Send(ctx, "tips", "eve", "from a stranger")
		c.noEvent(20*time.Second, "stranger's message or request", func(ev Event) bool {
			switch ev := ev.(type) {
			case MessageEvent:
				return ev.Message.Text == "from a stranger"
			case RequestEvent:
				return true
			}
			return false
		})
		cs, _ := b.e.Contacts("tips")
		if cs[0].Online {
			t.Fatal("the stranger got a connection")
		}
	})

	t.Run("open mode holds a request until accepted", func(t *testing.T) {
		use(t)
		code, _ := b.e.Card("tips")
		if _, err := c.e.AddContact(ctx, "eve", "tips", code); err != nil {
			t.Fatal(err)
		}
		c.e.Send(ctx, "eve", "tips", "a tip")
		c.e.Send(ctx, "eve", "tips", "more detail")
		ev := b.waitFor(120*time.Second, "request", func(ev Event) bool { _, ok := ev.(RequestEvent); return ok })
		req := ev.(RequestEvent).Request
		if req.Identity != "tips" || req.Text != "a tip" {
			t.Fatalf("request %+v", req)
		}
		b.noEvent(10*time.Second, "message before approval", func(ev Event) bool {
			m, ok := ev.(MessageEvent)
			return ok && m.Message.Identity == "tips"
		})
		if err := b.e.AcceptRequest(ctx, "tips", req.ID, "source"); err != nil {
			t.Fatal(err)
		}
		b.waitText("more detail")
		torChat(t, b, "tips", "source", c, "eve", "tips", "thanks")
		_ = tips
	})

	t.Run("malicious peer is dropped", func(t *testing.T) {
		use(t)
		raw := launchRawTor(t)
		cases := []struct {
			name    string
			payload []byte
		}{
			{"garbage", []byte("GET / HTTP/1.1\r\n\r\n")},
			{"oversized length prefix", append([]byte("sotto\x00\x00\x01"), 0x7f, 0xff, 0xff, 0xff)},
			{"stall mid-frame", append([]byte("sotto\x00\x00\x01"), 0, 0, 1, 0, 1, 0, 0)},
		}
		for _, tc := range cases {
			dctx, cancel := context.WithTimeout(ctx, 90*time.Second)
			conn, err := raw.Dial(dctx, "mallory", tips.Onion)
			cancel()
			if err != nil {
				t.Fatalf("%s: dial: %v", tc.name, err)
			}
			start := time.Now()
			conn.Write(tc.payload)
			conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			buf := make([]byte, 4096)
			for {
				if _, err := conn.Read(buf); err != nil {
					if time.Since(start) > 25*time.Second {
						t.Fatalf("%s: not dropped (%v)", tc.name, err)
					}
					break
				}
			}
			conn.Close()
			t.Logf("%s: dropped after %v", tc.name, time.Since(start).Round(time.Millisecond))
		}
		torChat(t, a, "alice", "bob", b, "bob", "alice", "still talking")
		torChat(t, b, "bob", "alice", a, "alice", "bob", "still talking back")
	})
}

// launchRawTor starts a bare tor client on the test network.
func launchRawTor(t testing.TB) *onion.Tor {
	t.Helper()
	d, err := os.MkdirTemp("", "sr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	tor, err := onion.Start(ctx, onion.Config{DataDir: filepath.Join(d, "tor"), Network: tn.ClientTorrc()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tor.Close() })
	if err := tor.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return tor
}
