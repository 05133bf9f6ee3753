package sotto

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// A contact that sends more than the conversation may hold unread is refused
// without an acknowledgement past the bound; nothing it sent is lost: the
// rest waits in its outbox and arrives, once and in order, after the
// conversation is marked read.
func TestUnreadBoundRefusesFloodWithoutLoss(t *testing.T) {
	const limit, total = 10, 35
	n := newMemNet()
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	b.e.mu.Lock()
	b.e.maxUnread = limit
	b.e.mu.Unlock()
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	var ids []MessageID
	for i := range total {
		id, err := a.e.Send(ctx, "alice", "bob", fmt.Sprintf("flood %d", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	b.wait("the unread bound report", func(ev Event) bool {
		ee, ok := ev.(ErrorEvent)
		return ok && errors.Is(ee.Err, ErrTooManyUnread)
	})
	received := func() []Message {
		msgs, err := b.e.Messages("bob", "alice")
		if err != nil {
			t.Fatal(err)
		}
		return msgs
	}
	if got := len(received()); got != limit {
		t.Fatalf("bob stored %d messages, the bound is %d", got, limit)
	}
	// alice still holds every message bob did not store.
	a.e.mu.Lock()
	ca := a.e.ids["alice"].contacts["bob"]
	inOutbox := map[MessageID]bool{}
	for _, o := range ca.outbox {
		inOutbox[o.id] = true
	}
	a.e.mu.Unlock()
	for i, id := range ids[limit:] {
		if !inOutbox[id] {
			t.Fatalf("message %d left alice's outbox but bob refused it", limit+i)
		}
	}
	// Reading makes room, batch by batch, until everything has arrived.
	for r := len(received()); r < total; r = len(received()) {
		if err := b.e.MarkRead("bob", "alice"); err != nil {
			t.Fatal(err)
		}
		b.waitMessage(fmt.Sprintf("flood %d", min(r+limit, total)-1))
	}
	msgs := received()
	if len(msgs) != total {
		t.Fatalf("bob has %d messages, want %d", len(msgs), total)
	}
	for i, m := range msgs {
		if m.ID != ids[i] || m.Text != fmt.Sprintf("flood %d", i) {
			t.Fatalf("message %d is %q", i, m.Text)
		}
	}
	delivered := map[MessageID]bool{}
	for len(delivered) < total {
		ev := a.wait("delivered", func(ev Event) bool { _, ok := ev.(DeliveredEvent); return ok })
		delivered[ev.(DeliveredEvent).ID] = true
	}
}
