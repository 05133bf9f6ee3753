package sotto

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sottochat/sotto/mailbox"
)

// The identity's loop with its own mailbox (docs/PROTOCOL.md §3.3, §3.8):
// it keeps one relation there per contact (adding new ones, removing those
// of removed contacts), collects what contacts left, and keeps a watching
// stream so that it collects at once when something arrives. It is owned by
// the identity (identity.wg) and ends with it or when the mailbox is
// unpaired.

// startMailboxLocked starts the loop if the identity is paired and online.
func (e *Engine) startMailboxLocked(id *identity) {
	o := id.mb
	if o == nil || !o.rec.Paired || o.loop || e.cfg.net == nil || id.ctx == nil || id.ctx.Err() != nil || id.removed {
		return
	}
	o.loop = true
	ctx := id.ctx
	id.wg.Add(1)
	go func() {
		defer id.wg.Done()
		e.ownerLoop(ctx, id, o)
		e.mu.Lock()
		o.loop = false
		e.mu.Unlock()
	}()
}

func (e *Engine) ownerLoop(ctx context.Context, id *identity, o *ownMailbox) {
	backoff := e.cfg.timing.BackoffMin
	for ctx.Err() == nil {
		e.mu.Lock()
		live := id.mb == o && o.rec.Paired && !id.removed
		e.mu.Unlock()
		if !live {
			return
		}
		start := time.Now()
		err := e.ownerRound(ctx, id, o)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			backoff = e.cfg.timing.BackoffMin // it was up a while: this is a new failure
		}
		msg := errText(err)
		if errors.Is(err, mailbox.ErrDenied) || errors.Is(err, mailbox.ErrGone) {
			msg = "the mailbox does not know this identity any more (was it wiped?): unpair and pair again"
			backoff = e.cfg.timing.BackoffMax
		}
		e.cfg.logf("%s: mailbox: %s", id.name, msg)
		e.setMailboxState(id, o, MailboxUnreachable, msg)
		t := time.NewTimer(e.jitter(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-o.wake:
			t.Stop()
		}
		backoff = min(2*backoff, e.cfg.timing.BackoffMax)
	}
}

func (e *Engine) setMailboxState(id *identity, o *ownMailbox, st MailboxState, msg string) {
	e.mu.Lock()
	changed := id.mb == o && (o.state != st || o.err != msg)
	if changed {
		o.state, o.err = st, msg
	}
	e.mu.Unlock()
	if changed {
		e.ev.emit(MailboxEvent{Identity: id.name, State: st, Err: msg})
	}
}

