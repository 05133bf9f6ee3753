package sotto

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sottochat/sotto/onion"
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

// fixedFrac is a rand source for dialSchedule that always draws f.
func fixedFrac(f float64) func() float64 { return func() float64 { return f } }

// The waits after each failed dial stay within their bounds: the ordinary
// backoff (jittered by a quarter) and the quick descriptor retries until a
// contact is offline; then [d/2, d) with d = OfflineMin doubling per
// further failure, up to OfflineMax while tor finds no descriptor and
// UnreachableMax while it finds one; any other failure ends the offline
// state.
func TestDialScheduleBounds(t *testing.T) {
	tm := defaultTiming
	unreachable := fmt.Errorf("%w: introduction failed", onion.ErrUnreachable)
	handshake := errors.New("handshake failed")
	type step struct {
		err     error
		lo, hi  time.Duration // the wait, drawn from [lo, hi]
		offline bool          // the contact is offline after this dial
		now     bool          // ... and this dial made it so
	}
	const q = time.Second / 4
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"no descriptor", []step{
			{errNoDescriptor, 3 * q, 5 * q, false, false}, // 1 s: it may be publishing now
			{errNoDescriptor, 6 * q, 10 * q, false, false},
			{errNoDescriptor, 15 * time.Minute, 30 * time.Minute, true, true},
			{errNoDescriptor, 30 * time.Minute, time.Hour, true, false},
			{errNoDescriptor, time.Hour, 2 * time.Hour, true, false},
			{errNoDescriptor, 2 * time.Hour, 4 * time.Hour, true, false},
			{errNoDescriptor, 2 * time.Hour, 4 * time.Hour, true, false},
			// A descriptor again, but no answer: at most UnreachableMax.
			{unreachable, 30 * time.Minute, time.Hour, true, false},
			// Something else (the contact answered): not offline, on the
			// ordinary backoff (doubled by every failure, up to BackoffMax).
			{handshake, 3 * tm.BackoffMax / 4, 5 * tm.BackoffMax / 4, false, false},
		}},
		{"unreachable", []step{
			{unreachable, 3 * tm.BackoffMin / 4, 5 * tm.BackoffMin / 4, false, false},
			{unreachable, 6 * tm.BackoffMin / 4, 10 * tm.BackoffMin / 4, false, false},
			{unreachable, 12 * tm.BackoffMin / 4, 20 * tm.BackoffMin / 4, false, false},
			{unreachable, 24 * tm.BackoffMin / 4, 40 * tm.BackoffMin / 4, false, false},
			{unreachable, 48 * tm.BackoffMin / 4, 80 * tm.BackoffMin / 4, false, false},
			{unreachable, 15 * time.Minute, 30 * time.Minute, true, true},
			{unreachable, 30 * time.Minute, time.Hour, true, false},
			{unreachable, 30 * time.Minute, time.Hour, true, false},
			// Its descriptor expired: the longer schedule, where it was.
			{errNoDescriptor, 30 * time.Minute, time.Hour, true, false},
			{errNoDescriptor, 30 * time.Minute, time.Hour, true, false},
			{errNoDescriptor, 2 * time.Hour, 4 * time.Hour, true, false},
		}},
	} {
		// Each schedule at both ends of the jitter and in between.
		for _, f := range []float64{0, 0.5, 1 - 1e-12} {
			s := newDialSchedule(tm, fixedFrac(f))
			for i, st := range c.steps {
				wait, now := s.failed(st.err)
				if wait < st.lo || wait > st.hi || now != st.now || s.offline() != st.offline {
					t.Errorf("%s, frac %v, dial %d: wait %v (want %v..%v), offline %v (want %v), made offline %v (want %v)",
						c.name, f, i+1, wait, st.lo, st.hi, s.offline(), st.offline, now, st.now)
				}
			}
		}
	}
	// The offline waits reach both ends of [d/2, d).
	for f, want := range map[float64]time.Duration{0: 15 * time.Minute, 1 - 1e-12: 30 * time.Minute} {
		s := newDialSchedule(tm, fixedFrac(f))
		for range offlineAfterNoDesc - 1 {
			s.failed(errNoDescriptor)
		}
		if wait, _ := s.failed(errNoDescriptor); wait.Round(time.Second) != want {
			t.Errorf("frac %v: first offline wait %v, want %v", f, wait, want)
		}
	}
	// Timings without an offline schedule (tests) keep BackoffMax.
	s := newDialSchedule(fastTiming, fixedFrac(0.5))
	for range offlineAfterNoDesc - 1 {
		s.failed(errNoDescriptor)
	}
	if wait, now := s.failed(errNoDescriptor); !now || wait != fastTiming.BackoffMax {
		t.Errorf("without an offline schedule: %v (offline %v), want BackoffMax", wait, now)
	}
}

