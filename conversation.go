package sotto

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"slices"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/sottochat/sotto/internal/erase"
	"github.com/sottochat/sotto/internal/record"
	"github.com/sottochat/sotto/internal/wire"
)

// Disappearing timers (docs/PROTOCOL.md §2.9).
//
// A conversation's timer is off or between MinTimer and MaxTimer. Every text
// carries the timer its writer had set when writing it, and both sides use
// that value for it. The clock of a text starts:
//
//   - on the writer's side when it is written (Send): it expires from the
//     conversation, the outbox and the vault at the end of its timer whether
//     or not the contact acknowledged it (ExpiredEvent.Undelivered and a
//     NoticeExpiredUndelivered line if it had not);
//   - on the receiver's side when it is first shown to the user
//     ([Engine.MarkShown]); a text never shown expires at the latest its
//     timer plus UnshownGrace after it arrived (ExpiredEvent.Unread and a
//     NoticeExpiredUnread line).
//
// When a clock runs out (rounded up to the next second) the text is removed
// from memory, the event queue and the vault. A timer change is itself a
// message (a System line on both sides) and does not expire; nor do notices.
//
// Times from the contact are never trusted beyond MaxClockSkew: an `at`
// later than our clock plus MaxClockSkew is taken as our clock plus
// MaxClockSkew, so no change can claim a place in the order of timer changes
// that a later change of ours cannot take.

const (
	// MinTimer is the shortest disappearing timer.
	MinTimer = 30 * time.Second
	// MaxTimer is the longest disappearing timer (4 weeks).
	MaxTimer = 4 * 7 * 24 * time.Hour
	// MaxText is the longest message text, in bytes of UTF-8.
	MaxText = wire.MaxText
	// MaxClockSkew is how far ahead of our clock a contact's clock is
	// believed: a contact's time later than that is taken as our time plus
	// MaxClockSkew. Whonix and Tails shift clocks by a few minutes on purpose.
	MaxClockSkew = 10 * time.Minute
	// UnshownGrace bounds the life of a received disappearing text that is
	// never shown: it expires at the latest its timer plus UnshownGrace after
	// it arrived, so an unread text cannot wait for ever on a device that
	// may be seized. Shown earlier, it expires its timer after it was shown
	// (and still no later than that bound).
	UnshownGrace = 24 * time.Hour
	// maxOutbox bounds the outbox of one conversation.
	maxOutbox = 10000
)

// deadline is when a clock started at start with timer d runs out: rounded
// up to the next whole second.
func deadline(start time.Time, d time.Duration) time.Time {
	return start.Add(d).Truncate(time.Second).Add(time.Second)
}

// peerTime converts a contact's `at` (Unix seconds, the contact's clock) to a
// time no later than now plus MaxClockSkew. Every time a contact sends goes
// through it.
func peerTime(at uint64, now time.Time) time.Time {
	limit := now.Add(MaxClockSkew).Unix()
	if limit < 0 || at > uint64(limit) {
		return time.Unix(max(limit, 0), 0)
	}
	return time.Unix(int64(at), 0)
}

func messageFromRecord(c *contact, r *record.Message) *Message {
	m := &Message{
		Identity: c.id.name, Contact: c.rec.Petname, Dir: Direction(r.Dir), Kind: MessageKind(r.Kind),
		Text: r.Text, Timer: time.Duration(r.Timer) * time.Second, At: time.Unix(r.At, 0),
		State: Delivery(r.State), Unshown: r.Unshown, Superseded: r.Superseded, Notice: Notice(r.Notice), Count: r.Count,
		seq: r.Seq,
	}
	copy(m.ID[:], r.ID)
	switch {
	case m.Dir != System:
		m.By = m.Dir
	case r.By == 1:
		m.By = Outgoing
	case r.By == 2:
		m.By = Incoming
	default:
		m.By = System
	}
	if r.ExpiresAt != 0 {
		m.ExpiresAt = time.Unix(r.ExpiresAt, 0)
	}
	return m
}

func messageRecord(m *Message) *record.Message {
	r := &record.Message{
		V: record.Version, Seq: m.seq, ID: append([]byte(nil), m.ID[:]...), Dir: int(m.Dir), Kind: int(m.Kind),
		Text: m.Text, Timer: int64(m.Timer / time.Second), At: m.At.Unix(), State: int(m.State),
		Unshown: m.Unshown, Superseded: m.Superseded, Notice: int(m.Notice), Count: m.Count,
	}
	if !m.ExpiresAt.IsZero() {
		r.ExpiresAt = m.ExpiresAt.Unix()
	}
	if m.Dir == System {
		switch m.By {
		case Outgoing:
			r.By = 1
		case Incoming:
			r.By = 2
		}
	}
	return r
}

