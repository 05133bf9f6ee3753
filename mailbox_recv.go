package sotto

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sort"
	"time"

	"github.com/sottochat/sotto/internal/wire"
	"github.com/sottochat/sotto/mailbox"
	"github.com/sottochat/sotto/onion"
)

// What is done with collected blobs (docs/PROTOCOL.md §3.8), and the
// mailbox messages of sessions (§3.7).

// receiveItemsLocked handles the items collected from a relation of
// contact c, in the mailbox's order, and returns the IDs to delete at the
// mailbox: all of them. What it stored is stored (and the ratchet State
// persisted) before it returns; a blob that is not valid, does not decrypt
// or is not a bundle is dropped without any other effect.
func (e *Engine) receiveItemsLocked(c *contact, items []mailbox.Item) [][mailbox.ItemLen]byte {
	type got struct {
		seq   uint64
		inner []*wire.Message
	}
	var bundles []got
	var del [][mailbox.ItemLen]byte
	expired, dropped := 0, 0
	for _, it := range items {
		del = append(del, it.ID)
		if c.removed {
			continue
		}
		if it.Kind == mailbox.ItemExpired {
			expired += int(it.Count)
			continue
		}
		recs, err := mailbox.Unpack(it.Blob)
		if err != nil {
			dropped++
			continue
		}
		for _, rec := range recs {
			switch rec.Type {
			case mailbox.RecAsync2:
				// The answer to our sealed contact request (tipline.go).
				e.finishAsyncLocked(c, rec.Payload)
			case mailbox.RecRatchet:
				m, err := e.openLocked(c, rec.Payload)
				if err != nil || m.Kind != wire.KindBundle {
					dropped++
					continue
				}
				bundles = append(bundles, got{seq: m.MB.Seq, inner: m.MB.Inner})
			default:
				dropped++
			}
		}
	}
	if dropped > 0 {
		e.cfg.logf("%s <- %s: mailbox: %d blobs dropped (not valid, not decryptable or not a bundle)", c.id.name, c.rec.Petname, dropped)
	}
	if c.removed {
		return del
	}
	// A mailbox may return blobs out of order: the bundles of one
	// collection are handled in the order their sender made them.
	sort.SliceStable(bundles, func(i, j int) bool { return bundles[i].seq < bundles[j].seq })
	late := false
	seqIn := c.mb.seqIn
	for _, b := range bundles {
		fresh := false
		for _, m := range b.inner {
			isNew, err := e.mailboxInnerLocked(c, m)
			if err != nil {
				e.cfg.logf("%s <- %s: mailbox: a message of kind %d: %v", c.id.name, c.rec.Petname, m.Kind, err)
				e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: %s/%s: a message from the mailbox: %w", c.id.name, c.rec.Petname, err)})
				break
			}
			fresh = fresh || isNew
		}
		if b.seq < seqIn && fresh {
			late = true
		}
		c.mb.seqIn = max(c.mb.seqIn, b.seq)
	}
	if c.mb.seqIn != seqIn {
		if err := c.id.st.Put(kindMbSeq, c.key, marshalSeq(c.mb.seqOut, c.mb.seqIn)); err != nil {
			e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: saving a mailbox counter: %w", err)})
		}
	}
	if err := e.flushStateLocked(c); err != nil {
		e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: saving a conversation's keys: %w", err)})
	}
	if late {
		e.ev.emit(MailboxUnorderedEvent{Identity: c.id.name, Contact: c.rec.Petname})
	}
	if expired > 0 {
		e.expiredAtMailboxLocked(c, expired)
	}
	return del
}

// mailboxInnerLocked handles one message of a bundle as a session would.
// isNew reports a text or timer change stored for the first time.
func (e *Engine) mailboxInnerLocked(c *contact, m *wire.Message) (isNew bool, err error) {
	switch m.Kind {
	case wire.KindText, wire.KindTimer:
		id := MessageID(m.ID)
		if !c.seen[id] {
			if c.inbox >= e.maxUnread {
				// Not stored, not acknowledged: the contact keeps it.
				return false, nil
			}
			if err := e.receiveLocked(c, m); err != nil {
				return false, err
			}
			isNew = true
		}
		e.oweAckLocked(c, id)
	case wire.KindAck:
		for _, id := range m.Acks {
			if err := e.ackedLocked(c, MessageID(id)); err != nil {
				return false, err
			}
		}
	case wire.KindMailbox, wire.KindMailboxOK, wire.KindMailboxOff:
		return false, e.mailboxMsgLocked(c, m)
	}
	return isNew, nil
}

