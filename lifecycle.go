package sotto

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sottochat/sotto/internal/erase"
)

// Goroutines and their owners:
//
//	Engine: the event pump and the expiry loop (Engine.wg).
//	identity: its publisher/accept loop, one goroutine per inbound
//	connection, and one dialer per contact (identity.wg). stopIdentity
//	cancels identity.ctx, closes the service and every connection, and
//	waits for all of them.
//	session: its writer, owned by the goroutine that runs the session
//	(an inbound connection's goroutine or the contact's dialer).

// maxInboundHandshakes bounds the inbound connections of one identity that
// are still in their handshake; more are closed at once.
const maxInboundHandshakes = 16

// startIdentityLocked puts an identity online: publish its onion service,
// accept connections, and start a dialer per contact.
func (e *Engine) startIdentityLocked(id *identity) {
	if id.ctx != nil || id.removed {
		return
	}
	id.ctx, id.cancel = context.WithCancel(e.ctx)
	keys := id.clientAuthKeys()
	id.wg.Add(1)
	go func() {
		defer id.wg.Done()
		erase.Do(func() { e.serveIdentity(id, keys) })
	}()
	// Every dialer dials at once: the start is a wake of all of them.
	id.wokeAll = time.Now()
	for _, c := range id.contacts {
		e.startDialerLocked(c)
	}
	e.startMailboxLocked(id)
}

// reachableAgain dials every contact of every identity (each dialer woken
// as a queued message wakes it): tor works again after a time it did not
// (its network was disabled or lost, the machine slept, tor restarted), so
// a contact that came online meanwhile found us unreachable and, having
// called us offline, would dial us again only on its safety-net schedule
// (dialgate.go). The other side of "a contact that comes online dials us".
func (e *Engine) reachableAgain(why string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started || e.closed {
		return
	}
	for _, id := range e.ids {
		e.wakeDialersLocked(id, why)
	}
}