// ownerConn opens a stream to the identity's own mailbox as its owner.
func (e *Engine) ownerConn(ctx context.Context, id *identity, o *ownMailbox) (*mailbox.Conn, error) {
	octx, cancel := context.WithTimeout(ctx, e.mbTiming().Op)
	defer cancel()
	if err := e.cfg.net.Authorize(octx, o.onion, half(o.keys, false)); err != nil {
		return nil, err
	}
	c, err := mailbox.Dial(octx, e.cfg.net, id.onion, o.onion)
	if err != nil {
		return nil, err
	}
	if err := c.Hello(mailbox.RoleOwner, half(o.keys, true)); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// ownerRound keeps a watching stream to the mailbox, and does its work on
// a fresh stream each time it wakes (the mailbox closes streams idle for
// three minutes), until something fails.
func (e *Engine) ownerRound(ctx context.Context, id *identity, o *ownMailbox) error {
	watch, err := e.ownerConn(ctx, id, o)
	if err != nil {
		return err
	}
	if err := watch.Watch(); err != nil {
		watch.Close()
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	notified := make(chan struct{}, 1)
	watchDone := make(chan struct{})
	var watchErr error // set before watchDone closes
	go func() {
		defer close(watchDone)
		defer watch.Close()
		for {
			if err := watch.Wait(rctx); err != nil {
				watchErr = err
				cancel()
				return
			}
			select {
			case notified <- struct{}{}:
			default:
			}
		}
	}()
	defer func() {
		cancel()
		<-watchDone
	}()
	e.cfg.logf("%s: mailbox reached", id.name)
	e.setMailboxState(id, o, MailboxReachable, "")
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		counts, err := e.ownerWork(ctx, id, o)
		if err != nil {
			return err
		}
		e.mu.Lock()
		o.counts = counts
		if age := time.Duration(counts.MaxAge) * time.Second; age > 0 && counts.MaxAge != o.rec.MaxAge {
			o.rec.MaxAge = counts.MaxAge
		}
		e.mu.Unlock()
		if !poll.Stop() {
			select {
			case <-poll.C:
			default:
			}
		}
		poll.Reset(e.jitter(e.mbTiming().Poll))
		select {
		case <-rctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			<-watchDone
			return fmt.Errorf("the watching stream ended: %w", watchErr)
		case <-notified:
		case <-o.wake:
		case <-poll.C:
		}
	}
}

// ownerWork reconciles the relations, collects and asks for the counts, on
// one stream.
func (e *Engine) ownerWork(ctx context.Context, id *identity, o *ownMailbox) (mailbox.Counts, error) {
	ops, err := e.ownerConn(ctx, id, o)
	if err != nil {
		return mailbox.Counts{}, err
	}
	defer ops.Close()
	if err := e.reconcileRelations(ctx, id, o, ops); err != nil {
		return mailbox.Counts{}, err
	}
	if err := e.ensureBundle(ctx, id, o, ops); err != nil {
		return mailbox.Counts{}, err
	}
	if err := e.collectOwn(ctx, id, o, ops); err != nil {
		return mailbox.Counts{}, err
	}
	return ops.Status()
}

// reconcileRelations makes the mailbox hold one relation per contact and
// none for removed contacts.
func (e *Engine) reconcileRelations(ctx context.Context, id *identity, o *ownMailbox, ops *mailbox.Conn) error {
	e.mu.Lock()
	var gone [][16]byte
	for rel := range o.gone {
		gone = append(gone, rel)
	}
	type add struct {
		c       *contact
		rel     *mbRel
		hash    [32]byte
		authPub [32]byte
	}
	var adds []add
	for _, c := range id.contacts {
		if c.removed {
			continue
		}
		if c.mb.rel == nil || c.mb.rel.rec.Off && !c.mb.rel.rec.Added {
			if err := e.newRelLocked(c, o.rec.Serial); err != nil {
				e.mu.Unlock()
				return err
			}
		}
		r := c.mb.rel
		if r.rec.Added {
			continue
		}
		var h [32]byte
		if err := r.keys.Open(func(b []byte) error {
			var tok [32]byte
			copy(tok[:], b[:32])
			h = mailbox.HashToken(&tok)
			clear(tok[:])
			return nil
		}); err != nil {
			e.mu.Unlock()
			return err
		}
		adds = append(adds, add{c: c, rel: r, hash: h, authPub: r.authPub})
	}
	e.mu.Unlock()
	for _, rel := range gone {
		if err := ops.Remove(rel); err != nil {
			return err
		}
		e.mu.Lock()
		delete(o.gone, rel)
		err := id.st.Delete(kindMbGone, goneKey(id, rel))
		e.mu.Unlock()
		if err != nil {
			return err
		}
	}
	for _, a := range adds {
		if err := ops.Add(a.rel.rec.ID, a.hash, a.authPub); err != nil {
			return err
		}
		e.mu.Lock()
		if a.c.mb.rel == a.rel && !a.c.removed {
			a.rel.rec.Added = true
			if err := e.saveRelLocked(a.c); err != nil {
				e.mu.Unlock()
				return err
			}
			// Offer it on the next session and in the next bundle.
			a.c.mb.offered = nil
			a.c.nudge()
			a.c.mbNudge()
		}
		e.mu.Unlock()
	}
	return nil
}

// collectOwn takes everything waiting at the identity's mailbox.
func (e *Engine) collectOwn(ctx context.Context, id *identity, o *ownMailbox, ops *mailbox.Conn) error {
	for ctx.Err() == nil {
		byRel := map[[16]byte][]mailbox.Item{}
		var order [][16]byte
		remaining, err := ops.Collect([16]byte{}, 256, func(it mailbox.Item) error {
			if _, ok := byRel[it.Rel]; !ok {
				order = append(order, it.Rel)
			}
			byRel[it.Rel] = append(byRel[it.Rel], it)
			return nil
		})
		if err != nil {
			return err
		}
		if len(order) == 0 {
			return nil
		}
		e.cfg.logf("%s: mailbox: collected %d relations' items", id.name, len(order))
		dels := map[[16]byte][][8]byte{}
		e.mu.Lock()
		for _, rel := range order {
			items := byRel[rel]
			c := contactOfRel(id, rel)
			switch {
			case c != nil:
				dels[rel] = e.receiveItemsLocked(c, items)
			case e.isIntakeBlob(items):
				dels[rel] = e.receiveIntakeLocked(id, rel, items)
			default:
				// A relation of no contact (removed while it held blobs):
				// its blobs go, and so does it.
				for _, it := range items {
					dels[rel] = append(dels[rel], it.ID)
				}
				if !o.gone[rel] {
					o.gone[rel] = true
					if err := id.st.Put(kindMbGone, goneKey(id, rel), []byte{mbRecV}); err != nil {
						e.mu.Unlock()
						return err
					}
				}
			}
		}
		e.mu.Unlock()
		for _, rel := range order {
			if len(dels[rel]) == 0 {
				continue
			}
			if _, err := ops.Delete(rel, dels[rel]); err != nil {
				return err
			}
		}
		e.mu.Lock()
		for _, rel := range order {
			if c := contactOfRel(id, rel); c != nil {
				c.mbNudge() // acknowledgements to deposit
			}
		}
		e.mu.Unlock()
		if remaining == 0 {
			return nil
		}
	}
	return ctx.Err()
}

func contactOfRel(id *identity, rel [16]byte) *contact {
	for _, c := range id.contacts {
		if r := c.mb.rel; r != nil && r.rec.ID == rel && !c.removed {
			return c
		}
	}
	return nil
}
