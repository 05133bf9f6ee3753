package sotto

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// waitQueued polls until the gate holds n waiters in class.
func waitQueued(t *testing.T, g *dialGate, class, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		got := len(g.waiting[class])
		g.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters in class %d, want %d", got, class, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// The gate admits n at once; a freed slot goes to urgent waiters first, then
// to routine ones in arrival order; a waiter whose context ends leaves the
// queue and takes no slot; a promoted waiter moves to the urgent queue.
func TestDialGateOrder(t *testing.T) {
	g := newDialGate(2)
	ctx := context.Background()
	if !g.acquire(ctx, false, nil) || !g.acquire(ctx, false, nil) {
		t.Fatal("free slots refused")
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	wait := func(name string, c context.Context, urgent bool, promote chan struct{}) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if g.acquire(c, urgent, promote) {
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
			}
		}()
	}
	wait("r1", ctx, false, nil)
	waitQueued(t, g, 1, 1)
	gone, cancel := context.WithCancel(ctx)
	wait("gone", gone, false, nil)
	waitQueued(t, g, 1, 2)
	promote := make(chan struct{})
	wait("r3-promoted", ctx, false, promote)
	waitQueued(t, g, 1, 3)
	wait("u1", ctx, true, nil)
	waitQueued(t, g, 0, 1)
	cancel()
	waitQueued(t, g, 1, 2)
	promote <- struct{}{}
	waitQueued(t, g, 0, 2)
	for i := range 3 {
		g.release()
		// Let the winner record itself before the next release.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			got := len(order)
			mu.Unlock()
			if got == i+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("release %d: %d acquired", i+1, got)
			}
		}
	}
	wg.Wait()
	want := []string{"u1", "r3-promoted", "r1"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	// Two slots still held (the first two); one more release frees one.
	g.release()
	g.release()
	g.mu.Lock()
	free := g.free
	g.mu.Unlock()
	if free != 2 {
		t.Fatalf("%d free slots after every release, want 2", free)
	}
}

func TestOfflineBackoff(t *testing.T) {
	tm := defaultTiming
	for _, c := range []struct {
		misses int
		want   time.Duration
	}{{3, 5 * time.Minute}, {4, 10 * time.Minute}, {6, 40 * time.Minute}, {7, time.Hour}, {50, time.Hour}} {
		if got := tm.offlineBackoff(c.misses); got != c.want {
			t.Errorf("offlineBackoff(%d) = %v, want %v", c.misses, got, c.want)
		}
	}
	if got := fastTiming.offlineBackoff(9); got != fastTiming.BackoffMax {
		t.Errorf("without an offline schedule: %v, want BackoffMax", got)
	}
	if offlineAfter(2, true) || !offlineAfter(3, true) || offlineAfter(5, false) || !offlineAfter(6, false) {
		t.Error("offlineAfter thresholds")
	}
}

// Many offline contacts (issue 16 goal 4): at most maxDialsAtOnce dials at
// once, each contact dialled offlineAfterNoDesc times and then left alone
// for OfflineMin, a queued message still dials at once, and a contact that
// comes online connects by dialling us, long before our next dial.
func TestManyOfflineContactsDialLittle(t *testing.T) {
	n := newMemNet()
	tm := fastTiming
	tm.OfflineMin, tm.OfflineMax = time.Minute, time.Hour
	a := startPeerWith(t, n, nil, nil, tm)
	mustID(t, a, "a", IdentityOptions{})
	a.waitOnline("a")

	var mu sync.Mutex
	dials := map[string]int{}
	busy, peak := 0, 0
	a.tor.mu.Lock()
	a.tor.dialed = func(to string) func() {
		mu.Lock()
		dials[to]++
		busy++
		peak = max(peak, busy)
		mu.Unlock()
		time.Sleep(5 * time.Millisecond) // tor takes a moment to answer
		return func() {
			mu.Lock()
			busy--
			mu.Unlock()
		}
	}
	a.tor.mu.Unlock()

	// A contact that will come online later, then 40 that never do.
	bdisk := newMemStore()
	b := startPeerWith(t, n, bdisk, nil, tm)
	mustID(t, b, "b", IdentityOptions{})
	b.waitOnline("b")
	befriend(t, a, "a", "a", b, "b", "b")
	if _, err := b.e.Send(context.Background(), "b", "a", "hi"); err != nil {
		t.Fatal(err)
	}
	a.waitText("hi")
	b.close()
	const off = 40
	for k := range off {
		code, _ := randomCode(t)
		if _, err := a.e.AddContact(context.Background(), "a", fmt.Sprintf("off%d", k), code); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := a.e.Contacts("a")
	if err != nil {
		t.Fatal(err)
	}
	onionOf := map[string]string{}
	for _, c := range cs {
		onionOf[c.Name] = c.Onion
	}
	// b went offline through a session that ended (dials that reached its
	// closing service count as other failures): only the 40 are checked.
	cs = slices.DeleteFunc(cs, func(c ContactInfo) bool { return c.Name == "b" })
	// Every contact is dialled until it counts as offline.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		done := 0
		for _, c := range cs {
			if dials[c.Onion] >= offlineAfterNoDesc {
				done++
			}
		}
		mu.Unlock()
		if done == len(cs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d contacts dialled %d times", done, len(cs), offlineAfterNoDesc)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Then nothing for a while (their next dial is 45 s away at least).
	time.Sleep(time.Second)
	mu.Lock()
	for _, c := range cs {
		if d := dials[c.Onion]; d > offlineAfterNoDesc {
			t.Errorf("%s dialled %d times, want %d before the offline wait", c.Name, d, offlineAfterNoDesc)
		}
	}
	if peak > maxDialsAtOnce || peak < 2 {
		t.Errorf("at most %d dials at once, want 2..%d", peak, maxDialsAtOnce)
	}
	before := dials[onionOf["off7"]]
	mu.Unlock()

	// A message to an offline contact dials it again at once.
	if _, err := a.e.Send(context.Background(), "a", "off7", "are you there"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		now := dials[onionOf["off7"]]
		mu.Unlock()
		if now > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a queued message did not dial its offline contact")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// b comes back: it dials a, and a's message goes through at once, while
	// a's own next dial of b is a minute away.
	if _, err := a.e.Send(context.Background(), "a", "b", "welcome back"); err != nil {
		t.Fatal(err)
	}
	b = startPeerWith(t, n, bdisk, nil, tm)
	b.wait("welcome back within 20 s", func(ev Event) bool {
		m, ok := ev.(MessageEvent)
		return ok && m.Message.Text == "welcome back"
	})
}
