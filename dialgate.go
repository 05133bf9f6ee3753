package sotto

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sottochat/sotto/onion"
)

// Dialling many contacts (issue 16 goal 4). Every dial is a SOCKS request
// that makes tor fetch a descriptor from HSDirs (new circuits) and, if one
// exists, build introduction and rendezvous circuits. A profile with a
// hundred offline contacts dialled all at once, each retried every few
// seconds to minutes, kept its tor at a full core; a contact that is
// offline gains nothing from being dialled often: it holds our client-auth
// key and dials us when it comes online (startIdentityLocked starts every
// dialer at once), and we dial it again whenever we become reachable again
// (wakeDialersLocked). Our own re-dials of an offline contact are only a
// safety net for when both of those failed. So:
//
//   - at most maxDialsAtOnce routine dials wait on tor at a time, per
//     profile, dials with something to do (a session that just ended,
//     coming back) maxUrgentExtra more, so that they never wait behind
//     routine ones that tor does not answer, and dials of a contact with a
//     message queued maxDeliverExtra more again, so that they never wait
//     behind a come-back round's; the others queue, in arrival order, those
//     with a message first, then the urgent ones, then routine retries
//     (dialGate);
//   - a contact whose descriptor tor cannot find (onion.ErrNoDescriptor,
//     SOCKS 0xF0: not published, so offline) offlineAfterNoDesc times in a
//     row, or that stays unreachable otherwise offlineAfterUnreachable
//     times, is offline: it is dialled next after timing.OfflineMin,
//     doubling with every further failure up to timing.OfflineMax (no
//     descriptor) or timing.UnreachableMax (a descriptor, but no answer),
//     each wait drawn uniformly from [d/2, d] (dialSchedule);
//   - a wake (a message queued, a session ended, we are reachable again)
//     still dials at once, but not sooner than BackoffMin after the previous
//     dial of an offline contact: tor answers a fetch it made seconds ago
//     from its cache.
//
// The jitter is what keeps an idle profile flat: contacts found offline
// together (all of them, in the start-up round) would otherwise be dialled
// again together, a round of descriptor fetches after OfflineMin,
// 3·OfflineMin... that both costs a burst of tor's CPU and shows HSDirs a
// burst of fetches for one profile's contacts. Drawn from [d/2, d], the
// first re-dials of contacts found offline together spread over 15 min
// (before, 5 min ±25 % put all 190 of the idle benchmark within 2.5 min),
// and every later draw, independent of the others, spreads them further;
// d stays a bound: an offline contact is dialled at least every
// OfflineMax.
//
// docs/PROTOCOL.md ("Dialling") says what this schedule shows the network.

// maxDialsAtOnce bounds the dials of one profile waiting on tor at once,
// but for urgent ones' allowance (maxUrgentExtra).
// Four keep a first round over hundreds of contacts short on the loopback
// network (a missing descriptor is answered within a second or so) and
// tor's circuits under construction far below its MaxClientCircuitsPending
// (32) on the real network, where a dial may take tens of seconds.
const maxDialsAtOnce = 4

// A contact is offline after offlineAfterNoDesc dials in a row that found
// no descriptor (the first ones may race the contact's own start: its
// descriptor uploads seconds after its tor is up), or offlineAfterUnreachable
// that failed otherwise (introduction or rendezvous failed, timeouts: on
// the real network an offline service's descriptor stays at the HSDirs for
// hours). With the default timing the first take about 3 s (descRetry),
// the others about 2.5 minutes (the ordinary backoff).
const (
	offlineAfterNoDesc      = 3
	offlineAfterUnreachable = 6
)

// descRetry is the first wait after a descriptor miss, doubling with the
// next (at most BackoffMin and its doublings): a contact starting at the
// same time as we do publishes within seconds.
const descRetry = time.Second

// dialSchedule is one contact's dial schedule: after each dial that did not
// connect, how long dialLoop waits before the next. It holds no clock and
// draws its jitter from frac (the engine's rand source), so a test replays
// a schedule on a fake clock.
type dialSchedule struct {
	t          timing
	frac       func() float64 // uniform in [0, 1)
	backoff    time.Duration  // the ordinary backoff's next delay
	misses     int            // dials in a row that found the contact unreachable
	descMisses int            // ... the last of them in a row for want of a descriptor
	level      int            // failed dials since the contact went offline
}

func newDialSchedule(t timing, frac func() float64) *dialSchedule {
	return &dialSchedule{t: t, frac: frac, backoff: t.BackoffMin}
}

// reset starts over: a session is up, or ran.
func (s *dialSchedule) reset() {
	s.backoff, s.misses, s.descMisses, s.level = s.t.BackoffMin, 0, 0, 0
}

// offline reports whether the dials so far make the contact offline.
func (s *dialSchedule) offline() bool {
	return s.descMisses >= offlineAfterNoDesc || s.misses >= offlineAfterUnreachable
}

