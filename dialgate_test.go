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
// (No urgent allowance here: TestDialGateUrgentPastRoutine has it.)
func TestDialGateOrder(t *testing.T) {
	g := newDialGate(2, 0, 0)
	ctx := context.Background()
	var mu sync.Mutex
	var held []func() // release of each slot held, in the order granted
	for range 2 {
		rel, ok := g.acquire(ctx, classRoutine, nil, nil)
		if !ok {
			t.Fatal("free slots refused")
		}
		held = append(held, rel)
	}
	var order []string
	var wg sync.WaitGroup
	wait := func(name string, c context.Context, class int, promote chan struct{}) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if rel, ok := g.acquire(c, class, promote, nil); ok {
				mu.Lock()
				order = append(order, name)
				held = append(held, rel)
				mu.Unlock()
			}
		}()
	}
	wait("r1", ctx, classRoutine, nil)
	waitQueued(t, g, classRoutine, 1)
	gone, cancel := context.WithCancel(ctx)
	wait("gone", gone, classRoutine, nil)
	waitQueued(t, g, classRoutine, 2)
	promote := make(chan struct{})
	wait("r3-promoted", ctx, classRoutine, promote)
	waitQueued(t, g, classRoutine, 3)
	wait("u1", ctx, classUrgent, nil)
	waitQueued(t, g, classUrgent, 1)
	cancel()
	waitQueued(t, g, classRoutine, 2)
	promote <- struct{}{}
	waitQueued(t, g, classUrgent, 2)
	for i := range 3 {
		mu.Lock()
		rel := held[i]
		mu.Unlock()
		rel()
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
	// Two slots still held (the last two winners); every release frees one.
	for _, rel := range held {
		rel()
	}
	if h := gateHeld(g); h != [numDialClasses]int{} {
		t.Fatalf("%v slots held after every release, want none", h)
	}
}

// gateHeld returns the slots g holds, by class.
func gateHeld(g *dialGate) [numDialClasses]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}

// acquireSoon acquires from g and fails the test if that takes more than 10
// s: on the old gate, which let urgent dials wait behind routine ones that
// tor never answers, this is where a message waited up to 90 s.
func acquireSoon(t *testing.T, g *dialGate, class int, promote <-chan struct{}) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rel, ok := g.acquire(ctx, class, promote, nil)
	if !ok {
		t.Fatalf("class %d: no slot within 10 s (held %v)", class, gateHeld(g))
	}
	return rel
}

// urgentClass is the class of a dial that is urgent or not.
func urgentClass(urgent bool) int {
	if urgent {
		return classUrgent
	}
	return classRoutine
}

// recvSoon receives from ch, failing the test after 10 s.
func recvSoon[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing received within 10 s")
		var zero T
		return zero
	}
}

