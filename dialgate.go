package sotto

import (
	"context"
	"sync"
	"time"
)

// Dialling many contacts (issue 16 goal 4). Every dial is a SOCKS request
// that makes tor fetch a descriptor from HSDirs (new circuits) and, if one
// exists, build introduction and rendezvous circuits. A profile with a
// hundred offline contacts dialled all at once, each retried every few
// seconds to minutes, kept its tor at a full core; a contact that is
// offline gains nothing from being dialled often: it holds our client-auth
// key and dials us when it comes online. So:
//
//   - at most maxDialsAtOnce dials wait on tor at a time, per profile; the
//     others queue, in arrival order, dials with something to do (a message
//     queued, a session that just ended) before routine retries (dialGate);
//   - a contact whose descriptor tor cannot find (onion.ErrNoDescriptor,
//     SOCKS 0xF0: not published, so offline) offlineAfterNoDesc times in a
//     row, or that stays unreachable otherwise offlineAfterUnreachable
//     times, is dialled next after timing.OfflineMin, doubling up to
//     timing.OfflineMax, instead of the ordinary BackoffMin..BackoffMax;
//   - a wake (a message queued, a session ended) still dials at once, but
//     not sooner than BackoffMin after the previous dial of an offline
//     contact: tor answers a fetch it made minutes ago from its cache.
//
// docs/PROTOCOL.md ("Dialling") says what this schedule shows the network.

// maxDialsAtOnce bounds the dials of one profile waiting on tor at once.
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

// offlineAfter reports whether misses failed dials in a row (all for want
// of a descriptor if noDesc) make a contact offline.
func offlineAfter(misses int, noDesc bool) bool {
	if noDesc {
		return misses >= offlineAfterNoDesc
	}
	return misses >= offlineAfterUnreachable
}

// offlineBackoff is the wait before the next dial of an offline contact
// after misses failed dials in a row: OfflineMin, doubling with every
// further miss up to OfflineMax. Timings without an offline schedule
// (tests) keep BackoffMax.
func (t timing) offlineBackoff(misses int) time.Duration {
	lo, hi := t.OfflineMin, t.OfflineMax
	if lo <= 0 {
		return t.BackoffMax
	}
	hi = max(hi, lo)
	d := lo
	for i := offlineAfterNoDesc; i < misses && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// dialGate admits at most n dials at once: urgent waiters first, each class
// in arrival order. A slot freed goes straight to the next waiter.
type dialGate struct {
	mu      sync.Mutex
	free    int
	waiting [2][]chan struct{} // 0: urgent, 1: routine
}

func newDialGate(n int) *dialGate { return &dialGate{free: n} }

// acquire waits for a slot. promote, if not nil, moves a routine waiter to
// the urgent queue when it receives (the contact's wake). It reports false
// when ctx ended first (no slot held then).
func (g *dialGate) acquire(ctx context.Context, urgent bool, promote <-chan struct{}) bool {
	class := 1
	if urgent {
		class = 0
	}
	g.mu.Lock()
	if g.free > 0 && len(g.waiting[0]) == 0 && len(g.waiting[1]) == 0 {
		g.free--
		g.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	g.waiting[class] = append(g.waiting[class], ch)
	g.mu.Unlock()
	if class == 0 {
		promote = nil
	}
	for {
		select {
		case <-ch:
			return true
		case <-promote:
			promote = nil
			g.mu.Lock()
			if g.remove(1, ch) {
				g.waiting[0] = append(g.waiting[0], ch)
			}
			g.mu.Unlock()
		case <-ctx.Done():
			g.mu.Lock()
			queued := g.remove(0, ch) || g.remove(1, ch)
			g.mu.Unlock()
			if !queued {
				// Granted meanwhile: pass the slot on.
				<-ch
				g.release()
			}
			return false
		}
	}
}

// remove takes ch out of a queue; g.mu held.
func (g *dialGate) remove(class int, ch chan struct{}) bool {
	q := g.waiting[class]
	for i := range q {
		if q[i] == ch {
			g.waiting[class] = append(q[:i], q[i+1:]...)
			return true
		}
	}
	return false
}

// release frees a slot: to the first waiter, urgent ones first.
func (g *dialGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for class := range g.waiting {
		if q := g.waiting[class]; len(q) > 0 {
			g.waiting[class] = q[1:]
			close(q[0])
			return
		}
	}
	g.free++
}