// failed records a dial that ended in err (not nil) and returns the wait
// before the next dial, and whether this dial made the contact offline.
func (s *dialSchedule) failed(err error) (wait time.Duration, nowOffline bool) {
	wait = s.backoff
	s.backoff = min(2*s.backoff, s.t.BackoffMax)
	if !errors.Is(err, onion.ErrUnreachable) {
		// Not the contact's absence (a handshake failed, tor is down or
		// restarting): not offline, on the ordinary backoff.
		s.misses, s.descMisses, s.level = 0, 0, 0
		return s.jitter(wait), false
	}
	was := s.offline()
	s.misses++
	if errors.Is(err, onion.ErrNoDescriptor) {
		s.descMisses++
	} else {
		s.descMisses = 0
	}
	if s.offline() {
		if was {
			s.level++
		}
		return s.offlineWait(), !was
	}
	if s.descMisses == s.misses {
		// The contact may be publishing right now (both sides starting):
		// ask again soon, as the old Dial did by itself (1 s, 2 s), before
		// calling it offline.
		wait = min(wait, descRetry<<(s.misses-1))
	}
	return s.jitter(wait), false
}

// offlineWait is the wait before the next dial of an offline contact: d is
// OfflineMin doubled once per failed dial since it went offline, at most
// OfflineMax while tor finds no descriptor for it and UnreachableMax while
// it finds one (the contact was online within the descriptor's lifetime, a
// few hours, and may be online with a problem of its own); the wait is
// drawn uniformly from [d/2, d), so d is also the longest wait. Timings
// without an offline schedule (tests) keep BackoffMax.
func (s *dialSchedule) offlineWait() time.Duration {
	lo := s.t.OfflineMin
	if lo <= 0 {
		return s.jitter(s.t.BackoffMax)
	}
	hi := s.t.OfflineMax
	if s.descMisses < offlineAfterNoDesc && s.t.UnreachableMax > 0 {
		hi = s.t.UnreachableMax
	}
	hi = max(hi, lo)
	d := lo
	for i := 0; i < s.level && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + time.Duration(s.frac()*float64(d/2))
}

// wakeDelay is how long a woken dialer still waits, since seconds ago the
// last dial ended: nothing, but at least BackoffMin between two dials of an
// offline contact (tor answers a fetch it just made from its cache).
func (s *dialSchedule) wakeDelay(since time.Duration) time.Duration {
	if !s.offline() {
		return 0
	}
	return max(s.t.BackoffMin-since, 0)
}

// jitter spreads an ordinary wait over [0.75d, 1.25d).
func (s *dialSchedule) jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.75 + 0.5*s.frac()))
}

// Dial classes, in the order dialGate serves them.
const (
	// classDeliver: the contact has something of ours to deliver, a text or
	// a timer change in its outbox (dialClassLocked).
	classDeliver = iota
	// classUrgent: something else to do now: a session that just ended,
	// coming back (every dialer woken), or a routine waiter woken meanwhile.
	classUrgent
	// classRoutine: a retry, a safety-net re-dial, the start-up round.
	classRoutine
	numDialClasses
)

// dialGate admits dials to tor: at most n+extra+deliver at once, of which
// urgent and routine ones start only while fewer than n+extra dials of any
// class are held, and routine ones only while fewer than n are. Urgent
// dials (a session that just ended, coming back, or a routine waiter woken
// meanwhile) thus have extra slots routine ones never take, and dials with
// a message to deliver have a further deliver slots that no other dial
// takes. Waiters are served by class (deliver, urgent, routine), each
// class in arrival order; a slot freed goes straight to the next waiter it
// admits.
//
// Why an allowance on top and not pre-emption. A dial that tor never
// answers holds its slot until its deadline (Handshake, 90 s on the real
// network): an offline contact whose descriptor is still at the HSDirs,
// introduction or rendezvous failures. With n such routine re-dials in
// flight, an urgent dial used to wait for one of them to time out (up to
// 90 s, minutes when several were queued) before it even started: a source
// who is online now waited that long for a journalist's message. Routine
// dials hold at most n slots, so an urgent dial now waits only while extra
// or more urgent dials are held, whatever the routine ones do. The
// alternative, cancelling the oldest routine dial, costs more where it
// matters: closing a SOCKS request does not take back the descriptor fetch
// and circuits tor has started for it, so the re-scheduled dial repeats
// them (more load on tor, one more fetch, introduction and rendezvous for
// HSDirs and the contact's introduction point to see), and a routine dial
// that was about to connect (the contact just came online) would be thrown
// away seconds before it succeeded.
//
// The same holds one class up. Coming back (a laptop waking, tor
// restarting) wakes every dialer at once, so all of them are urgent: with
// 200 contacts, n+extra of those dials in flight, each up to 90 s when tor
// does not answer, and the rest queued, a message written just then used to
// wait its turn among them, minutes, at the moment it matters most. Served
// first, it waits only for the next free slot, and with its own slot
// (deliver) not even for that: urgent and routine dials hold at most
// n+extra.
//
// The allowances let tor see at most n+extra+deliver dials of a profile at
// once instead of n: a round of routine dials (start-up) still runs n at a
// time, a round of urgent ones (coming back: every dialer woken) n+extra,
// and messages written meanwhile add at most deliver more.
type dialGate struct {
	mu                sync.Mutex
	n, extra, deliver int
	held              [numDialClasses]int           // slots held, by the class granted
	waiting           [numDialClasses][]*gateWaiter // by class
}

