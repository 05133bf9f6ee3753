package sotto

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestStalledDialDoesNotRefuseInbound: when both sides dial each other, the
// side with the smaller identity key wins the tie. A dial still waiting for
// tor (the contact's descriptor is stale, tor is trying dead introduction
// points) must not take part in that tie-break: it has not reached the
// contact, and refusing the contact's authenticated connection because of it
// would leave both sides apart for as long as tor keeps failing. Here the
// side that would win the tie-break is stuck dialing for the whole
// handshake timeout; the other side's connection must be accepted at once,
// carrying both sides' messages.
func TestStalledDialDoesNotRefuseInbound(t *testing.T) {
	tm := fastTiming
	tm.Handshake = 30 * time.Second // the stalled dial lasts this long
	n := newMemNet()
	a, b := startPeerWith(t, n, nil, nil, tm), startPeerWith(t, n, nil, nil, tm)
	ai := mustID(t, a, "alice", IdentityOptions{})
	bi := mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	// small wins ties; its dials to big stall.
	small, big, bigOnion, smallName, bigName := a, b, bi.Onion, "alice", "bob"
	a.e.mu.Lock()
	apub := a.e.ids["alice"].pub
	a.e.mu.Unlock()
	b.e.mu.Lock()
	bpub := b.e.ids["bob"].pub
	b.e.mu.Unlock()
	if bytes.Compare(bpub, apub) < 0 {
		small, big, bigOnion, smallName, bigName = b, a, ai.Onion, "bob", "alice"
	}
	small.tor.mu.Lock()
	small.tor.stall = func(to string) bool { return to == bigOnion }
	small.tor.mu.Unlock()

	ctx := context.Background()
	// small starts its (stalling) dial first, then big dials in.
	if _, err := small.e.Send(ctx, smallName, bigName, "from the stalled side"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if _, err := big.e.Send(ctx, bigName, smallName, "from the other side"); err != nil {
		t.Fatal(err)
	}
	small.waitMessage("from the other side")
	big.waitMessage("from the stalled side")
	// Both arrived over big's connection, long before small's dial could
	// have ended by itself.
	if d := time.Since(start); d >= tm.Handshake {
		t.Fatalf("the messages took %v: the contact's connection was refused while our dial stalled", d)
	}
}
