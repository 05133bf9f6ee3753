package sotto

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/sottochat/sotto/internal/record"
	"github.com/sottochat/sotto/internal/wire"
)

// Disappearing timers.
//
// A conversation's timer is off or between MinTimer and MaxTimer. Every text
// carries the timer its writer had set when writing it, and both sides use
// that value for it. The clock of a message starts when it is delivered: on
// the receiver's side when it has stored the message, on the sender's side
// when the acknowledgement arrives. A message waiting in the outbox does not
// expire. When the clock runs out the message is removed from memory and the
// vault on that side, and an ExpiredEvent is emitted. A timer change is itself
// a message (shown on both sides as a System line) and does not expire.

const (
	// MinTimer is the shortest disappearing timer.
	MinTimer = 30 * time.Second
	// MaxTimer is the longest disappearing timer (4 weeks).
	MaxTimer = 4 * 7 * 24 * time.Hour
	// MaxText is the longest message text, in bytes of UTF-8.
	MaxText = wire.MaxText
	// maxOutbox bounds the outbox of one conversation.
	maxOutbox = 10000
)

func messageFromRecord(c *contact, r *record.Message) *Message {
	m := &Message{
		Identity: c.id.name, Contact: c.rec.Petname, Dir: Direction(r.Dir), Kind: MessageKind(r.Kind),
		Text: r.Text, Timer: time.Duration(r.Timer) * time.Second, At: time.Unix(r.At, 0),
		State: Delivery(r.State), seq: r.Seq,
	}
	copy(m.ID[:], r.ID)
	if r.ExpiresAt != 0 {
		m.ExpiresAt = time.Unix(r.ExpiresAt, 0)
	}
	return m
}

func messageRecord(m *Message) *record.Message {
	r := &record.Message{
		V: record.Version, Seq: m.seq, ID: append([]byte(nil), m.ID[:]...), Dir: int(m.Dir), Kind: int(m.Kind),
		Text: m.Text, Timer: int64(m.Timer / time.Second), At: m.At.Unix(), State: int(m.State),
	}
	if !m.ExpiresAt.IsZero() {
		r.ExpiresAt = m.ExpiresAt.Unix()
	}
	return r
}

func sortMessages(ms []*Message) {
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].seq < ms[j].seq })
}

// storeMessageLocked appends a new message to the conversation (memory and
// store). It does not emit.
func (e *Engine) storeMessageLocked(c *contact, m *Message) error {
	m.seq = c.rec.Seq
	c.rec.Seq++
	b, err := record.Marshal(messageRecord(m))
	if err != nil {
		return err
	}
	if err := e.msgStore(c).Append(c.logMsgs(), hexID(m.ID), b); err != nil {
		return err
	}
	c.msgs = append(c.msgs, m)
	if !m.ExpiresAt.IsZero() {
		e.armExpiryLocked(c, m)
	}
	return nil
}

// rewriteMessageLocked stores a changed message (delivery state, expiry).
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

// MarkRead sets the contact's unread count to zero.
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

