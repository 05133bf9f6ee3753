package sotto

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sottochat/sotto/internal/wire"
	"github.com/sottochat/sotto/mailbox"
)

// Each contact's courier (docs/PROTOCOL.md §3.8): it deposits what cannot
// go by session — outbox entries, acknowledgements owed, mailbox messages —
// into the contact's mailbox or, for a contact without one, into our own
// mailbox's relation for it; and it collects what the contact left for us in
// its mailbox. It is owned by the identity (identity.wg) and ends with it or
// when the contact is removed.

// startCourierLocked starts the contact's courier once the identity is online.
func (e *Engine) startCourierLocked(c *contact) {
	if c.mb.courier || e.cfg.net == nil || c.id.ctx == nil || c.id.ctx.Err() != nil || c.removed {
		return
	}
	if c.mb.wake == nil {
		c.mb.wake = make(chan struct{}, 1)
	}
	if c.mb.deposits == nil {
		c.mb.deposits = map[MessageID]mbDeposit{}
	}
	c.mb.courier = true
	if o := c.id.mb; o != nil {
		o.nudge() // a relation for a new contact
	}
	ctx := c.id.ctx
	c.id.wg.Add(1)
	go func() {
		defer c.id.wg.Done()
		e.courierLoop(ctx, c)
		e.mu.Lock()
		c.mb.courier = false
		e.mu.Unlock()
	}()
}

// courierPlan is what the courier does next.
type courierPlan struct {
	deposit   uint8 // a target with something due, or 0
	intake    bool  // leave our sealed contact request at its intake (tipline.go)
	pollReply bool  // collect the answer to it
	poll      bool  // collect the contact's mailbox
	authorize bool  // register the contact's mailbox key with tor first
	pending   bool  // something waits (look again soon)
}

func (e *Engine) courierLoop(ctx context.Context, c *contact) {
	t := e.mbTiming()
	timer := time.NewTimer(0)
	defer timer.Stop()
	backoff := e.cfg.timing.BackoffMin
	failed := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-c.mb.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		now := time.Now()
		e.mu.Lock()
		if c.removed {
			e.mu.Unlock()
			return
		}
		plan := e.courierPlanLocked(c, now)
		e.mu.Unlock()
		var err error
		if !failed.IsZero() && now.Before(failed) {
			plan.deposit, plan.poll = 0, false // backing off
		}
		if plan.authorize || plan.poll || plan.deposit == targetPeer {
			err = e.authorizePeer(ctx, c)
		}
		if err == nil && plan.deposit != 0 {
			err = e.depositRound(ctx, c, plan.deposit)
		}
		if err == nil && plan.poll {
			err = e.pollPeer(ctx, c)
		}
		if err == nil && plan.intake {
			err = e.sendIntake(ctx, c)
		}
		if err == nil && plan.pollReply {
			err = e.pollReply(ctx, c)
		}
		if ctx.Err() != nil {
			return
		}
		next := t.Poll
		switch {
		case err != nil:
			e.cfg.logf("%s -> %s: mailbox: %s", c.id.name, c.rec.Petname, errText(err))
			e.mailboxTrouble(c, err)
			failed = now.Add(e.jitter(backoff))
			next = failed.Sub(now)
			backoff = min(2*backoff, e.cfg.timing.BackoffMax)
		case plan.pending || plan.deposit != 0 || plan.intake:
			failed, backoff = time.Time{}, e.cfg.timing.BackoffMin
			next = min(next, time.Second, t.Grace, t.AckDelay)
		default:
			failed, backoff = time.Time{}, e.cfg.timing.BackoffMin
		}
		timer.Reset(next)
	}
}

