package sotto

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Both sides write while their connection is cut again and again: every
// message arrives exactly once, in the order it was written, and every one
// is acknowledged.
func TestDeliveryUnderConnectionChurn(t *testing.T) {
	n := newMemNet()
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	cuts := 0
	wg.Add(1)
	go func() { // the saboteur
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			p := a
			if i%2 == 1 {
				p = b
			}
			p.e.mu.Lock()
			for _, id := range p.e.ids {
				for _, c := range id.contacts {
					if c.sess != nil {
						c.sess.close()
						cuts++
					}
				}
			}
			p.e.mu.Unlock()
		}
	}()
	const count = 60
	want := map[*testPeer]map[MessageID]bool{a: {}, b: {}}
	for i := range count {
		id, err := a.e.Send(ctx, "alice", "bob", fmt.Sprintf("a%03d", i))
		if err != nil {
			t.Fatal(err)
		}
		want[a][id] = true
		id, err = b.e.Send(ctx, "bob", "alice", fmt.Sprintf("b%03d", i))
		if err != nil {
			t.Fatal(err)
		}
		want[b][id] = true
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if cuts < 5 {
		t.Fatalf("only %d connections were cut", cuts)
	}
	t.Logf("%d connections cut", cuts)
	for _, p := range []*testPeer{a, b} {
		for len(want[p]) > 0 {
			ev := p.wait("delivered", func(ev Event) bool { _, ok := ev.(DeliveredEvent); return ok })
			delete(want[p], ev.(DeliveredEvent).ID)
		}
	}
	check := func(p *testPeer, id, c, prefix string) {
		msgs, _ := p.e.Messages(id, c)
		k := 0
		for _, m := range msgs {
			if m.Dir != Incoming {
				continue
			}
			if m.Text != fmt.Sprintf("%s%03d", prefix, k) {
				t.Fatalf("%s: position %d holds %q", id, k, m.Text)
			}
			k++
		}
		if k != count {
			t.Fatalf("%s received %d of %d", id, k, count)
		}
	}
	check(b, "bob", "alice", "a")
	check(a, "alice", "bob", "b")
}