// With every shared slot held by routine dials that never return (tor does
// not answer them), an urgent dial still starts at once, and so does a
// routine waiter promoted by its contact's wake: up to maxUrgentExtra of
// them. Beyond that urgent dials wait for each other, never for routine
// ones, and routine waiters for a shared slot, behind urgent ones.
func TestDialGateUrgentPastRoutine(t *testing.T) {
	g := newDialGate(maxDialsAtOnce, maxUrgentExtra, maxDeliverExtra)
	var routine []func()
	for range maxDialsAtOnce {
		routine = append(routine, acquireSoon(t, g, classRoutine, nil))
	}

	// A routine waiter, for want of a shared slot.
	promote := make(chan struct{}, 1)
	promoted := make(chan func(), 1)
	go func() {
		rel, ok := g.acquire(context.Background(), classRoutine, promote, nil)
		if ok {
			promoted <- rel
		}
	}()
	waitQueued(t, g, classRoutine, 1)

	// A session ended: its dial starts at once.
	u1 := acquireSoon(t, g, classUrgent, nil)
	// The waiter's contact is woken: it starts at once too.
	promote <- struct{}{}
	u2 := recvSoon(t, promoted)
	if h := gateHeld(g); h != [numDialClasses]int{0, maxUrgentExtra, maxDialsAtOnce} {
		t.Fatalf("held %v, want %d urgent and %d routine", h, maxUrgentExtra, maxDialsAtOnce)
	}

	// The allowance is used up: a third urgent dial waits, and a routine one
	// behind it.
	got := make(chan string, 2)
	rels := make(chan func(), 2)
	for _, urgent := range []bool{true, false} {
		go func() {
			rel, ok := g.acquire(context.Background(), urgentClass(urgent), nil, nil)
			if ok {
				rels <- rel
				got <- fmt.Sprint("urgent ", urgent)
			}
		}()
		waitQueued(t, g, urgentClass(urgent), 1)
	}
	// A routine dial ends: its slot goes to the urgent waiter.
	routine[0]()
	if w := recvSoon(t, got); w != "urgent true" {
		t.Fatalf("a freed slot went to %s, want the urgent waiter", w)
	}
	// Urgent ones end: no shared slot is free while 4 or more are held, so
	// the routine waiter still waits (the release itself grants, under the
	// gate's lock: no waiting needed to see it).
	u1()
	u2()
	if h := gateHeld(g); h != [numDialClasses]int{0, 1, maxDialsAtOnce - 1} {
		t.Fatalf("held %v, want 1 urgent and %d routine", h, maxDialsAtOnce-1)
	}
	waitQueued(t, g, classRoutine, 1)
	// The last urgent one ends: a shared slot for the routine waiter.
	(<-rels)()
	if w := recvSoon(t, got); w != "urgent false" {
		t.Fatalf("got %s, want the routine waiter", w)
	}
	(<-rels)()
	for _, rel := range routine[1:] {
		rel()
	}
	if h := gateHeld(g); h != [numDialClasses]int{} {
		t.Fatalf("%v slots held after every release, want none", h)
	}
}