// mailboxTrouble reports what the user must hear of a failed mailbox
// operation (a full mailbox), and forgets an offer the mailbox no longer
// honours.
func (e *Engine) mailboxTrouble(c *contact, err error) {
	switch {
	case errors.Is(err, mailbox.ErrFull):
		e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: %s/%s: the mailbox is full; messages wait here until it has room: %w",
			c.id.name, c.rec.Petname, ErrMailboxUnreachable)})
	case errors.Is(err, errPeerOfferDead):
		e.mu.Lock()
		e.dropPeerLocked(c)
		e.mu.Unlock()
	}
}

var errPeerOfferDead = errors.New("sotto: the contact's mailbox refused its credentials")

// courierPlanLocked decides what is due.
func (e *Engine) courierPlanLocked(c *contact, now time.Time) courierPlan {
	t := e.mbTiming()
	var p courierPlan
	if c.sess != nil {
		c.mb.noSess = time.Time{}
		c.mb.acks = nil // the session's re-sends are acknowledged on it
	} else if c.mb.noSess.IsZero() {
		c.mb.noSess = now
	}
	if peer := c.mb.peer; peer != nil {
		p.authorize = !peer.authorized
		p.poll = c.mb.polled.IsZero() || now.Sub(c.mb.polled) >= t.Poll
		if !p.poll {
			p.pending = p.pending || p.authorize
		}
	}
	if t := c.mb.tip; t != nil && t.token != nil {
		p.pollReply = c.mb.repliesPolled.IsZero() || now.Sub(c.mb.repliesPolled) >= e.mbTiming().Poll
	}
	if e.intakeDueLocked(c) && c.sess == nil {
		p.pending = true
		p.intake = now.Sub(c.mb.noSess) >= t.Grace
	}
	target := e.targetLocked(c)
	if target == 0 || c.sess != nil {
		return p
	}
	offline := now.Sub(c.mb.noSess)
	if len(c.mb.acks) > 0 {
		p.pending = true
		if now.Sub(c.mb.acksAt) >= t.AckDelay && offline >= t.AckDelay {
			p.deposit = target
		}
	}
	if e.controlDueLocked(c, target) {
		p.pending = true
		if offline >= t.Grace {
			p.deposit = target
		}
	}
	if len(e.dueEntriesLocked(c, target, now)) > 0 {
		p.pending = true
		if offline >= t.Grace {
			p.deposit = target
		}
	}
	return p
}

// targetLocked is where messages for c go: the contact's mailbox if it
// offered one, else our own once the contact confirmed our offer.
func (e *Engine) targetLocked(c *contact) uint8 {
	if c.mb.peer != nil {
		return targetPeer
	}
	if r, o := c.mb.rel, c.id.mb; r != nil && o != nil && o.rec.Paired && r.rec.Added && r.rec.Confirmed && !r.rec.Off {
		return targetOwn
	}
	if o := c.id.mb; c.mb.replyTo != nil && o != nil && o.rec.Paired {
		return targetReply
	}
	return 0
}

func (e *Engine) targetSerialLocked(c *contact, target uint8) uint32 {
	if target == targetPeer && c.mb.peer != nil {
		return c.mb.peer.rec.Serial
	}
	if target == targetOwn && c.mb.rel != nil {
		return c.mb.rel.rec.Serial
	}
	return 0
}

func (e *Engine) targetMaxAgeLocked(c *contact, target uint8) time.Duration {
	age := uint32(0)
	if target == targetPeer && c.mb.peer != nil {
		age = c.mb.peer.rec.MaxAge
	} else if o := c.id.mb; (target == targetOwn || target == targetReply) && o != nil {
		age = o.rec.MaxAge
	}
	d := time.Duration(age) * time.Second
	return max(min(d, mailbox.MaxMaxAge), mailbox.MinMaxAge)
}