// Send queues a text for a contact and returns its ID. It is in the outbox
// (in the vault, unless the conversation keeps no history or the identity is
// ephemeral) when Send returns, and is delivered when both sides are online,
// across restarts. A SentEvent follows when it is written to a connection and
// a DeliveredEvent when the contact acknowledges it.
func (e *Engine) Send(ctx context.Context, identity, contact, text string) (MessageID, error) {
	if ctx == nil {
		return MessageID{}, ErrNilContext
	}
	if text == "" {
		return MessageID{}, fmt.Errorf("%w: the message is empty", ErrTooLong)
	}
	if len(text) > MaxText {
		return MessageID{}, fmt.Errorf("%w: at most %d bytes", ErrTooLong, MaxText)
	}
	if !utf8.ValidString(text) {
		return MessageID{}, fmt.Errorf("sotto: the message is not valid UTF-8")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, c, err := e.contactLocked(identity, contact)
	if err != nil {
		return MessageID{}, err
	}
	return e.queueLocked(c, TextMessage, text, time.Duration(c.rec.Timer)*time.Second, time.Time{})
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
		m.Dir = System
	}
	o := &outEntry{id: m.ID, rec: record.Outbox{
		V: record.Version, ID: append([]byte(nil), m.ID[:]...), Kind: int(kind), Text: text,
		Timer: int64(timer / time.Second), At: m.At.Unix(),
	}}
	b, err := record.Marshal(&o.rec)
	if err != nil {
		return MessageID{}, err
	}
	// The message first, then the outbox entry: a crash between the two
	// leaves a message shown as pending that is never sent, never the reverse.
	if err := e.storeMessageLocked(c, m); err != nil {
		return MessageID{}, fmt.Errorf("sotto: storing the message: %w", err)
	}
	if err := e.msgStore(c).Append(c.logOut(), hexID(m.ID), b); err != nil {
		return MessageID{}, fmt.Errorf("sotto: storing the message: %w", err)
	}
	c.outbox = append(c.outbox, o)
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
	// takes effect here and, unless the contact changes it at the same
	// moment, there too.
	at := e.cfg.now()
	if at.Unix() <= c.rec.TimerAt {
		at = time.Unix(c.rec.TimerAt+1, 0)
	}
	id, err := e.queueLocked(c, TimerMessage, "", d, at)
	if err != nil {
		return err
	}
	for _, m := range c.msgs {
		if m.ID == id {
			e.adoptTimerLocked(c, m.At.Unix(), id, d)
			e.ev.emit(MessageEvent{Message: *m})
		}
	}
	return e.saveContactLocked(c)
}

// adoptTimerLocked makes a timer change the conversation's timer unless a
// later change is already in force. Changes are ordered by (at, id), so when
// both sides change the timer at the same time they settle on the same one.
// It reports whether the change was adopted; the caller saves the contact.
func (e *Engine) adoptTimerLocked(c *contact, at int64, id MessageID, d time.Duration) bool {
	if at < c.rec.TimerAt || at == c.rec.TimerAt && bytes.Compare(id[:], c.rec.TimerID) <= 0 {
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
	for _, l := range []string{c.logMsgs(), c.logOut(), c.logSeen()} {
		if err := from.DropLog(l); err != nil {
			return err
		}
	}
	return nil
}

// ---- expiry ----

type expiryItem struct {
	at time.Time
	c  *contact
	id MessageID
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
		for e.expiry.Len() > 0 && !e.expiry[0].at.After(now) {
			it := heap.Pop(&e.expiry).(expiryItem)
			e.expireLocked(it.c, it.id)
		}
		wait := time.Hour
		if e.expiry.Len() > 0 {
			wait = e.expiry[0].at.Sub(now)
		}
		e.mu.Unlock()
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

func (e *Engine) expireLocked(c *contact, id MessageID) {
	if c.removed {
		return
	}
	for i, m := range c.msgs {
		if m.ID != id {
			continue
		}
		if err := e.msgStore(c).Remove(c.logMsgs(), hexID(id)); err != nil {
			e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: removing an expired message: %w", err)})
			// Try again soon: an expired message must not stay.
			e.expiry.push(expiryItem{at: e.cfg.now().Add(5 * time.Second), c: c, id: id})
			return
		}
		if m.Dir == Incoming {
			if err := e.rememberExpiredLocked(c, id); err != nil {
				e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: remembering an expired message: %w", err)})
			}
			if m.Kind == TextMessage && m.seq >= c.rec.ReadSeq && c.unread > 0 {
				c.unread--
			}
		}
		if m.Dir != Outgoing && m.seq >= c.rec.ReadSeq && c.inbox > 0 {
			c.inbox--
		}
		m.Text = ""
		c.msgs = append(c.msgs[:i], c.msgs[i+1:]...)
		e.ev.dropMessage(id)
		e.ev.emit(ExpiredEvent{Identity: c.id.name, Contact: c.rec.Petname, ID: id})
		e.fileExpiredLocked(c, id)
		return
	}
}
