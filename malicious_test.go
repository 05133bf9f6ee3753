package sotto

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sottochat/sotto/internal/wire"
)

// chat checks that a working conversation still works both ways.
func chat(t *testing.T, a *testPeer, aid, acontact string, b *testPeer, bid, bcontact, text string) {
	t.Helper()
	ctx := context.Background()
	if _, err := a.e.Send(ctx, aid, acontact, text+" ->"); err != nil {
		t.Fatal(err)
	}
	b.waitMessage(text + " ->")
	if _, err := b.e.Send(ctx, bid, bcontact, text+" <-"); err != nil {
		t.Fatal(err)
	}
	a.waitMessage(text + " <-")
}

// expectDropped writes payload to a fresh connection to the service and
// checks that the engine closes it within the protocol's limits.
func expectDropped(t *testing.T, n *memNet, onion string, name string, payload []byte, stall bool) {
	t.Helper()
	conn, err := n.dialRaw(onion)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Drain whatever the engine sends so its writes never block.
	drained := make(chan struct{})
	go func() { io.Copy(io.Discard, conn); close(drained) }()
	start := time.Now()
	if _, err := conn.Write(payload); err != nil && !stall {
		// The engine may have closed the stream already: that is a drop.
		t.Logf("%s: write: %v", name, err)
	}
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: connection not dropped", name)
	}
	t.Logf("%s: dropped after %v", name, time.Since(start).Round(time.Millisecond))
}

func TestMaliciousPeerIsDropped(t *testing.T) {
	n := newMemNet()
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	tip := mustID(t, b, "tips", IdentityOptions{Open: true})
	bob := mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	chat(t, a, "alice", "bob", b, "bob", "alice", "before")

	good, _ := wire.AppendFrame(wire.Preamble(), wire.FrameHandshake, []byte("not a real handshake"))
	huge := append(wire.Preamble(), 0x7f, 0xff, 0xff, 0xff)
	stall, _ := wire.AppendFrame(wire.Preamble(), wire.FrameHandshake, bytes.Repeat([]byte{1}, 100))
	stall = stall[:8+4+50] // the frame stops half-way
	cases := []struct {
		name    string
		payload []byte
		stall   bool
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false},
		{"wrong version", append([]byte("sotto\x00\x00\x09"), 0, 0, 1, 0), false},
		{"oversized length prefix", huge, false},
		{"bad handshake", good, false},
		{"stall mid-frame", stall, true},
	}
	for _, tc := range cases {
		for _, onion := range []string{tip.Onion, bob.Onion} {
			expectDropped(t, n, onion, tc.name, tc.payload, tc.stall)
		}
	}
	chat(t, a, "alice", "bob", b, "bob", "alice", "after")
	if rs, _ := b.e.Requests("tips"); len(rs) != 0 {
		t.Fatal("garbage became a request")
	}
}

// Recorded sessions replayed byte for byte do not get through: the
// responder's fresh handshake values make the recorded message 3 fail.
func TestReplayedSessionIsDropped(t *testing.T) {
	n := newMemNet()
	type rec struct {
		to string
		b  []byte
	}
	var mu sync.Mutex
	recs := map[net.Conn]*rec{}
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	n.mu.Lock()
	n.tap = func(to string, c net.Conn, p []byte) {
		mu.Lock()
		defer mu.Unlock()
		r := recs[c]
		if r == nil {
			r = &rec{to: to}
			recs[c] = r
		}
		if len(r.b) < 64<<10 {
			r.b = append(r.b, p...)
		}
	}
	n.mu.Unlock()
	// Drop the current session so that the next messages go over a new,
	// recorded one.
	a.e.mu.Lock()
	if s := a.e.ids["alice"].contacts["bob"].sess; s != nil {
		s.close()
	}
	a.e.mu.Unlock()
	chat(t, a, "alice", "bob", b, "bob", "alice", "recorded")
	n.mu.Lock()
	n.tap = nil
	n.mu.Unlock()
	mu.Lock()
	var replays []*rec
	for _, r := range recs {
		if len(r.b) > 200 {
			replays = append(replays, &rec{to: r.to, b: append([]byte(nil), r.b...)})
		}
	}
	mu.Unlock()
	if len(replays) == 0 {
		t.Fatal("no session was recorded")
	}
	before := map[*testPeer]int{}
	for _, p := range []*testPeer{a, b} {
		ms, _ := p.e.Messages(map[*testPeer]string{a: "alice", b: "bob"}[p], map[*testPeer]string{a: "bob", b: "alice"}[p])
		before[p] = len(ms)
	}
	for _, r := range replays {
		conn, err := n.dialRaw(r.to)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan struct{})
		go func() { io.Copy(io.Discard, conn); close(got) }()
		conn.Write(r.b)
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("replay not dropped")
		}
		conn.Close()
	}
	for _, p := range []*testPeer{a, b} {
		ms, _ := p.e.Messages(map[*testPeer]string{a: "alice", b: "bob"}[p], map[*testPeer]string{a: "bob", b: "alice"}[p])
		if len(ms) != before[p] {
			t.Fatal("a replay added messages")
		}
	}
	t.Logf("%d recorded sessions replayed and dropped", len(replays))
	chat(t, a, "alice", "bob", b, "bob", "alice", "still fine")
}

// A flood of streams that never finish their handshake holds at most
// maxInboundHandshakes of them; the rest are closed at once.
func TestInboundHandshakesBounded(t *testing.T) {
	n := newMemNet()
	b := startPeer(t, n, nil)
	tip := mustID(t, b, "tips", IdentityOptions{Open: true})
	b.wait("online", func(ev Event) bool { ie, ok := ev.(IdentityEvent); return ok && ie.Online })
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	closedFast := 0
	for range maxInboundHandshakes + 4 {
		c, err := n.dialRaw(tip.Onion)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// All within the handshake timeout (2 s here), so none has expired yet.
	deadline := time.Now().Add(300 * time.Millisecond)
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		if _, err := c.Read(make([]byte, 1)); err == io.EOF || errors.Is(err, io.ErrClosedPipe) {
			closedFast++
		}
	}
	if closedFast != 4 {
		t.Fatalf("%d of the flood closed at once, want 4", closedFast)
	}
}