// wakeDialersLocked wakes every dialer of a started identity, unless they
// were all started or woken less than WakeAllGap ago: the signs of one
// return (tor ready again, circuits again) come close together, and the
// dials the first one started serve them all. e.mu held.
func (e *Engine) wakeDialersLocked(id *identity, why string) {
	if id.ctx == nil || id.ctx.Err() != nil || id.removed {
		return
	}
	now := time.Now()
	if now.Sub(id.wokeAll) < e.cfg.timing.WakeAllGap {
		return
	}
	id.wokeAll = now
	e.cfg.logf("%s: %s: dialling its %d contacts", id.name, why, len(id.contacts))
	for _, c := range id.contacts {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

func (e *Engine) serveIdentity(id *identity, keys [][32]byte) {
	ctx := id.ctx
	backoff := e.cfg.timing.BackoffMin
	var svc service
	for {
		var err error
		start := time.Now()
		e.cfg.logf("%s: publishing its onion service (%d client keys, open %v)", id.name, len(keys), id.open)
		svc, err = e.cfg.net.Publish(ctx, id.seed, keys, id.open)
		if err == nil {
			e.cfg.logf("%s: published in %v", id.name, time.Since(start).Round(time.Millisecond))
			break
		}
		if ctx.Err() != nil {
			return
		}
		e.cfg.logf("%s: publishing failed after %v: %v", id.name, time.Since(start).Round(time.Millisecond), err)
		e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: identity %s: publishing its onion service: %w", id.name, err)})
		if !sleepCtx(ctx, e.jitter(backoff)) {
			return
		}
		backoff = min(2*backoff, e.cfg.timing.BackoffMax)
	}
	e.mu.Lock()
	if ctx.Err() != nil {
		e.mu.Unlock()
		svc.Close()
		return
	}
	id.svc = svc
	id.online = svc.Online()
	online := id.online
	// Contacts added while publishing.
	if now := id.clientAuthKeys(); len(now) != len(keys) && !id.open {
		e.mu.Unlock()
		svc.SetClientAuth(ctx, now)
		e.mu.Lock()
	}
	e.mu.Unlock()
	if online {
		e.ev.emit(IdentityEvent{Identity: id.name, Onion: id.onion, Online: true})
	}
	stop := context.AfterFunc(ctx, func() { svc.Close() })
	defer stop()
	for {
		conn, err := svc.Accept()
		if err != nil {
			if ctx.Err() == nil {
				e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: identity %s: its onion service stopped: %w", id.name, err)})
			}
			e.mu.Lock()
			id.online = false
			e.mu.Unlock()
			return
		}
		// Bound the handshakes a flood of streams can hold open at once.
		e.mu.Lock()
		busy := id.inflight >= maxInboundHandshakes
		if !busy {
			id.inflight++
		}
		e.mu.Unlock()
		if busy {
			e.cfg.logf("%s: inbound stream refused: %d handshakes in flight", id.name, maxInboundHandshakes)
			conn.Close()
			continue
		}
		e.cfg.logf("%s: inbound stream", id.name)
		id.wg.Add(1)
		go func() {
			defer id.wg.Done()
			erase.Do(func() { e.serveInbound(ctx, id, conn) })
		}()
	}
}

// stopIdentity takes an identity offline and waits for its goroutines.
func (e *Engine) stopIdentity(id *identity) {
	e.mu.Lock()
	id.removed = true
	if id.cancel != nil {
		id.cancel()
	}
	svc := id.svc
	id.svc = nil
	id.online = false
	for _, c := range id.contacts {
		if c.sess != nil {
			c.sess.close()
		}
	}
	e.mu.Unlock()
	if svc != nil {
		svc.Close()
	}
	id.wg.Wait()
}

func (e *Engine) startDialerLocked(c *contact) {
	id := c.id
	if id.ctx == nil || id.ctx.Err() != nil || c.stopDial != nil {
		return
	}
	ctx, cancel := context.WithCancel(id.ctx)
	c.stopDial = cancel
	c.dialDone = make(chan struct{})
	id.wg.Add(1)
	go func() {
		defer id.wg.Done()
		defer close(c.dialDone)
		erase.Do(func() { e.dialLoop(ctx, c) })
	}()
	e.startCourierLocked(c)
}

// stopContact stops a removed contact's dialer and connection and waits.
func (e *Engine) stopContact(c *contact) {
	e.mu.Lock()
	cancel, done := c.stopDial, c.dialDone
	if c.sess != nil {
		c.sess.close()
	}
	e.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// dialLoop keeps trying to connect to a contact while there is no
// connection: exponential backoff with jitter after failures, a much longer
// one once the contact looks offline, and at once after a connection ends,
// a message is queued or we are reachable again (dialgate.go has the
// schedule and why).
func (e *Engine) dialLoop(ctx context.Context, c *contact) {
	t := e.cfg.timing
	sched := newDialSchedule(t, e.frac)
	authorized := false
	urgent := false
	var last time.Time // when the last dial ended
	for {
		if !authorized {
			if err := e.cfg.net.Authorize(ctx, c.onion, c.id.authPriv); err == nil {
				authorized = true
			} else if ctx.Err() != nil {
				return
			} else {
				e.cfg.logf("%s -> %s: registering the client-auth key with tor: %v", c.id.name, c.rec.Petname, err)
			}
		}
		var err error
		if authorized {
			start := time.Now()
			err = e.dialOnce(ctx, c, urgent)
			urgent = false
			last = time.Now()
			if errors.Is(err, errConnected) {
				// A session is up (ours or the contact's): nothing to do
				// until it ends, which wakes us, or until a wake.
				sched.reset()
				select {
				case <-ctx.Done():
					return
				case <-c.wake:
				}
				urgent = true
				continue
			}
			if err != nil && ctx.Err() == nil {
				e.cfg.logf("%s -> %s: dial failed after %v: %v", c.id.name, c.rec.Petname, time.Since(start).Round(time.Millisecond), err)
			}
			e.mu.Lock()
			switch {
			case err == nil:
				c.deliverMisses = 0 // a session ran
			case len(c.outbox) > 0:
				c.deliverMisses++ // (dialClassLocked)
			}
			e.mu.Unlock()
		} else {
			err = errors.New("client authorization failed")
		}
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		if err == nil {
			// A session ran and ended, or the contact's own connection
			// won: dial again soon, ahead of routine retries.
			sched.reset()
			wait, urgent = sched.jitter(t.BackoffMin), true
		} else {
			var nowOffline bool
			wait, nowOffline = sched.failed(err)
			if nowOffline {
				e.cfg.logf("%s -> %s: offline after %d failed dials: next dial in %v, or when it dials us, a message is queued or we are reachable again", c.id.name, c.rec.Petname, sched.misses, wait.Round(time.Second))
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-c.wake:
			timer.Stop()
			urgent = true
			e.cfg.logf("%s -> %s: woken before the %v backoff ended", c.id.name, c.rec.Petname, wait.Round(time.Millisecond))
			if !sleepCtx(ctx, sched.wakeDelay(time.Since(last))) {
				return
			}
		}
	}
}

// frac draws a number uniformly from [0, 1) from the engine's rand source
// (0 if it fails: the caller's shortest wait).
func (e *Engine) frac() float64 {
	var b [8]byte
	if _, err := io.ReadFull(e.cfg.rand, b[:]); err != nil {
		return 0
	}
	return float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53)
}

// jitter spreads d over [0.75d, 1.25d).
func (e *Engine) jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.75 + 0.5*e.frac()))
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// serviceEvent reports an onion service's descriptor published or withdrawn.
func (e *Engine) serviceEvent(addr string, online bool) {
	e.mu.Lock()
	var id *identity
	for _, x := range e.ids {
		if x.onion == addr {
			id = x
		}
	}
	if id == nil || id.removed || id.online == online {
		e.mu.Unlock()
		return
	}
	id.online = online
	e.mu.Unlock()
	e.ev.emit(IdentityEvent{Identity: id.name, Onion: id.onion, Online: online})
}