// A storm of deliver, urgent, routine and promoted acquires (woken to
// urgent, or to deliver: a message queued meanwhile), some given up while
// they wait or just as they are granted, some released twice: at no time
// are more than maxDialsAtOnce+maxUrgentExtra+maxDeliverExtra slots held,
// nor more than maxDialsAtOnce+maxUrgentExtra by urgent and routine dials,
// nor more than maxDialsAtOnce by routine ones; at the end none is held and
// nobody waits. Run with -race.
func TestDialGateStorm(t *testing.T) {
	const (
		n, extra, deliver = maxDialsAtOnce, maxUrgentExtra, maxDeliverExtra
		workers           = 48
		rounds            = 200
	)
	g := newDialGate(n, extra, deliver)
	var mu sync.Mutex
	// Held by the workers, as they count them: all, those that could not
	// have been granted as deliver (never woken to it), and the routine
	// ones never woken.
	total, notDeliver, routine := 0, 0, 0
	peak, granted, refused := 0, 0, 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := rand.New(rand.NewPCG(uint64(w), 1))
			for range rounds {
				// 0 deliver, 1 urgent, 2 routine, 3 routine then woken,
				// 4 urgent or routine then woken with a message queued
				kind := src.IntN(5)
				ctx, cancel := context.WithCancel(context.Background())
				switch src.IntN(4) {
				case 0:
					cancel() // gone already: granted and given up at once, or refused
				case 1:
					time.AfterFunc(time.Duration(src.IntN(300))*time.Microsecond, cancel)
				}
				class := []int{classDeliver, classUrgent, classRoutine, classRoutine, classUrgent + src.IntN(2)}[kind]
				var wake chan struct{}
				var reclass func() int
				if kind >= 3 {
					wake = make(chan struct{}, 1)
					time.AfterFunc(time.Duration(src.IntN(300))*time.Microsecond, func() { wake <- struct{}{} })
					if kind == 4 {
						reclass = func() int { return classDeliver }
					} else {
						reclass = func() int { return classUrgent }
					}
				}
				rel, ok := g.acquire(ctx, class, wake, reclass)
				if !ok {
					cancel()
					mu.Lock()
					refused++
					mu.Unlock()
					continue
				}
				g.mu.Lock()
				h := g.held
				g.mu.Unlock()
				mu.Lock()
				granted++
				total++
				if kind != 0 && kind != 4 {
					notDeliver++
				}
				if kind == 2 {
					routine++
				}
				peak = max(peak, total)
				if total > n+extra+deliver || notDeliver > n+extra || routine > n ||
					h[0]+h[1]+h[2] > n+extra+deliver || h[1]+h[2] > n+extra || h[2] > n {
					t.Errorf("%d held (%d of them not deliver, %d routine; the gate counts %v), want at most %d (%d, %d)",
						total, notDeliver, routine, h, n+extra+deliver, n+extra, n)
				}
				mu.Unlock()
				time.Sleep(time.Duration(src.IntN(200)) * time.Microsecond)
				mu.Lock()
				total--
				if kind != 0 && kind != 4 {
					notDeliver--
				}
				if kind == 2 {
					routine--
				}
				mu.Unlock()
				rel()
				if src.IntN(4) == 0 {
					rel() // a second release frees nothing
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d granted, %d refused, at most %d at once", granted, refused, peak)
	if peak != n+extra+deliver || granted == 0 || refused == 0 {
		t.Errorf("the storm did not reach the bound (peak %d) or missed a path (%d granted, %d refused)", peak, granted, refused)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held != [numDialClasses]int{} || len(g.waiting[0])+len(g.waiting[1])+len(g.waiting[2]) != 0 {
		t.Errorf("after the storm: %v held, %d+%d+%d waiting, want none", g.held, len(g.waiting[0]), len(g.waiting[1]), len(g.waiting[2]))
	}
}

// A waiter whose context ends leaves without a slot, deliver, urgent,
// routine, promotable or promoted; a slot granted just as the context ends
// is passed on; a release called twice frees one slot: afterwards exactly
// n+extra+deliver slots are free again, no more (a double free) and no
// fewer (a leak).
func TestDialGateCancel(t *testing.T) {
	const n, extra, deliver = maxDialsAtOnce, maxUrgentExtra, maxDeliverExtra
	g := newDialGate(n, extra, deliver)
	fill := func() (rels []func()) {
		t.Helper()
		for range n {
			rels = append(rels, acquireSoon(t, g, classRoutine, nil))
		}
		for range extra {
			rels = append(rels, acquireSoon(t, g, classUrgent, nil))
		}
		for range deliver {
			rels = append(rels, acquireSoon(t, g, classDeliver, nil))
		}
		return rels
	}
	rels := fill()

	// Waiting: each kind gives up.
	toDeliver := func() int { return classDeliver }
	kinds := []struct {
		class   int
		wake    chan struct{}
		promote bool // woken (to deliver) before it gives up
	}{
		{classDeliver, nil, false},
		{classUrgent, nil, false},
		{classRoutine, nil, false},
		{classRoutine, make(chan struct{}), false},
		{classRoutine, make(chan struct{}), true},
		{classUrgent, make(chan struct{}), true},
	}
	refused := make(chan bool, len(kinds))
	var cancels []context.CancelFunc
	var queued [numDialClasses]int
	for _, kind := range kinds {
		ctx, cancel := context.WithCancel(context.Background())
		cancels = append(cancels, cancel)
		go func() {
			_, ok := g.acquire(ctx, kind.class, kind.wake, toDeliver)
			refused <- !ok
		}()
		queued[kind.class]++
		waitQueued(t, g, kind.class, queued[kind.class])
		if kind.promote {
			kind.wake <- struct{}{}
			queued[kind.class]--
			queued[classDeliver]++
			waitQueued(t, g, classDeliver, queued[classDeliver])
		}
	}
	for _, cancel := range cancels {
		cancel()
	}
	for range kinds {
		if !recvSoon(t, refused) {
			t.Fatal("a waiter whose context ended got a slot none was free for")
		}
	}
	for class := range numDialClasses {
		waitQueued(t, g, class, 0)
	}
	if h := gateHeld(g); h != [numDialClasses]int{deliver, extra, n} {
		t.Fatalf("held %v after the waiters left, want [%d %d %d]", h, deliver, extra, n)
	}
	for _, rel := range rels {
		rel()
		rel()
	}
	if h := gateHeld(g); h != [numDialClasses]int{} {
		t.Fatalf("held %v after releasing each slot twice, want none", h)
	}
	// Exactly n+extra+deliver free: all of them at once, then even a
	// deliver one waits.
	rels = fill()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if _, ok := g.acquire(ctx, classDeliver, nil, nil); ok {
		t.Fatalf("a slot beyond n+extra+deliver was granted: held %v", gateHeld(g))
	}
	cancel()
	for _, rel := range rels {
		rel()
	}

	// Granted and given up at once: acquire's select sees both; either way
	// the slot is not kept.
	one := newDialGate(1, 0, 0)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	outcomes := map[bool]int{}
	for range 1000 {
		rel, ok := one.acquire(gone, classRoutine, nil, nil)
		outcomes[ok]++
		if ok {
			rel()
		}
		if h := gateHeld(one); h != [numDialClasses]int{} {
			t.Fatalf("held %v after a grant to a waiter already gone, want none", h)
		}
	}
	if outcomes[true] == 0 || outcomes[false] == 0 {
		t.Errorf("outcomes %v: the given-up-when-granted path did not run", outcomes)
	}

	// Granted just as its context ends, with a waiter behind it: the slot
	// reaches that waiter whichever way the first one went.
	for range 100 {
		hold := acquireSoon(t, one, classRoutine, nil)
		ctx, cancel := context.WithCancel(context.Background())
		first := make(chan struct{})
		go func() {
			if rel, ok := one.acquire(ctx, classRoutine, nil, nil); ok {
				rel()
			}
			close(first)
		}()
		waitQueued(t, one, classRoutine, 1)
		next := make(chan func(), 1)
		go func() {
			if rel, ok := one.acquire(context.Background(), classRoutine, nil, nil); ok {
				next <- rel
			}
		}()
		waitQueued(t, one, classRoutine, 2)
		hold()
		cancel()
		recvSoon(t, next)()
		<-first
		if h := gateHeld(one); h != [numDialClasses]int{} {
			t.Fatalf("held %v at the end, want none", h)
		}
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
	// Each dial's start (+1) and end (-1), in order: the peaks are counted
	// once b's dials, urgent ones after its session ended, can be told apart.
	type step struct {
		to string
		d  int
	}
	var steps []step
	a.tor.mu.Lock()
	a.tor.dialed = func(to string) func() {
		mu.Lock()
		dials[to]++
		steps = append(steps, step{to, 1})
		mu.Unlock()
		time.Sleep(5 * time.Millisecond) // tor takes a moment to answer
		return func() {
			mu.Lock()
			steps = append(steps, step{to, -1})
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
	var bOnion string
	cs = slices.DeleteFunc(cs, func(c ContactInfo) bool {
		if c.Name == "b" {
			bOnion = c.Onion
		}
		return c.Name == "b"
	})
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
	// The 40's dials are routine (nothing to send, never woken): at most
	// maxDialsAtOnce of them; b's urgent ones may come on top.
	busy, routine, peak, routinePeak := 0, 0, 0, 0
	for _, st := range steps {
		busy += st.d
		if st.to != bOnion {
			routine += st.d
		}
		peak, routinePeak = max(peak, busy), max(routinePeak, routine)
	}
	if routinePeak > maxDialsAtOnce || routinePeak < 2 || peak > maxDialsAtOnce+maxUrgentExtra {
		t.Errorf("at most %d routine dials at once (want 2..%d), %d in all (want at most %d)",
			routinePeak, maxDialsAtOnce, peak, maxDialsAtOnce+maxUrgentExtra)
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

// A message to a contact who is online starts its dial at once, while
// every shared slot is held by routine dials of offline contacts that tor
// never answers (memnet's stall: a stale descriptor's introduction points,
// until the dial's deadline) and more of them queue. Before, it waited for
// one of them to reach that deadline: a minute here, 90 s on the real
// network.
func TestMessageDoesNotWaitForStalledRedials(t *testing.T) {
	s := newStallScene(t)
	// Contacts whose dials tor never answers take every shared slot.
	s.addStalled(2 * maxDialsAtOnce) // as many queue as stall
	s.until("stalled dials", func() bool { return s.inFlight == maxDialsAtOnce })
	s.bBackAndSend(maxDialsAtOnce)
}

// A message written during a come-back round reaches a contact who is
// online at once, while that round's dials hold every urgent and routine
// slot and tor answers none of them (memnet's stall, a minute here, 90 s
// on the real network), and more of them queue. The contact's dialer is
// woken by the round too, so its dial waits among them as urgent, or
// failed already and sleeps: either way the message's wake makes it a
// deliver dial, which takes the slot none of the round's can. Before, it
// waited in the urgent queue behind the round's dials, each waiting for
// a stalled one to reach its deadline.
func TestMessageDuringComeBackRedials(t *testing.T) {
	s := newStallScene(t)
	// Contacts whose dials tor never answers take every routine slot.
	s.addStalled(2 * (maxDialsAtOnce + maxUrgentExtra)) // as many queue as stall
	s.until("routine stalled dials", func() bool { return s.inFlight == maxDialsAtOnce })
	// Coming back: every dialer woken, the queued ones urgent now, and they
	// take the urgent slots too; b's dial among them.
	s.a.e.reachableAgain("test: coming back")
	s.until("urgent stalled dials", func() bool { return s.inFlight == maxDialsAtOnce+maxUrgentExtra })
	s.bBackAndSend(maxDialsAtOnce + maxUrgentExtra)
}

// A message to a contact who is online starts its dial at once while
// offline contacts with texts of their own still undelivered re-dial and
// tor answers none of them (a come-back round). Their texts gave their
// dials the deliver class for good: with seven of them stalled, every slot
// was held and the message waited for one to reach its deadline (a minute
// here, 90 s on the real network). Now a contact keeps that class for
// maxDeliverMisses failed dials after its last text; its later re-dials
// are urgent and leave the deliver slot free.
func TestUndeliveredRedialsLeaveDeliverSlot(t *testing.T) {
	s := newStallScene(t)
	k := 2 * (maxDialsAtOnce + maxUrgentExtra + maxDeliverExtra) // as many queue as stall
	// Not stalled yet: tor finds no descriptor at once, and each is soon
	// offline (an hour away). Then each gets a text, which dials it once.
	var stale []string
	for i := range k {
		code, _ := randomCode(t)
		c, err := s.a.e.AddContact(context.Background(), "a", fmt.Sprintf("stale%d", i), code)
		if err != nil {
			t.Fatal(err)
		}
		stale = append(stale, c.Onion)
	}
	s.until("the stale contacts offline", func() bool {
		for _, to := range stale {
			if s.dials[to] < offlineAfterNoDesc {
				return false
			}
		}
		return true
	})
	before := map[string]int{}
	s.mu.Lock()
	for _, to := range stale {
		before[to] = s.dials[to]
	}
	s.mu.Unlock()
	for i := range k {
		if _, err := s.a.e.Send(context.Background(), "a", fmt.Sprintf("stale%d", i), "still there?"); err != nil {
			t.Fatal(err)
		}
	}
	s.until("the stale contacts' deliver dials", func() bool {
		for _, to := range stale {
			if s.dials[to] < before[to]+1 {
				return false
			}
		}
		return true
	})
	s.a.e.mu.Lock()
	for i := range k {
		c := s.a.e.ids["a"].contacts[fmt.Sprintf("stale%d", i)]
		if len(c.outbox) != 1 || c.deliverMisses < 1 {
			s.a.e.mu.Unlock()
			t.Fatalf("stale%d: outbox %d, %d deliver misses; want 1 and at least 1", i, len(c.outbox), c.deliverMisses)
		}
	}
	s.a.e.mu.Unlock()
	// From now on tor answers none of their dials. Coming back wakes them
	// all: urgent, they take the urgent slots, and more queue.
	s.mu.Lock()
	for _, to := range stale {
		s.stalled[to] = true
	}
	s.mu.Unlock()
	s.a.e.reachableAgain("test: coming back")
	s.until("urgent stalled dials", func() bool { return s.inFlight >= maxDialsAtOnce+maxUrgentExtra })
	s.bBackAndSend(maxDialsAtOnce + maxUrgentExtra)
}

// stallScene is the set-up of the tests above: a and b are contacts,
// b went away and a found it offline (its own next dial of b an hour
// away), and a's memnet tor stalls the dials of the contacts marked
// stalled (addStalled) until the dial's deadline, a minute, counting those
// under way in inFlight.
type stallScene struct {
	t     *testing.T
	n     *memNet
	tm    timing
	a     *testPeer
	ai    IdentityInfo
	bdisk *memStore

	mu       sync.Mutex // guards what follows
	stalled  map[string]bool
	dials    map[string]int
	inFlight int // stalled dials under way
}

func newStallScene(t *testing.T) *stallScene {
	s := &stallScene{t: t, n: newMemNet(), tm: fastTiming, bdisk: newMemStore(),
		stalled: map[string]bool{}, dials: map[string]int{}}
	s.tm.Handshake = time.Minute                            // a stalled dial lasts this long
	s.tm.OfflineMin, s.tm.OfflineMax = time.Hour, time.Hour // no re-dial of b of a's own
	s.a = startPeerWith(t, s.n, nil, nil, s.tm)
	s.ai = mustID(t, s.a, "a", IdentityOptions{})
	s.a.waitOnline("a")
	b := startPeerWith(t, s.n, s.bdisk, nil, s.tm)
	bi := mustID(t, b, "b", IdentityOptions{})
	b.waitOnline("b")
	befriend(t, s.a, "a", "a", b, "b", "b")

	s.a.tor.mu.Lock()
	s.a.tor.stall = func(to string) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.stalled[to]
	}
	s.a.tor.dialed = func(to string) func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.dials[to]++
		if !s.stalled[to] {
			return nil
		}
		s.inFlight++
		return func() {
			s.mu.Lock()
			s.inFlight--
			s.mu.Unlock()
		}
	}
	s.a.tor.mu.Unlock()

	// b goes away; a finds it offline and leaves it alone for an hour.
	s.mu.Lock()
	before := s.dials[bi.Onion]
	s.mu.Unlock()
	b.close()
	s.until("offline b", func() bool { return s.dials[bi.Onion] >= before+offlineAfterNoDesc })
	return s
}

// until polls cond (under s.mu) for 20 s.
func (s *stallScene) until(what string, cond func() bool) {
	s.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		ok := cond()
		s.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no %s within 20 s", what)
		}
	}
}

// addStalled adds k contacts to a whose dials tor never answers.
func (s *stallScene) addStalled(k int) {
	s.t.Helper()
	for i := range k {
		code, _ := randomCode(s.t)
		c, err := s.a.e.AddContact(context.Background(), "a", fmt.Sprintf("stale%d", i), code)
		if err != nil {
			s.t.Fatal(err)
		}
		s.mu.Lock()
		s.stalled[c.Onion] = true
		s.mu.Unlock()
	}
}

// bBackAndSend brings b back with its own dials of a stalled (only a's
// dial can connect), sends it a message and checks that it arrived while
// the stalled dials under way were still the stalling ones: none had
// ended to let the message's dial in.
func (s *stallScene) bBackAndSend(stalling int) {
	t := s.t
	t.Helper()
	btor := s.n.tor()
	btor.stall = func(to string) bool { return to == s.ai.Onion }
	e, err := newEngine(engineConfig{disk: s.bdisk, net: btor, newSecret: testSecret, newLocked: testLocked, timing: s.tm, logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	e.start()
	b := watchEvents(&testPeer{t: t, e: e, disk: s.bdisk, tor: btor}, 10000)
	b.waitOnline("b")

	start := time.Now()
	if _, err := s.a.e.Send(context.Background(), "a", "b", "are you there"); err != nil {
		t.Fatal(err)
	}
	b.waitMessage("are you there")
	t.Logf("delivered %v after Send", time.Since(start).Round(time.Millisecond))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight != stalling {
		t.Errorf("%d stalled dials under way at delivery, want %d: one ended and let the message's dial in", s.inFlight, stalling)
	}
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

// grants records the order in which waiters started by wait are granted.
type grants struct {
	t    *testing.T
	g    *dialGate
	got  chan string
	rels chan func()
}

func newGrants(t *testing.T, g *dialGate) *grants {
	return &grants{t: t, g: g, got: make(chan string, 100), rels: make(chan func(), 100)}
}

// wait starts an acquire of class named name, with wake and reclass, and
// returns once it is queued in class (the queue holding want waiters).
func (gr *grants) wait(name string, class int, wake <-chan struct{}, reclass func() int, want int) {
	gr.t.Helper()
	go func() {
		if rel, ok := gr.g.acquire(context.Background(), class, wake, reclass); ok {
			gr.rels <- rel
			gr.got <- name
		}
	}()
	waitQueued(gr.t, gr.g, class, want)
}

// next releases rel and returns the name of the waiter the freed slot went
// to.
func (gr *grants) next(rel func()) string {
	gr.t.Helper()
	rel()
	return recvSoon(gr.t, gr.got)
}

// drain releases the slots of held and of the waiters' grants still to
// come (left of them), so that no waiter is left behind; every slot is
// free then.
func (gr *grants) drain(held []func(), left int) {
	gr.t.Helper()
	for _, rel := range held {
		rel()
	}
	for range left {
		recvSoon(gr.t, gr.got)
		recvSoon(gr.t, gr.rels)()
	}
	if h := gateHeld(gr.g); h != [numDialClasses]int{} {
		gr.t.Fatalf("held %v after every release, want none", h)
	}
}

// A message written during a come-back round (every contact woken at once,
// so every dial urgent, their slots held by dials tor does not answer and
// more of them queued) does not wait its turn among them: with every other
// slot held, its dial starts at once on the deliver allowance, and a
// second one, with that slot held too, gets the next slot freed, before
// every urgent waiter queued earlier. Before, a text's dial was one urgent
// dial among the round's, served in arrival order.
func TestDialGateDeliverFirst(t *testing.T) {
	const comeBack = 8 // urgent waiters of the round
	g := newDialGate(maxDialsAtOnce, maxUrgentExtra, maxDeliverExtra)
	gr := newGrants(t, g)
	held := comeBackRound(t, g, gr, comeBack)
	// A message: its dial starts at once.
	d1 := acquireSoon(t, g, classDeliver, nil)
	if h := gateHeld(g); h != [numDialClasses]int{maxDeliverExtra, maxUrgentExtra, maxDialsAtOnce} {
		t.Fatalf("held %v, want [%d %d %d]", h, maxDeliverExtra, maxUrgentExtra, maxDialsAtOnce)
	}
	// A message to a second contact: the next slot freed is its.
	gr.wait("text2", classDeliver, nil, nil, 1)
	if w := gr.next(held[maxDialsAtOnce]); w != "text2" {
		t.Fatalf("an urgent dial's slot went to %s, want the second text's dial", w)
	}
	// The deliver allowance freed: no urgent dial takes it.
	d1()
	if h := gateHeld(g); h != [numDialClasses]int{1, maxUrgentExtra - 1, maxDialsAtOnce} {
		t.Fatalf("held %v after a deliver dial ended, want [1 %d %d]", h, maxUrgentExtra-1, maxDialsAtOnce)
	}
	waitQueued(t, g, classUrgent, comeBack)
	// Then the round goes on, in its order.
	for k := range 2 {
		if w, want := gr.next(held[k]), fmt.Sprint("urgent", k); w != want {
			t.Fatalf("a routine dial's slot went to %s, want %s", w, want)
		}
	}
	// The slots still held: two routine, an urgent one, and those of
	// text2, urgent0 and urgent1 (<-gr.rels).
	gr.drain(append([]func(){held[2], held[3], held[5]}, <-gr.rels, <-gr.rels, <-gr.rels), comeBack-2)

	// Without an allowance of its own, a text's dial still gets the next
	// slot freed, before the round's urgent waiters queued earlier.
	g = newDialGate(maxDialsAtOnce, maxUrgentExtra, 0)
	gr = newGrants(t, g)
	held = comeBackRound(t, g, gr, comeBack)
	gr.wait("text", classDeliver, nil, nil, 1)
	for k, want := range []string{"text", "urgent0", "urgent1"} {
		if w := gr.next(held[k]); w != want {
			t.Fatalf("freed slot %d went to %s, want %s", k+1, w, want)
		}
	}
	gr.drain(append(held[3:], <-gr.rels, <-gr.rels, <-gr.rels), comeBack-2)
}

// comeBackRound fills g as a come-back round does: every routine slot
// held, then every urgent one, and n urgent dials queued behind them
// (urgent0...). It returns the held slots' releases, routine ones first.
func comeBackRound(t *testing.T, g *dialGate, gr *grants, n int) []func() {
	t.Helper()
	var held []func()
	for range maxDialsAtOnce {
		held = append(held, acquireSoon(t, g, classRoutine, nil))
	}
	for range maxUrgentExtra {
		held = append(held, acquireSoon(t, g, classUrgent, nil))
	}
	for k := range n {
		gr.wait(fmt.Sprint("urgent", k), classUrgent, nil, nil, k+1)
	}
	return held
}

// A waiter already queued whose contact gets a message meanwhile moves to
// the front: the contact's wake, which every wake reason shares, promotes a
// routine waiter to urgent, and to deliver (ahead of every urgent waiter,
// those of a come-back round) when reclass finds a message queued; an
// urgent waiter likewise. A wake without a message leaves an urgent waiter
// where it was, and a later one with a message still promotes it. Before,
// a wake made a routine waiter urgent and nothing more, and an urgent
// waiter did not listen.
func TestDialGatePromoteToDeliver(t *testing.T) {
	g := newDialGate(1, 0, 0) // one slot: the grants show the order alone
	gr := newGrants(t, g)
	hold := acquireSoon(t, g, classRoutine, nil)
	// The contacts' state: whether each has a message queued.
	var mu sync.Mutex
	text := map[string]bool{}
	reclass := func(name string) func() int {
		return func() int {
			mu.Lock()
			defer mu.Unlock()
			if text[name] {
				return classDeliver
			}
			return classUrgent
		}
	}
	write := func(name string, wake chan struct{}) {
		mu.Lock()
		text[name] = true
		mu.Unlock()
		wake <- struct{}{}
	}
	wakes := map[string]chan struct{}{}
	for _, name := range []string{"u0", "u1", "u2", "r0", "r1"} {
		wakes[name] = make(chan struct{})
	}
	gr.wait("u0", classUrgent, wakes["u0"], reclass("u0"), 1)
	gr.wait("u1", classUrgent, wakes["u1"], reclass("u1"), 2)
	gr.wait("u2", classUrgent, wakes["u2"], reclass("u2"), 3)
	gr.wait("r0", classRoutine, wakes["r0"], reclass("r0"), 1)
	gr.wait("r1", classRoutine, wakes["r1"], reclass("r1"), 2)

	// u1 is woken without a message (coming back): it keeps its place.
	wakes["u1"] <- struct{}{}
	// r1 is woken without a message: urgent, behind u0..u2.
	wakes["r1"] <- struct{}{}
	waitQueued(t, g, classUrgent, 4)
	// A message to r0's contact, then to u2's, then to u1's.
	write("r0", wakes["r0"])
	waitQueued(t, g, classDeliver, 1)
	write("u2", wakes["u2"])
	waitQueued(t, g, classDeliver, 2)
	write("u1", wakes["u1"])
	waitQueued(t, g, classDeliver, 3)
	waitQueued(t, g, classUrgent, 2)
	waitQueued(t, g, classRoutine, 0)

	rel := hold
	var order []string
	for range 5 {
		order = append(order, gr.next(rel))
		rel = recvSoon(t, gr.rels)
	}
	rel()
	if want := []string{"r0", "u2", "u1", "u0", "r1"}; !slices.Equal(order, want) {
		t.Fatalf("granted in the order %v, want %v", order, want)
	}
	if h := gateHeld(g); h != [numDialClasses]int{} {
		t.Fatalf("held %v after every release, want none", h)
	}
}
