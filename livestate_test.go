package sotto

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// liveOf returns a copy of what p keeps of its conversation with contact:
// the live state (nil if none), the enclave's state, and the stored one.
func liveOf(t *testing.T, p *testPeer, identity, contact string) (live, sealed, stored []byte) {
	t.Helper()
	p.e.mu.Lock()
	defer p.e.mu.Unlock()
	_, c, err := p.e.contactLocked(identity, contact)
	if err != nil {
		t.Fatal(err)
	}
	if c.live != nil {
		live = append([]byte(nil), c.liveBytes()...)
	}
	if c.ratchet != nil {
		c.ratchet.Open(func(b []byte) error { sealed = append([]byte(nil), b...); return nil })
	}
	stored, _ = c.id.st.Get(kindRatchet, c.key)
	return live, sealed, stored
}

// TestLiveStateDuringSession: while a session is up the ratchet state lives
// in the locked buffer; when it ends the state is stored and sealed back
// into the enclave (the same bytes), the buffer is gone, and the next
// session goes on from it.
func TestLiveStateDuringSession(t *testing.T) {
	n := newMemNet()
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	for _, text := range []string{"one", "two", "three"} {
		id, err := a.e.Send(ctx, "alice", "bob", text)
		if err != nil {
			t.Fatal(err)
		}
		b.waitMessage(text)
		a.waitDelivered(id)
	}
	live, sealed, _ := liveOf(t, a, "alice", "bob")
	if live == nil {
		t.Fatal("no live state during a session")
	}
	if bytes.Equal(live, sealed) {
		t.Fatal("the enclave was resealed on every message")
	}
	bdisk := b.disk
	b.close()
	a.wait("bob offline", func(ev Event) bool { c, ok := ev.(ContactEvent); return ok && !c.Online })
	live, sealed, stored := liveOf(t, a, "alice", "bob")
	if live != nil {
		t.Fatal("live state kept after the session ended")
	}
	if sealed == nil || !bytes.Equal(sealed, stored) {
		t.Fatal("the state sealed back is not the one stored")
	}
	b = startPeer(t, n, bdisk)
	id, err := a.e.Send(ctx, "alice", "bob", "after")
	if err != nil {
		t.Fatal(err)
	}
	b.waitMessage("after")
	a.waitDelivered(id)
	if _, err := b.e.Send(ctx, "bob", "alice", "back"); err != nil {
		t.Fatal(err)
	}
	a.waitMessage("back")
}

// TestLiveStateWithoutLockedMemory: with no locked memory to spare the
// states stay in their enclaves, message by message, and nothing changes
// for the user.
func TestLiveStateWithoutLockedMemory(t *testing.T) {
	n := newMemNet()
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	for _, p := range []*testPeer{a, b} {
		p.e.mu.Lock()
		p.e.cfg.newLocked = func(int) (lockedBuf, error) { return nil, errors.New("out of locked memory") }
		p.e.mu.Unlock()
	}
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	for _, text := range []string{"one", "two"} {
		id, err := a.e.Send(ctx, "alice", "bob", text)
		if err != nil {
			t.Fatal(err)
		}
		b.waitMessage(text)
		a.waitDelivered(id)
		if _, err := b.e.Send(ctx, "bob", "alice", "re "+text); err != nil {
			t.Fatal(err)
		}
		a.waitMessage("re " + text)
	}
	if live, _, _ := liveOf(t, a, "alice", "bob"); live != nil {
		t.Fatal("a live state without locked memory")
	}
}