// Contacts found offline at the same instant (the start-up round finds them
// all offline within a minute or two) are not dialled again together: on a
// fake clock, 190 of them, each failing every dial for want of a
// descriptor, for a day. Their re-dials spread over the jitter's range
// instead of coming as rounds: the busiest 30 s (one line of
// BenchmarkTorIdleContacts) hold at most 16 of them, where a round at the
// old schedule held the whole 190 within about 2.5 minutes (40 a line); and
// every contact is re-dialled at most 12 times a day.
func TestOfflineRedialsSpread(t *testing.T) {
	const (
		n    = 190
		day  = 24 * time.Hour
		line = 30 * time.Second
	)
	src := rand.New(rand.NewChaCha8([32]byte{'i', 'd', 'l', 'e'}))
	var redials []time.Duration // instants since all were found offline
	perContact := make([]int, n)
	for k := range n {
		s := newDialSchedule(defaultTiming, src.Float64)
		var at time.Duration // the fake clock
		offline := false
		for at < day {
			wait, now := s.failed(errNoDescriptor)
			if offline {
				redials = append(redials, at)
				perContact[k]++
			}
			if now {
				// Everyone went offline together: count from here.
				at, offline = 0, true
			}
			at += wait
		}
	}
	slices.Sort(redials)
	busiest, from := 0, 0
	for i, r := range redials {
		for redials[from] <= r-line {
			from++
		}
		busiest = max(busiest, i-from+1)
	}
	first := redials[0]
	t.Logf("%d re-dials in a day; the first at %v; busiest 30 s: %d; most re-dials of one contact: %d",
		len(redials), first.Round(time.Second), busiest, slices.Max(perContact))
	if busiest > 16 {
		t.Errorf("%d re-dials within 30 s, want at most 16", busiest)
	}
	if first < defaultTiming.OfflineMin/2 {
		t.Errorf("first re-dial %v after going offline, want at least %v", first, defaultTiming.OfflineMin/2)
	}
	if m := slices.Max(perContact); m > 12 {
		t.Errorf("a contact re-dialled %d times in a day, want at most 12", m)
	}
}

// A wake (a message queued, a session ended, we are reachable again) dials
// at once, except that two dials of an offline contact stay BackoffMin apart.
func TestDialScheduleWake(t *testing.T) {
	s := newDialSchedule(defaultTiming, fixedFrac(0.5))
	if d := s.wakeDelay(0); d != 0 {
		t.Errorf("not offline, woken just after a dial: waits %v, want 0", d)
	}
	for range offlineAfterNoDesc {
		s.failed(errNoDescriptor)
	}
	for since, want := range map[time.Duration]time.Duration{
		0:                        defaultTiming.BackoffMin,
		2 * time.Second:          defaultTiming.BackoffMin - 2*time.Second,
		defaultTiming.BackoffMin: 0,
		time.Hour:                0,
	} {
		if d := s.wakeDelay(since); d != want {
			t.Errorf("offline, woken %v after a dial: waits %v, want %v", since, d, want)
		}
	}
	s.reset()
	if s.offline() || s.wakeDelay(0) != 0 {
		t.Error("a session did not end the offline state")
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
	cs := addOfflineContacts(t, a, off)
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
	// Then nothing for a while (their next dial is 30 s away at least).
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

// When tor works again after a time it did not (circuits again, or ready
// again after a restart: onion's NetworkUp and Ready, wired through
// torState as Open wires them), every contact is dialled again at once,
// offline ones included: one that came online meanwhile could not reach
// us, and would dial us again only on its own safety-net schedule. The
// second sign of the same return, within WakeAllGap, dials nobody again.
func TestReachableAgainDialsEveryContact(t *testing.T) {
	n := newMemNet()
	tm := fastTiming
	tm.OfflineMin, tm.OfflineMax = time.Hour, time.Hour // no re-dial of their own in this test
	tm.WakeAllGap = 2 * time.Second
	a := startPeerWith(t, n, nil, nil, tm)
	mustID(t, a, "a", IdentityOptions{})
	a.waitOnline("a")
	var mu sync.Mutex
	dials := map[string]int{}
	a.tor.mu.Lock()
	a.tor.dialed = func(to string) func() {
		mu.Lock()
		dials[to]++
		mu.Unlock()
		return nil
	}
	a.tor.mu.Unlock()
	const off = 5
	cs := addOfflineContacts(t, a, off)
	// each waits until every contact was dialled n times, and says how long.
	each := func(n int) time.Duration {
		t.Helper()
		start := time.Now()
		for deadline := start.Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			done := 0
			for _, c := range cs {
				if dials[c.Onion] >= n {
					done++
				}
			}
			mu.Unlock()
			if done == len(cs) {
				return time.Since(start)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d contacts dialled %d times", done, len(cs), n)
			}
		}
	}
	exactly := func(n int) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cs {
			if dials[c.Onion] != n {
				t.Errorf("%s dialled %d times, want %d", c.Name, dials[c.Onion], n)
			}
		}
	}
	each(offlineAfterNoDesc) // all offline now, next dial an hour away
	// The identity's start dialled them all: a sign within WakeAllGap of it
	// would dial nobody again.
	time.Sleep(tm.WakeAllGap)
	exactly(offlineAfterNoDesc)

	var ts torState
	ts.attach(a.e)
	ts.onEvent(onion.Event{Kind: onion.NetworkUp})
	t.Logf("circuits again: every contact dialled within %v", each(offlineAfterNoDesc+1).Round(time.Millisecond))
	ts.onEvent(onion.Event{Kind: onion.Ready, Progress: 100}) // the same return
	time.Sleep(500 * time.Millisecond)
	exactly(offlineAfterNoDesc + 1)

	time.Sleep(tm.WakeAllGap)
	ts.onEvent(onion.Event{Kind: onion.Ready, Progress: 100}) // tor restarted later
	t.Logf("ready again: every contact dialled within %v", each(offlineAfterNoDesc+2).Round(time.Millisecond))
	time.Sleep(200 * time.Millisecond)
	exactly(offlineAfterNoDesc + 2)
}

// addOfflineContacts adds n contacts off0..off(n-1) to identity "a" of p,
// at onion addresses nobody publishes, and returns all of a's contacts.
func addOfflineContacts(t *testing.T, p *testPeer, n int) []ContactInfo {
	t.Helper()
	for k := range n {
		code, _ := randomCode(t)
		if _, err := p.e.AddContact(context.Background(), "a", fmt.Sprintf("off%d", k), code); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := p.e.Contacts("a")
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