func sortMessages(ms []*Message) {
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].seq < ms[j].seq })
}

// storeMessageLocked appends a new message to the conversation (memory and
// store). It does not emit.
func (e *Engine) storeMessageLocked(c *contact, m *Message) error {
	return e.storeMessageAsLocked(c, m, false)
}

// storeMessageAsLocked is storeMessageLocked; with later, the store's write
// may wait for its next commit (appendLater): the caller makes sure that
// nothing depending on it happens before.
func (e *Engine) storeMessageAsLocked(c *contact, m *Message, later bool) error {
	m.seq = c.rec.Seq
	c.rec.Seq++
	b, err := record.Marshal(messageRecord(m))
	if err != nil {
		return err
	}
	st := e.msgStore(c)
	if later {
		err = appendLater(st, c.logMsgs(), hexID(m.ID), b)
	} else {
		err = st.Append(c.logMsgs(), hexID(m.ID), b)
	}
	if err != nil {
		return err
	}
	c.msgs = append(c.msgs, m)
	if !m.ExpiresAt.IsZero() {
		e.armExpiryLocked(c, m)
	}
	return nil
}

// rewriteMessageLocked stores a changed message (remove, then append).
// A crash between the two loses the message from the vault: the clocks of
// texts do not use it (MarkShown appends to the shown log instead).
func (e *Engine) rewriteMessageLocked(c *contact, m *Message) error {
	b, err := record.Marshal(messageRecord(m))
	if err != nil {
		return err
	}
	st := e.msgStore(c)
	if err := st.Remove(c.logMsgs(), hexID(m.ID)); err != nil {
		return err
	}
	return st.Append(c.logMsgs(), hexID(m.ID), b)
}

// Messages returns the conversation with a contact, oldest first.
func (e *Engine) Messages(identity, contact string) ([]Message, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, c, err := e.contactLocked(identity, contact)
	if err != nil {
		return nil, err
	}
	out := make([]Message, len(c.msgs))
	for i, m := range c.msgs {
		out[i] = *m
	}
	return out, nil
}

// Outbox lists the conversation's outbox, oldest first: our texts and
// timer changes that the contact has not acknowledged yet. An entry left at
// a mailbox, ours or the contact's, is Queued: it waits there for the
// contact. Any other is Pending, or Sent once written to a connection. It
// copies no text, so a caller may ask after every delivery event (the
// headless "wait" command does).
func (e *Engine) Outbox(identity, contact string) ([]OutboxEntry, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, c, err := e.contactLocked(identity, contact)
	if err != nil {
		return nil, err
	}
	out := make([]OutboxEntry, len(c.outbox))
	at := make(map[MessageID]int, len(c.outbox))
	for i, o := range c.outbox {
		out[i] = OutboxEntry{ID: o.id, Kind: MessageKind(o.rec.Kind), State: Pending}
		if _, ok := c.mb.deposits[o.id]; ok {
			out[i].State = Queued
		}
		at[o.id] = i
	}
	// Sent is the message's state. The outbox is the end of the
	// conversation, in the same order: walk back only as far as it goes.
	for i := len(c.msgs) - 1; i >= 0 && len(at) > 0; i-- {
		m := c.msgs[i]
		if j, ok := at[m.ID]; ok {
			delete(at, m.ID)
			if out[j].State == Pending && m.State == Sent {
				out[j].State = Sent
			}
		}
	}
	return out, nil
}