// gateWaiter is one acquire waiting; class is the queue it waits in, and
// once ready is closed the class it was granted as (set under g.mu).
type gateWaiter struct {
	ready chan struct{}
	class int
}

// maxUrgentExtra is the urgent dials' allowance on top of maxDialsAtOnce:
// with every shared slot held by dials tor does not answer, a contact woken
// (a session ended, coming back) still starts its dial at once, and a
// second one too.
const maxUrgentExtra = 2

// maxDeliverExtra is the allowance of dials with a message to deliver on
// top of the urgent ones': with every other slot held by a come-back
// round's dials that tor does not answer, a message written then still
// starts its dial at once. One is enough for what it is for: a person
// writes one message at a time, and a second contact written to meanwhile
// is served next, ahead of every urgent and routine waiter. Seven dials at
// once keep tor's circuits under construction (a descriptor fetch, then an
// introduction and a rendezvous circuit per dial: 21) below its
// MaxClientCircuitsPending (32).
const maxDeliverExtra = 1

// maxDeliverMisses is how many failed dials in a row a contact with its
// outbox full keeps the deliver class for (dialClassLocked): the dial a
// new text starts. Once it failed the contact may be away (an offline one
// is not dialled again for OfflineMin, unless woken), and its re-dials
// are urgent or routine like the others': the deliver slot stays for the
// next text written, which may be to a contact who is online. Its retry
// keeps the urgent class's own slots and its place ahead of routine dials.
const maxDeliverMisses = 1

func newDialGate(n, extra, deliver int) *dialGate {
	return &dialGate{n: n, extra: extra, deliver: deliver}
}

// admits reports whether a dial of class may start now; g.mu held. A dial
// that is admitted means one of every earlier class would be too, so
// dispatch never passes over a waiter of an earlier class.
func (g *dialGate) admits(class int) bool {
	held := 0
	for _, h := range g.held {
		held += h
	}
	switch class {
	case classDeliver:
		return held < g.n+g.extra+g.deliver
	case classUrgent:
		return held < g.n+g.extra
	}
	return held < g.n
}

// acquire waits for a slot as a dial of class. While it waits, every
// receive from wake (the contact's wake channel, if not nil) moves it up:
// a routine waiter to urgent, and to deliver if reclass, asked then,
// returns classDeliver (the wake was a message queued). The channel is
// shared by every wake reason, so the wake alone says only "urgent";
// reclass (taking the engine's lock, never called under g.mu) says whether
// there is a message. A wake received here is not seen by dialLoop: it
// needs none, its dial is under way. acquire reports false when ctx ended
// first (no slot held then); else release frees the slot, once however
// often it is called.
func (g *dialGate) acquire(ctx context.Context, class int, wake <-chan struct{}, reclass func() int) (release func(), ok bool) {
	if class == classDeliver {
		wake = nil // nothing above it
	}
	w := &gateWaiter{ready: make(chan struct{}), class: class}
	g.mu.Lock()
	g.waiting[class] = append(g.waiting[class], w)
	g.dispatch()
	g.mu.Unlock()
	for {
		select {
		case <-w.ready:
			return g.releaser(w.class), true
		case <-wake:
			to := classUrgent
			if reclass != nil && reclass() == classDeliver {
				to = classDeliver
			}
			g.mu.Lock()
			if from := w.class; to < from && g.remove(from, w) {
				w.class = to
				g.waiting[to] = append(g.waiting[to], w)
				g.dispatch()
			}
			if w.class == classDeliver {
				wake = nil
			}
			g.mu.Unlock()
		case <-ctx.Done():
			g.mu.Lock()
			queued := g.remove(w.class, w)
			g.mu.Unlock()
			if !queued {
				// Granted meanwhile: pass the slot on.
				<-w.ready
				g.releaser(w.class)()
			}
			return nil, false
		}
	}
}

// releaser returns the function that frees one slot of class: a second
// call does nothing, so no path frees a slot twice.
func (g *dialGate) releaser(class int) func() {
	done := false
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if done {
			return
		}
		done = true
		g.held[class]--
		g.dispatch()
	}
}

// dispatch grants slots to the first waiters admitted, earlier classes
// first; g.mu held.
func (g *dialGate) dispatch() {
	for class := 0; class < len(g.waiting); {
		q := g.waiting[class]
		if len(q) == 0 || !g.admits(class) {
			class++
			continue
		}
		w := q[0]
		g.waiting[class] = q[1:]
		w.class = class
		g.held[class]++
		close(w.ready)
		class = 0
	}
}

// remove takes w out of the queue of class, if it is there; g.mu held.
func (g *dialGate) remove(class int, w *gateWaiter) bool {
	q := g.waiting[class]
	for i := range q {
		if q[i] == w {
			g.waiting[class] = append(q[:i], q[i+1:]...)
			return true
		}
	}
	return false
}