func (e *Engine) oweAckLocked(c *contact, id MessageID) {
	for _, a := range c.mb.acks {
		if a == id {
			return
		}
	}
	if len(c.mb.acks) == 0 {
		c.mb.acksAt = time.Now()
	}
	if len(c.mb.acks) < maxOutbox {
		c.mb.acks = append(c.mb.acks, id)
	}
	c.mbNudge()
}

// sessionMailboxMsgLocked handles a mailbox message that came on a session.
func (e *Engine) sessionMailboxMsgLocked(s *session, m *wire.Message) error {
	switch m.Kind {
	case wire.KindMailbox, wire.KindMailboxOK, wire.KindMailboxOff:
		if err := e.mailboxMsgLocked(s.c, m); err != nil {
			return err
		}
		if s.c.mb.okDue != 0 {
			s.c.mb.offered = nil
			s.nudge() // the confirmation goes out on this session
		}
		return nil
	}
	return errDrop
}

// mailboxMessagesLocked are the mailbox messages to send on session s: once
// per session, and again when they change.
func (e *Engine) mailboxMsgsLocked(c *contact, s *session) []*wire.Message {
	if c.mb.offered == s {
		return nil
	}
	c.mb.offered = s
	out := e.controlMsgsLocked(c)
	if c.mb.okDue != 0 {
		c.mb.okDue = 0 // a lost confirmation is asked for again by the offer
	}
	return out
}

// mailboxMsgLocked handles an offer, a confirmation or a withdrawal.
func (e *Engine) mailboxMsgLocked(c *contact, m *wire.Message) error {
	mb := m.MB
	defer mb.Wipe()
	switch m.Kind {
	case wire.KindMailbox:
		return e.takeOfferLocked(c, mb)
	case wire.KindMailboxOK:
		r := c.mb.rel
		if r == nil || mb.Serial != r.rec.Serial || r.rec.Confirmed {
			return nil
		}
		if r.rec.Off {
			// It stopped using our old mailbox: the relation is done.
			r.destroy()
			c.mb.rel = nil
			return c.id.st.Delete(kindMbRel, c.key)
		}
		r.rec.Confirmed = true
		c.mbNudge() // our mailbox is now a target for it
		e.replyDoneLocked(c)
		return e.saveRelLocked(c)
	case wire.KindMailboxOff:
		if p := c.mb.peer; p != nil && p.rec.Serial <= mb.Serial {
			e.dropPeerLocked(c)
		}
		c.mb.okDue = mb.Serial
		c.mbNudge()
	}
	return nil
}

// takeOfferLocked stores a contact's offer (a newer serial replaces an
// older one) and confirms it.
func (e *Engine) takeOfferLocked(c *contact, mb *wire.Mailbox) error {
	if p := c.mb.peer; p != nil && mb.Serial < p.rec.Serial {
		return nil // an old offer, delivered late
	}
	if p := c.mb.peer; p == nil || mb.Serial > p.rec.Serial {
		if len(ed25519.PublicKey(mb.Service[:])) != ed25519.PublicKeySize || mb.Service == ([32]byte{}) {
			return nil
		}
		r := &mbPeerRec{Serial: mb.Serial, MaxAge: mb.MaxAge, Service: mb.Service, AuthPriv: mb.Auth, Token: mb.Token}
		defer r.wipe()
		b := r.marshal()
		err := c.id.st.Put(kindMbPeer, c.key, b)
		clear(b)
		if err != nil {
			return fmt.Errorf("sotto: saving a contact's mailbox: %w", err)
		}
		np, err := e.newPeer(r)
		if err != nil {
			return err
		}
		if old := c.mb.peer; old != nil {
			if old.authorized && old.onion != np.onion && e.cfg.net != nil {
				addr := old.onion
				go e.cfg.net.Deauthorize(context.Background(), addr)
			}
			old.destroy()
		}
		c.mb.peer = np
		c.mb.polled = time.Time{}
		e.cfg.logf("%s <- %s: mailbox offer %d (%s)", c.id.name, c.rec.Petname, mb.Serial, onion.Abbrev(np.onion))
	}
	c.mb.okDue = mb.Serial
	c.mbNudge()
	return nil
}

// expiredAtMailboxLocked tells the user that n blobs of the conversation
// were deleted unread at a mailbox when their disappearing time was up.
func (e *Engine) expiredAtMailboxLocked(c *contact, n int) {
	e.ev.emit(ExpiredUnreadEvent{Identity: c.id.name, Contact: c.rec.Petname, Count: n})
}

// ExpiredUnreadEvent reports that Count messages of a disappearing
// conversation expired at a mailbox before they were collected: they are
// gone, unread.
type ExpiredUnreadEvent struct {
	Identity, Contact string
	Count             int
}

func (ExpiredUnreadEvent) isEvent() {}