// dueEntriesLocked lists the outbox entries to deposit at target, in order:
// those not deposited there yet, or deposited so long ago that the mailbox
// is about to delete them; not those whose disappearing time is up.
func (e *Engine) dueEntriesLocked(c *contact, target uint8, now time.Time) []*outEntry {
	serial := e.targetSerialLocked(c, target)
	age := e.targetMaxAgeLocked(c, target)
	renew := max(age-24*time.Hour, age/2)
	clock := e.cfg.now()
	var out []*outEntry
	for _, o := range c.outbox {
		if o.rec.Timer > 0 && o.rec.Kind == int(TextMessage) && !clock.Before(time.Unix(o.rec.At+o.rec.Timer, 0)) {
			continue
		}
		if d, ok := c.mb.deposits[o.id]; ok && d.target == target && d.serial == serial && now.Sub(d.at) < renew {
			continue
		}
		out = append(out, o)
	}
	return out
}

// controlDueLocked reports whether mailbox messages wait to be deposited.
func (e *Engine) controlDueLocked(c *contact, target uint8) bool {
	return len(e.controlMsgsLocked(c)) > 0 && c.mb.ctlDone != e.controlKey(c, target)
}

// controlKey names the mailbox messages due, to deposit them once per target.
func (e *Engine) controlKey(c *contact, target uint8) string {
	var k string
	if r := c.mb.rel; r != nil {
		k = fmt.Sprintf("r%d/%v/%v/%v", r.rec.Serial, r.rec.Added, r.rec.Confirmed, r.rec.Off)
	}
	return fmt.Sprintf("%s ok%d t%d", k, c.mb.okDue, target)
}

// controlMsgsLocked lists the mailbox messages c should get: our offer (or
// our mailbox_off) until it confirms, and our confirmation of its offer.
func (e *Engine) controlMsgsLocked(c *contact) []*wire.Message {
	var out []*wire.Message
	if r, o := c.mb.rel, c.id.mb; r != nil && !r.rec.Confirmed {
		switch {
		case r.rec.Off:
			out = append(out, &wire.Message{Kind: wire.KindMailboxOff, MB: &wire.Mailbox{Serial: r.rec.Serial}})
		case r.rec.Added && o != nil && o.rec.Paired:
			mb := &wire.Mailbox{Serial: r.rec.Serial, MaxAge: o.rec.MaxAge}
			copy(mb.Service[:], o.svc)
			if err := r.keys.Open(func(b []byte) error {
				copy(mb.Token[:], b[:32])
				copy(mb.Auth[:], b[32:64])
				return nil
			}); err == nil {
				out = append(out, &wire.Message{Kind: wire.KindMailbox, MB: mb})
			}
		}
	}
	if c.mb.okDue != 0 {
		out = append(out, &wire.Message{Kind: wire.KindMailboxOK, MB: &wire.Mailbox{Serial: c.mb.okDue}})
	}
	return out
}

// mbConn opens a stream to a deposit target: the contact's mailbox as its
// contact, or ours as owner. It returns the relation to name.
func (e *Engine) mbConn(ctx context.Context, c *contact, target uint8) (*mailbox.Conn, [16]byte, error) {
	var rel [16]byte
	e.mu.Lock()
	var addr string
	var tok mailbox.KeyFunc
	var o *ownMailbox
	switch target {
	case targetPeer:
		if p := c.mb.peer; p != nil {
			addr, tok = p.onion, half(p.keys, true)
		}
	case targetOwn:
		if r := c.mb.rel; r != nil && c.id.mb != nil && c.id.mb.rec.Paired {
			o = c.id.mb
			rel, addr, tok = r.rec.ID, o.onion, half(o.keys, true)
		}
	case targetReply:
		if r := c.mb.replyTo; r != nil && c.id.mb != nil && c.id.mb.rec.Paired {
			o = c.id.mb
			rel, addr, tok = r.rel, o.onion, half(o.keys, true)
		}
	}
	from := c.id.onion
	e.mu.Unlock()
	if addr == "" {
		return nil, rel, errors.New("sotto: the mailbox went away")
	}
	octx, cancel := context.WithTimeout(ctx, e.mbTiming().Op)
	defer cancel()
	if o != nil {
		if err := e.cfg.net.Authorize(octx, addr, half(o.keys, false)); err != nil {
			return nil, rel, err
		}
	}
	mc, err := mailbox.Dial(octx, e.cfg.net, from, addr)
	if err != nil {
		return nil, rel, err
	}
	role := mailbox.RoleContact
	if target != targetPeer {
		role = mailbox.RoleOwner
	}
	if err := mc.Hello(role, tok); err != nil {
		mc.Close()
		if target == targetPeer && errors.Is(err, mailbox.ErrDenied) {
			return nil, rel, errPeerOfferDead
		}
		return nil, rel, err
	}
	return mc, rel, nil
}