// MarkRead sets the contact's unread count to zero and lets a contact that
// sent too many unread messages send more. It does not start any
// disappearing clock: that is MarkShown's, for the texts really on screen.
func (e *Engine) MarkRead(identity, contact string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, c, err := e.contactLocked(identity, contact)
	if err != nil {
		return err
	}
	if c.full {
		// The contact's refused messages can come now.
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	c.inbox, c.full = 0, false
	if c.unread == 0 {
		return nil
	}
	c.unread = 0
	c.rec.ReadSeq = c.rec.Seq
	return e.saveContactLocked(c)
}

// MarkShown starts the disappearing clocks of received texts that the user
// now sees, and returns those whose clock started with this call (with
// their new ExpiresAt and Unshown false). A text's clock starts once, on the
// first call that names it; IDs of other messages, of texts without a timer
// or already shown are ignored. The start is stored, so it survives a
// restart.
//
// Call it only when the texts are really in front of the user: rendered in
// the visible part of an open conversation, on a terminal that is not
// locked, hidden or behind another screen. A UI that calls it for every
// message that arrives, or when a conversation is merely selected, brings
// back the bug it exists for: a message that disappears before anyone saw
// it while its sender sees it delivered. A consumer with no screen (a
// script reading `sotto headless`) is shown a text when it is handed the
// text; docs/headless.md says how headless does it.
func (e *Engine) MarkShown(identity, contact string, ids ...MessageID) ([]Message, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, c, err := e.contactLocked(identity, contact)
	if err != nil {
		return nil, err
	}
	want := make(map[MessageID]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	now := e.cfg.now()
	var started []Message
	for _, m := range c.msgs {
		if !want[m.ID] || !m.Unshown {
			continue
		}
		exp := deadline(now, m.Timer)
		if exp.After(m.ExpiresAt) {
			exp = m.ExpiresAt // never past the bound of its unshown life
		}
		b, err := record.Marshal(&record.Shown{V: record.Version, Exp: exp.Unix()})
		if err != nil {
			return started, err
		}
		// Its own log: the message record stays as it is, so no crash
		// can lose it (loading applies the shown log).
		if err := e.msgStore(c).Append(c.logShown(), hexID(m.ID), b); err != nil {
			return started, fmt.Errorf("sotto: storing that a message was shown: %w", err)
		}
		m.Unshown, m.ExpiresAt = false, exp
		e.armExpiryLocked(c, m)
		started = append(started, *m)
	}
	return started, nil
}

// Send queues a text for a contact and returns its ID. It is in the outbox
// (in the vault, unless the conversation keeps no history or the identity is
// ephemeral) when Send returns, and is delivered when both sides are online,
// across restarts. A SentEvent follows when it is written to a connection and
// a DeliveredEvent when the contact acknowledges it.
func (e *Engine) Send(ctx context.Context, identity, contact, text string) (MessageID, error) {
	id, stored, err := e.SendQueued(ctx, identity, contact, text)
	if err != nil {
		return MessageID{}, err
	}
	if err := stored(); err != nil {
		return MessageID{}, err
	}
	return id, nil
}

// SendQueued is Send in two halves, for a caller with many texts to send
// (headless pipelines a script's consecutive sends): it returns once the
// text is queued, after every text queued by an earlier call, and stored
// returns once it is on disk, as Send does. Only then is the text
// acknowledged: a text whose stored has not returned nil may be lost in a
// crash (it was never acknowledged), never one whose has. Texts queued
// while a commit is being written share the next one, so n texts in flight
// cost about one commit, not n.
func (e *Engine) SendQueued(ctx context.Context, identity, contact, text string) (id MessageID, stored func() error, err error) {
	if ctx == nil {
		return MessageID{}, nil, ErrNilContext
	}
	if text == "" {
		return MessageID{}, nil, fmt.Errorf("%w: the message is empty", ErrTooLong)
	}
	if len(text) > MaxText {
		return MessageID{}, nil, fmt.Errorf("%w: at most %d bytes", ErrTooLong, MaxText)
	}
	if !utf8.ValidString(text) {
		return MessageID{}, nil, fmt.Errorf("sotto: the message is not valid UTF-8")
	}
	e.mu.Lock()
	_, c, err := e.contactLocked(identity, contact)
	if err != nil {
		e.mu.Unlock()
		return MessageID{}, nil, err
	}
	id, err = e.queueLocked(c, TextMessage, text, time.Duration(c.rec.Timer)*time.Second, time.Time{})
	st := e.msgStore(c)
	var t *commitTicket
	var writerUp <-chan struct{}
	if err == nil {
		t = pendingTicket(st)
		if c.sess != nil {
			writerUp = c.sess.done
		}
	}
	e.mu.Unlock()
	if err != nil {
		return MessageID{}, nil, err
	}
	// The message and its outbox entry are deferred writes: the session's
	// writer, nudged, commits them with the state that seals them (one
	// commit on the message's path instead of two), else stored does.
	// Either way they are on disk before stored returns, and e.mu is not
	// held while they go.
	return id, func() error {
		if err := awaitStore(st, t, writerUp); err != nil {
			return fmt.Errorf("sotto: storing the message: %w", err)
		}
		return nil
	}, nil
}

func (e *Engine) queueLocked(c *contact, kind MessageKind, text string, timer time.Duration, at time.Time) (MessageID, error) {
	if len(c.outbox) >= maxOutbox {
		return MessageID{}, fmt.Errorf("sotto: the outbox of this conversation is full (%d messages wait for the contact)", maxOutbox)
	}
	if at.IsZero() {
		at = e.cfg.now()
	}
	m := &Message{
		ID: e.randomID(), Identity: c.id.name, Contact: c.rec.Petname, Dir: Outgoing, Kind: kind,
		Text: text, Timer: timer, At: at.Truncate(time.Second), State: Pending,
	}
	if kind == TimerMessage {
		m.Dir = System // By stays Outgoing: this side's user made it
	}
	if kind == TextMessage && timer > 0 {
		// The writer's clock starts now, delivered or not (§2.9).
		m.ExpiresAt = deadline(m.At, timer)
	}
	o := &outEntry{id: m.ID, rec: record.Outbox{
		V: record.Version, ID: append([]byte(nil), m.ID[:]...), Kind: int(kind), Text: text,
		Timer: int64(timer / time.Second), At: m.At.Unix(),
	}}
	b, err := record.Marshal(&o.rec)
	if err != nil {
		return MessageID{}, err
	}
	// The message and the outbox entry, deferred writes of one commit (a
	// crash leaves both or neither), which the caller sees through: Send
	// waits for it (awaitStore), SetTimer's contact save carries it.
	if err := e.storeMessageAsLocked(c, m, true); err != nil {
		return MessageID{}, fmt.Errorf("sotto: storing the message: %w", err)
	}
	if err := appendLater(e.msgStore(c), c.logOut(), hexID(m.ID), b); err != nil {
		return MessageID{}, fmt.Errorf("sotto: storing the message: %w", err)
	}
	c.outbox = append(c.outbox, o)
	c.deliverMisses = 0 // something new to deliver: its dial goes first again
	c.nudge()
	return m.ID, nil
}

// SetTimer changes the conversation's disappearing timer (0 = off, else
// MinTimer..MaxTimer). The change is sent to the contact as a message and
// shown on both sides; it applies to messages written after it.
func (e *Engine) SetTimer(ctx context.Context, identity, contact string, d time.Duration) error {
	if ctx == nil {
		return ErrNilContext
	}
	if d != 0 && (d < MinTimer || d > MaxTimer) || d%time.Second != 0 {
		return ErrBadTimer
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, c, err := e.contactLocked(identity, contact)
	if err != nil {
		return err
	}
	// A change made here is later than any change already in force, so it
	// always takes effect here and, unless the contact changes it at the
	// same moment, there too. The change in force counts as no later than
	// now plus MaxClockSkew (peerTime bounds a contact's), so the +1
	// cannot overflow.
	at := e.timerAtLocked(c)
	id, err := e.queueLocked(c, TimerMessage, "", d, at)
	if err != nil {
		return err
	}
	for _, m := range c.msgs {
		if m.ID == id {
			if !e.adoptTimerLocked(c, m.At.Unix(), id, d) {
				// Cannot happen: at is after the change in force.
				return fmt.Errorf("sotto: the timer change was not ordered after the one in force")
			}
			e.ev.emit(MessageEvent{Message: *m})
		}
	}
	return e.saveContactLocked(c)
}

// timerAtLocked is the `at` of a new timer change of ours: now, or one second
// after the change in force if that is later (a contact's clock may be a
// little ahead).
func (e *Engine) timerAtLocked(c *contact) time.Time {
	at := e.cfg.now().Truncate(time.Second)
	if cur := e.timerInForceAtLocked(c); at.Unix() <= cur {
		at = time.Unix(cur+1, 0)
	}
	return at
}

// timerInForceAtLocked is the `at` of the change in force, as it counts for
// ordering: never later than now plus MaxClockSkew, so a change stored while
// a clock (ours, or a contact's before times were bounded) was far ahead
// cannot outrank every later one.
func (e *Engine) timerInForceAtLocked(c *contact) int64 {
	limit := max(e.cfg.now().Add(MaxClockSkew).Unix(), 0)
	return min(c.rec.TimerAt, limit)
}

// adoptTimerLocked makes a timer change the conversation's timer unless a
// later change is already in force. Changes are ordered by (at, id), so when
// both sides change the timer at the same time they settle on the same one.
// It reports whether the change was adopted; the caller saves the contact.
func (e *Engine) adoptTimerLocked(c *contact, at int64, id MessageID, d time.Duration) bool {
	cur := e.timerInForceAtLocked(c)
	if at < cur || at == cur && bytes.Compare(id[:], c.rec.TimerID) <= 0 {
		return false
	}
	c.rec.Timer = int64(d / time.Second)
	c.rec.TimerAt = at
	c.rec.TimerID = append([]byte(nil), id[:]...)
	return true
}

// SetHistory chooses whether the conversation is kept in the vault (true) or
// in memory only (false). Switching to memory only removes the stored
// conversation from the vault at once; switching back stores what is in
// memory from then on.
func (e *Engine) SetHistory(identity, contact string, keep bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, c, err := e.contactLocked(identity, contact)
	if err != nil {
		return err
	}
	if keep == !c.rec.NoHist {
		return nil
	}
	from := e.msgStore(c)
	c.rec.NoHist = !keep
	to := e.msgStore(c)
	if from == to {
		return e.saveContactLocked(c)
	}
	// Move the conversation, the outbox and the seen IDs.
	for _, m := range c.msgs {
		b, err := record.Marshal(messageRecord(m))
		if err != nil {
			return err
		}
		if err := to.Append(c.logMsgs(), hexID(m.ID), b); err != nil {
			return err
		}
	}
	for _, o := range c.outbox {
		b, err := record.Marshal(&o.rec)
		if err != nil {
			return err
		}
		if err := to.Append(c.logOut(), hexID(o.id), b); err != nil {
			return err
		}
	}
	for _, id := range c.seenLog {
		if err := to.Append(c.logSeen(), hexID(id), []byte{1}); err != nil {
			return err
		}
	}
	if err := e.saveContactLocked(c); err != nil {
		return err
	}
	// The shown log is not moved: the messages were written above as they
	// are in memory, their clocks included.
	for _, l := range []string{c.logMsgs(), c.logOut(), c.logSeen(), c.logShown()} {
		if err := from.DropLog(l); err != nil {
			return err
		}
	}
	return nil
}

// ---- expiry ----

type expiryItem struct {
	at      time.Time
	c       *contact
	id      MessageID
	noticed bool // its notice is written (a retry after a failed removal)
}

type expiryHeap []expiryItem

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryItem)) }
func (h *expiryHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
func (h *expiryHeap) push(it expiryItem) { heap.Push(h, it) }
func (h *expiryHeap) removeContact(c *contact) {
	kept := (*h)[:0]
	for _, it := range *h {
		if it.c != c {
			kept = append(kept, it)
		}
	}
	*h = kept
	heap.Init(h)
}

func (e *Engine) armExpiryLocked(c *contact, m *Message) {
	e.expiry.push(expiryItem{at: m.ExpiresAt, c: c, id: m.ID})
	select {
	case e.tick <- struct{}{}:
	default:
	}
}

// expiryLoop removes messages whose timer ran out. It is owned by the engine.
func (e *Engine) expiryLoop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		e.mu.Lock()
		now := e.cfg.now()
		var due []expiryItem
		expired := false
		for e.expiry.Len() > 0 && !e.expiry[0].at.After(now) {
			due = append(due, heap.Pop(&e.expiry).(expiryItem))
		}
		if len(due) > 0 {
			e.expireLocked(due, now)
			expired = true
		}
		wait := time.Hour
		if e.expiry.Len() > 0 {
			wait = e.expiry[0].at.Sub(now)
		}
		e.mu.Unlock()
		if expired {
			erase.Collect() // zero, now, the memory that held the expired texts
		}
		if wait > time.Second {
			wait = time.Second // the clock may be a test clock; look again often
		}
		timer.Reset(wait)
		select {
		case <-e.ctx.Done():
			return
		case <-e.tick:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// expiring is a message whose clock ran out, with what the user is told.
type expiring struct {
	it          expiryItem
	m           *Message
	unread      bool // an incoming text never shown
	undelivered bool // one of ours still in the outbox
}

// noticeCount counts, per conversation, the texts a notice is about.
type noticeCount struct {
	c                   *contact
	unread, undelivered int
}

// expireLocked removes the messages of due whose clock ran out. The notices
// of one pass are written first, one per conversation and kind, so that a
// crash during the removals repeats a notice rather than losing one.
func (e *Engine) expireLocked(due []expiryItem, now time.Time) {
	var xs []expiring
	var counts []*noticeCount
	byContact := map[*contact]*noticeCount{}
	for _, it := range due {
		if it.c.removed {
			continue
		}
		m := it.c.message(it.id)
		if m == nil || m.ExpiresAt.IsZero() || m.ExpiresAt.After(now) {
			continue // gone already, or its clock moved (MarkShown)
		}
		x := expiring{it: it, m: m, unread: m.Dir == Incoming && m.Unshown}
		x.undelivered = m.Dir == Outgoing && it.c.outboxIndex(it.id) >= 0
		xs = append(xs, x)
		if it.noticed || !x.unread && !x.undelivered {
			continue
		}
		nc := byContact[it.c]
		if nc == nil {
			nc = &noticeCount{c: it.c}
			byContact[it.c] = nc
			counts = append(counts, nc)
		}
		if x.unread {
			nc.unread++
		} else {
			nc.undelivered++
		}
	}
	for _, nc := range counts {
		for _, n := range []struct {
			kind  Notice
			count int
		}{{NoticeExpiredUnread, nc.unread}, {NoticeExpiredUndelivered, nc.undelivered}} {
			if n.count == 0 {
				continue
			}
			if err := e.noticeLocked(nc.c, n.kind, n.count); err != nil {
				e.ev.emit(ErrorEvent{Err: err})
			}
		}
	}
	for _, x := range xs {
		if err := e.removeExpiredLocked(x); err != nil {
			e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: removing an expired message: %w", err)})
			// Try again soon: an expired message must not stay.
			e.expiry.push(expiryItem{at: now.Add(5 * time.Second), c: x.it.c, id: x.it.id, noticed: true})
		}
	}
}

// removeExpiredLocked removes one expired message from the conversation,
// the outbox, the vault and the event queue, and reports it.
func (e *Engine) removeExpiredLocked(x expiring) error {
	c, m, id := x.it.c, x.m, x.m.ID
	st := e.msgStore(c)
	// The message first, then its outbox entry: a crash between the two
	// leaves an outbox entry whose clock has run out, which loading drops
	// with a notice; never a message that is sent after it expired. Memory
	// changes only once both are gone, so a retry finds them as they were
	// (removing what is gone already is a no-op).
	if err := st.Remove(c.logMsgs(), hexID(id)); err != nil {
		return err
	}
	if x.undelivered {
		if err := st.Remove(c.logOut(), hexID(id)); err != nil {
			return err
		}
		if i := c.outboxIndex(id); i >= 0 {
			c.outbox[i].rec.Text = ""
			c.outbox = slices.Delete(c.outbox, i, i+1)
		}
	}
	if m.Dir == Incoming && m.Kind == TextMessage && m.Timer > 0 {
		if err := st.Remove(c.logShown(), hexID(id)); err != nil {
			return err
		}
	}
	if m.Dir == Incoming {
		if err := e.rememberExpiredLocked(c, id); err != nil {
			e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: remembering an expired message: %w", err)})
		}
	}
	if countsUnread(m) && m.seq >= c.rec.ReadSeq && c.unread > 0 {
		c.unread--
	}
	if m.Dir != Outgoing && m.seq >= c.rec.ReadSeq && c.inbox > 0 {
		c.inbox--
	}
	m.Text = ""
	if i := c.messageIndex(id); i >= 0 {
		// slices.Delete clears the slot left over at the end, which would
		// keep the message reachable (and its memory unzeroed, T22).
		c.msgs = slices.Delete(c.msgs, i, i+1)
	}
	e.ev.dropMessage(id)
	e.ev.emit(ExpiredEvent{Identity: c.id.name, Contact: c.rec.Petname, ID: id, Unread: x.unread, Undelivered: x.undelivered})
	e.fileExpiredLocked(c, id)
	return nil
}

func (c *contact) messageIndex(id MessageID) int {
	for i, m := range c.msgs {
		if m.ID == id {
			return i
		}
	}
	return -1
}

func (c *contact) message(id MessageID) *Message {
	if i := c.messageIndex(id); i >= 0 {
		return c.msgs[i]
	}
	return nil
}

func (c *contact) outboxIndex(id MessageID) int {
	for i, o := range c.outbox {
		if o.id == id {
			return i
		}
	}
	return -1
}