// authorizePeer registers our key for the contact's mailbox with tor.
func (e *Engine) authorizePeer(ctx context.Context, c *contact) error {
	e.mu.Lock()
	p := c.mb.peer
	if p == nil || p.authorized {
		e.mu.Unlock()
		return nil
	}
	addr, key := p.onion, half(p.keys, false)
	e.mu.Unlock()
	octx, cancel := context.WithTimeout(ctx, e.mbTiming().Op)
	defer cancel()
	if err := e.cfg.net.Authorize(octx, addr, key); err != nil {
		return err
	}
	e.mu.Lock()
	if c.mb.peer == p {
		p.authorized = true
	}
	e.mu.Unlock()
	return nil
}

// outBundle is one bundle to deposit.
type outBundle struct {
	msgs    []*wire.Message
	entries []MessageID // outbox entries it carries
	acks    []MessageID
	ctl     bool // it carries the mailbox messages
	ttl     uint32
	seq     uint64
}

// depositRound deposits everything due for c at target.
func (e *Engine) depositRound(ctx context.Context, c *contact, target uint8) error {
	mc, rel, err := e.mbConn(ctx, c, target)
	if err != nil {
		return err
	}
	defer mc.Close()
	// Sealed only now that the mailbox is reached, so that a mailbox that
	// is down does not make us spend ratchet keys on blobs never sent.
	e.mu.Lock()
	if c.removed || c.sess != nil || e.targetLocked(c) != target {
		e.mu.Unlock()
		return nil
	}
	serial := e.targetSerialLocked(c, target)
	ctlKey := e.controlKey(c, target)
	bundles := e.buildBundlesLocked(c, target, e.cfg.now())
	// A requester we answer in the intake relation needs the handshake's
	// answer to read anything: it goes with every blob until it confirms.
	var answer []byte
	if target == targetReply && c.mb.replyTo != nil {
		answer = c.mb.replyTo.msg2
	}
	var blobs [][]byte
	for _, b := range bundles {
		m := &wire.Message{Kind: wire.KindBundle, MB: &wire.Mailbox{Seq: b.seq, Inner: b.msgs}}
		cts, err := e.sealLocked(c, []*wire.Message{m})
		if err != nil {
			e.mu.Unlock()
			return err
		}
		recs := []mailbox.Record{{Type: mailbox.RecRatchet, Payload: cts[0]}}
		if answer != nil {
			recs = append([]mailbox.Record{{Type: mailbox.RecAsync2, Payload: answer}}, recs...)
		}
		blob, err := mailbox.Pack(recs...)
		if err != nil {
			e.mu.Unlock()
			return err
		}
		blobs = append(blobs, blob)
	}
	e.mu.Unlock()
	e.cfg.logf("%s -> %s: mailbox: depositing %d bundles (%s)", c.id.name, c.rec.Petname, len(bundles), targetName(target))
	for i, b := range bundles {
		if _, err := mc.Deposit(rel, b.ttl, blobs[i]); err != nil {
			return err
		}
		e.mu.Lock()
		err := e.depositedLocked(c, target, serial, ctlKey, b)
		e.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// buildBundlesLocked groups what is due into bundles: mailbox messages and
// acknowledgements first (no delete-by time), then outbox entries in order,
// consecutive entries with the same timer together, each bundle's delete-by
// time the earliest of its entries' (docs/PROTOCOL.md §3.8, §3.9).
func (e *Engine) buildBundlesLocked(c *contact, target uint8, clock time.Time) []*outBundle {
	var out []*outBundle
	seq := c.mb.seqOut
	var cur *outBundle
	size := 0
	start := func(ttl uint32) {
		seq++
		cur = &outBundle{ttl: ttl, seq: seq}
		out = append(out, cur)
		size = 16
	}
	add := func(m *wire.Message) bool {
		p, err := m.Marshal()
		if err != nil {
			return false
		}
		n := len(p) + 2
		clear(p)
		if cur == nil || len(cur.msgs) >= wire.MaxBundle || size+n > wire.MaxBundleBytes {
			start(cur.ttlOr(0))
		}
		cur.msgs = append(cur.msgs, m)
		size += n
		return true
	}
	if ctl := e.controlMsgsLocked(c); len(ctl) > 0 && c.mb.ctlDone != e.controlKey(c, target) {
		start(0)
		for _, m := range ctl {
			add(m)
		}
		cur.ctl = true
	}
	acks := c.mb.acks
	for len(acks) > 0 {
		if cur == nil || cur.ttl != 0 {
			start(0)
		}
		n := min(len(acks), wire.MaxAcks)
		m := &wire.Message{Kind: wire.KindAck}
		for _, id := range acks[:n] {
			m.Acks = append(m.Acks, id)
		}
		if add(m) {
			cur.acks = append(cur.acks, acks[:n]...)
		}
		acks = acks[n:]
	}
	lastTimer := int64(-1)
	for _, o := range e.dueEntriesLocked(c, target, time.Now()) {
		m := &wire.Message{ID: o.id, At: uint64(o.rec.At), Timer: uint32(o.rec.Timer)}
		var ttl uint32
		if o.rec.Kind == int(TextMessage) {
			m.Kind, m.Text = wire.KindText, o.rec.Text
			if o.rec.Timer > 0 {
				left := time.Unix(o.rec.At+o.rec.Timer, 0).Sub(clock)
				if left < time.Second {
					continue
				}
				ttl = uint32(left / time.Second)
			}
		} else {
			m.Kind = wire.KindTimer
		}
		if cur == nil || (ttl == 0) != (cur.ttl == 0) || ttl != 0 && o.rec.Timer != lastTimer {
			start(ttl)
		}
		if ttl != 0 && ttl < cur.ttl {
			cur.ttl = ttl
		}
		lastTimer = o.rec.Timer
		if add(m) {
			cur.entries = append(cur.entries, o.id)
		}
	}
	// Empty bundles (an entry that would not marshal) are not sent.
	kept := out[:0]
	for _, b := range out {
		if len(b.msgs) > 0 {
			kept = append(kept, b)
		}
	}
	return kept
}

func (b *outBundle) ttlOr(d uint32) uint32 {
	if b == nil {
		return d
	}
	return b.ttl
}

// depositedLocked records a bundle the mailbox stored: its entries are
// queued at the mailbox, its acknowledgements and mailbox messages sent.
func (e *Engine) depositedLocked(c *contact, target uint8, serial uint32, ctlKey string, b *outBundle) error {
	if c.removed {
		return nil
	}
	now := time.Now()
	if b.seq > c.mb.seqOut {
		c.mb.seqOut = b.seq
		if err := c.id.st.Put(kindMbSeq, c.key, marshalSeq(c.mb.seqOut, c.mb.seqIn)); err != nil {
			return err
		}
	}
	if b.ctl {
		c.mb.ctlDone = ctlKey
		c.mb.okDue = 0
	}
	if len(b.acks) > 0 {
		sent := map[MessageID]bool{}
		for _, id := range b.acks {
			sent[id] = true
		}
		kept := c.mb.acks[:0]
		for _, id := range c.mb.acks {
			if !sent[id] {
				kept = append(kept, id)
			}
		}
		c.mb.acks = kept
	}
	if len(b.entries) == 0 {
		return nil
	}
	inOutbox := map[MessageID]bool{}
	for _, o := range c.outbox {
		inOutbox[o.id] = true
	}
	rec := &mbDepositRec{At: now.Unix(), Target: target, Serial: serial}
	for _, id := range b.entries {
		if inOutbox[id] {
			rec.IDs = append(rec.IDs, id)
			c.mb.deposits[id] = mbDeposit{at: now, target: target, serial: serial}
		}
	}
	if len(rec.IDs) == 0 {
		return nil
	}
	if err := e.msgStore(c).Append(c.logDeposits(), fmt.Sprintf("%016x.%d", b.seq, target), rec.marshal()); err != nil {
		return err
	}
	queued := map[MessageID]bool{}
	for _, id := range rec.IDs {
		queued[id] = true
	}
	for _, m := range c.msgs {
		if queued[m.ID] && m.Dir != Incoming && (m.State == Pending || m.State == Sent) {
			m.State = Queued
			e.ev.emit(QueuedEvent{Identity: c.id.name, Contact: c.rec.Petname, ID: m.ID})
		}
	}
	e.pruneDepositsLocked(c)
	return nil
}

// pruneDepositsLocked forgets deposits of entries that left the outbox, and
// their log entries.
func (e *Engine) pruneDepositsLocked(c *contact) {
	if len(c.mb.deposits) <= len(c.outbox) {
		return
	}
	in := map[MessageID]bool{}
	for _, o := range c.outbox {
		in[o.id] = true
	}
	for id := range c.mb.deposits {
		if !in[id] {
			delete(c.mb.deposits, id)
		}
	}
	var stale []string
	_ = e.msgStore(c).ReadLog(c.logDeposits(), func(lid string, v []byte) error {
		r, err := parseMbDeposit(v)
		if err != nil {
			return nil
		}
		for _, id := range r.IDs {
			if in[id] {
				return nil
			}
		}
		stale = append(stale, lid)
		return nil
	})
	if len(stale) > 0 {
		_ = e.msgStore(c).Remove(c.logDeposits(), stale...)
	}
}

// pollPeer collects what the contact left for us in its mailbox.
func (e *Engine) pollPeer(ctx context.Context, c *contact) error {
	mc, _, err := e.mbConn(ctx, c, targetPeer)
	if err != nil {
		return err
	}
	defer mc.Close()
	for ctx.Err() == nil {
		var items []mailbox.Item
		remaining, err := mc.Collect([16]byte{}, 256, func(it mailbox.Item) error {
			items = append(items, it)
			return nil
		})
		if err != nil {
			return err
		}
		e.cfg.logf("%s <- %s: mailbox: collected %d items from its mailbox", c.id.name, c.rec.Petname, len(items))
		if len(items) > 0 {
			e.mu.Lock()
			del := e.receiveItemsLocked(c, items)
			e.mu.Unlock()
			if _, err := mc.Delete([16]byte{}, del); err != nil {
				return err
			}
		}
		if remaining == 0 || len(items) == 0 {
			break
		}
	}
	e.mu.Lock()
	c.mb.polled = time.Now()
	e.mu.Unlock()
	return nil
}

// dropPeerLocked forgets the contact's offer (its mailbox refused it).
func (e *Engine) dropPeerLocked(c *contact) {
	p := c.mb.peer
	if p == nil {
		return
	}
	if p.authorized && e.cfg.net != nil {
		addr := p.onion
		go e.cfg.net.Deauthorize(context.Background(), addr)
	}
	p.destroy()
	c.mb.peer = nil
	if err := c.id.st.Delete(kindMbPeer, c.key); err != nil {
		e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: forgetting a contact's mailbox: %w", err)})
	}
	c.mbNudge()
}

func targetName(t uint8) string {
	switch t {
	case targetPeer:
		return "its mailbox"
	case targetReply:
		return "our mailbox, its intake relation"
	}
	return "our mailbox"
}
