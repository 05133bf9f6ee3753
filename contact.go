package sotto

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/sottochat/sotto/internal/record"
	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/ratchet"
)

// contact is one contact of an identity with its conversation. All fields
// are guarded by Engine.mu.
type contact struct {
	id      *identity
	key     string // storage key: identity key "." random
	rec     record.Contact
	pub     ed25519.PublicKey
	onion   string
	ratchet secretBox  // serialized conversation state; nil before the first handshake
	live    *liveState // while a session is up: the state in locked memory, ahead of ratchet (livestate.go)

	msgs    []*Message // the conversation, in order
	outbox  []*outEntry
	seen    map[MessageID]bool // received IDs, for dropping duplicates
	seenQ   []MessageID        // the same, oldest first, bounded by maxSeen
	seenLog []MessageID        // IDs in the seen log (expired incoming messages), oldest first
	unread  int                // incoming texts with seq >= rec.ReadSeq
	inbox   int                // incoming texts and timer lines with seq >= rec.ReadSeq, for maxUnread
	full    bool               // ErrTooManyUnread was reported since the last MarkRead

	stateDirty bool // c.ratchet holds decryptions not yet stored (stored before the next encryption)

	sess      *session           // the connection in use, if any
	hsGen     uint64             // bumped by every handshake that claims the contact; the latest wins
	dialing   bool               // our dial is waiting for tor: no stream to the contact yet
	outActive bool               // our dial reached the contact: its handshake is under way
	hsOut     context.CancelFunc // cancels our dial, in either phase
	wake      chan struct{}      // nudges the dialer
	// deliverMisses counts our dials that failed in a row while the
	// outbox held something, since a text or timer change was last queued
	// or a session last ran: past maxDeliverMisses its dials leave the
	// deliver class (dialClassLocked).
	deliverMisses int
	stopDial      context.CancelFunc
	dialDone      chan struct{}
	removed       bool

	mb contactMailbox // mailboxes with this contact (mailbox.go)
}

// outEntry is a message in the outbox, waiting for its acknowledgement.
type outEntry struct {
	rec record.Outbox
	id  MessageID
}

// maxSeen bounds the received IDs remembered per conversation beyond those of
// the messages still shown; a sender retries only unacknowledged messages,
// which are always among the most recent.
const maxSeen = 4096

func (c *contact) info() ContactInfo {
	ci := ContactInfo{
		Identity: c.id.name, Name: c.rec.Petname, Onion: c.onion, Verified: c.rec.Verified,
		Online: c.sess != nil, Unread: c.unread, Timer: time.Duration(c.rec.Timer) * time.Second,
		History: !c.rec.NoHist,
	}
	if n := len(c.msgs); n > 0 {
		ci.Last = c.msgs[n-1].At
	}
	return ci
}

func (c *contact) wipe() {
	if c.live != nil {
		c.live.buf.Destroy()
		c.live = nil
	}
	if c.ratchet != nil {
		c.ratchet.Destroy()
		c.ratchet = nil
	}
	for _, m := range c.msgs {
		m.Text = ""
	}
	c.msgs = nil
	c.outbox = nil
}

func (c *contact) logMsgs() string { return "msg." + c.key }
func (c *contact) logOut() string  { return "out." + c.key }
func (c *contact) logSeen() string { return "seen." + c.key }

// logShown holds the clock starts of received texts (MarkShown).
func (c *contact) logShown() string { return "shown." + c.key }

// msgStore is where the conversation's messages are kept: memory only when
// the conversation keeps no history.
func (e *Engine) msgStore(c *contact) store {
	if c.rec.NoHist {
		return e.mem
	}
	return c.id.st
}

func (e *Engine) saveContactLocked(c *contact) error {
	b, err := record.Marshal(&c.rec)
	if err != nil {
		return err
	}
	return c.id.st.Put(kindContact, c.key, b)
}

func (e *Engine) loadContacts(id *identity) error {
	keys, err := id.st.Keys(kindContact)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, id.key+".") {
			continue
		}
		b, err := id.st.Get(kindContact, k)
		if err != nil {
			return err
		}
		c := &contact{id: id, key: k, seen: map[MessageID]bool{}, wake: make(chan struct{}, 1)}
		if err := record.Unmarshal(b, &c.rec); err != nil {
			return err
		}
		c.pub = ed25519.PublicKey(c.rec.ID)
		c.onion = onion.AddressFromPublicKey(c.pub)
		if st, err := id.st.Get(kindRatchet, k); err == nil && ratchet.IsOldState(st) {
			if err := e.dropOldStateLocked(c, st); err != nil {
				return err
			}
		} else if err == nil {
			if c.ratchet, err = e.cfg.newSecret(st); err != nil {
				return err
			}
		} else if err != errNotFound {
			return err
		}
		if err := e.loadConversation(c); err != nil {
			return err
		}
		if err := e.upgradeVerifiedLocked(c); err != nil {
			return err
		}
		id.contacts[c.rec.Petname] = c
		id.byPub[string(c.pub)] = c
	}
	return nil
}

func (e *Engine) loadConversation(c *contact) error {
	now := e.cfg.now()
	// New messages are numbered after everything read or stored before.
	c.rec.Seq = max(c.rec.Seq, c.rec.ReadSeq)
	var all []*Message
	err := e.msgStore(c).ReadLog(c.logMsgs(), func(lid string, v []byte) error {
		var r record.Message
		if err := record.Unmarshal(v, &r); err != nil {
			return err
		}
		all = append(all, messageFromRecord(c, &r))
		return nil
	})
	if err != nil {
		return err
	}
	err = e.msgStore(c).ReadLog(c.logOut(), func(lid string, v []byte) error {
		var r record.Outbox
		if err := record.Unmarshal(v, &r); err != nil {
			return err
		}
		o := &outEntry{rec: r}
		copy(o.id[:], r.ID)
		c.outbox = append(c.outbox, o)
		return nil
	})
	if err != nil {
		return err
	}
	// The clock starts of received texts (MarkShown).
	shown := map[MessageID]time.Time{}
	err = e.msgStore(c).ReadLog(c.logShown(), func(lid string, v []byte) error {
		var id MessageID
		var r record.Shown
		if err := id.UnmarshalText([]byte(lid)); err != nil {
			return fmt.Errorf("%w: shown id", record.ErrBad)
		}
		if err := record.Unmarshal(v, &r); err != nil {
			return err
		}
		shown[id] = time.Unix(r.Exp, 0)
		return nil
	})
	if err != nil {
		return err
	}
	// The writer's clock started when the text was written (§2.9): an
	// outbox entry whose clock ran out goes, with its message.
	waiting := map[MessageID]bool{}
	var expiredOut []string
	undelivered := 0
	kept := c.outbox[:0]
	for _, o := range c.outbox {
		if o.rec.Kind == int(TextMessage) && o.rec.Timer > 0 &&
			!deadline(time.Unix(o.rec.At, 0), time.Duration(o.rec.Timer)*time.Second).After(now) {
			expiredOut = append(expiredOut, hexID(o.id))
			undelivered++
			o.rec.Text = ""
			continue
		}
		waiting[o.id] = true
		kept = append(kept, o)
	}
	clear(c.outbox[len(kept):])
	c.outbox = kept
	var expired []string
	unread := 0
	for _, m := range all {
		if exp, ok := shown[m.ID]; ok && m.Unshown {
			m.Unshown = false
			if exp.Before(m.ExpiresAt) {
				m.ExpiresAt = exp
			}
		}
		delete(shown, m.ID)
		if m.Dir == Outgoing && m.Kind == TextMessage && m.Timer > 0 && m.ExpiresAt.IsZero() {
			// Written by a version whose clock started at the ack.
			m.ExpiresAt = deadline(m.At, m.Timer)
		}
		if !m.ExpiresAt.IsZero() && !m.ExpiresAt.After(now) {
			expired = append(expired, hexID(m.ID))
			if m.Dir == Incoming && m.Unshown {
				unread++
			}
			m.Text = ""
			continue
		}
		c.msgs = append(c.msgs, m)
		if m.Dir == Incoming {
			c.seenAdd(m.ID)
		}
		if countsUnread(m) && m.seq >= c.rec.ReadSeq {
			c.unread++
		}
		if m.Dir != Outgoing && m.Kind != NoticeMessage && m.seq >= c.rec.ReadSeq {
			c.inbox++ // incoming texts, and timer lines (ours too: they cannot be told apart here)
		}
		if m.seq >= c.rec.Seq {
			c.rec.Seq = m.seq + 1
		}
		if !m.ExpiresAt.IsZero() {
			e.expiry.push(expiryItem{at: m.ExpiresAt, c: c, id: m.ID})
		}
	}
	sortMessages(c.msgs)
	// An outgoing message is delivered unless it is still in the outbox.
	for _, m := range c.msgs {
		if m.Dir == Outgoing {
			if waiting[m.ID] {
				m.State = Pending
			} else {
				m.State = Delivered
			}
		}
	}
	// What expired while the profile was closed: the notices first, so a
	// crash before the removals repeats them rather than loses them.
	if unread > 0 {
		if err := e.noticeLocked(c, NoticeExpiredUnread, unread); err != nil {
			return err
		}
	}
	if undelivered > 0 {
		if err := e.noticeLocked(c, NoticeExpiredUndelivered, undelivered); err != nil {
			return err
		}
	}
	if len(expired) > 0 {
		if err := e.msgStore(c).Remove(c.logMsgs(), expired...); err != nil {
			return err
		}
	}
	if len(expiredOut) > 0 {
		if err := e.msgStore(c).Remove(c.logOut(), expiredOut...); err != nil {
			return err
		}
	}
	// Clock starts of messages that are gone (expired here, or a crash
	// between the removal of a message and of its clock start).
	for _, id := range expired {
		var mid MessageID
		if mid.UnmarshalText([]byte(id)) == nil {
			shown[mid] = time.Time{}
		}
	}
	if len(shown) > 0 {
		ids := make([]string, 0, len(shown))
		for id := range shown {
			ids = append(ids, hexID(id))
		}
		if err := e.msgStore(c).Remove(c.logShown(), ids...); err != nil {
			return err
		}
	}
	var seenLog []MessageID
	err = e.msgStore(c).ReadLog(c.logSeen(), func(lid string, v []byte) error {
		var id MessageID
		if err := id.UnmarshalText([]byte(lid)); err != nil {
			return fmt.Errorf("%w: seen id", record.ErrBad)
		}
		seenLog = append(seenLog, id)
		return nil
	})
	if err != nil {
		return err
	}
	// Oldest first: the seen log, then the messages still held.
	held := c.seenQ
	c.seenQ, c.seen = nil, map[MessageID]bool{}
	for _, id := range seenLog {
		c.seenAdd(id)
	}
	for _, id := range held {
		c.seenAdd(id)
	}
	c.seenLog = seenLog
	return nil
}

// rememberExpiredLocked keeps the ID of an expired incoming message in the
// seen log, so that a late re-send of it is still dropped; the log is
// trimmed to the newest maxSeen IDs now and then.
func (e *Engine) rememberExpiredLocked(c *contact, id MessageID) error {
	st := e.msgStore(c)
	if err := st.Append(c.logSeen(), hexID(id), []byte{1}); err != nil {
		return err
	}
	c.seenLog = append(c.seenLog, id)
	if len(c.seenLog) > maxSeen+maxSeen/4 {
		n := len(c.seenLog) - maxSeen
		ids := make([]string, n)
		for i, old := range c.seenLog[:n] {
			ids[i] = hexID(old)
		}
		if err := st.Remove(c.logSeen(), ids...); err != nil {
			return err
		}
		c.seenLog = append([]MessageID(nil), c.seenLog[n:]...)
	}
	return nil
}

func (c *contact) seenAdd(id MessageID) {
	if c.seen[id] {
		return
	}
	c.seen[id] = true
	c.seenQ = append(c.seenQ, id)
	if len(c.seenQ) > maxSeen {
		delete(c.seen, c.seenQ[0])
		c.seenQ = c.seenQ[1:]
	}
}

// AddContact adds the owner of a contact code as a contact of identity under
// petname. The identity's onion service is re-published to authorise the
// contact's client-auth key, and the engine starts trying to connect.
func (e *Engine) AddContact(ctx context.Context, identity, petname, code string) (ContactInfo, error) {
	if ctx == nil {
		return ContactInfo{}, ErrNilContext
	}
	if !record.ValidName(petname) {
		return ContactInfo{}, fmt.Errorf("%w: a petname is 1 to %d printable characters", ErrBadName, record.MaxName)
	}
	ccID, ccAuth, intake, err := parseAnyCode(code) // a contact code, or a tip code (tipline.go)
	if err != nil {
		return ContactInfo{}, err
	}
	e.mu.Lock()
	id, err := e.identityLocked(identity)
	if err != nil {
		e.mu.Unlock()
		return ContactInfo{}, err
	}
	c, err := e.addContactLocked(id, petname, ccID, ccAuth)
	if err != nil {
		e.mu.Unlock()
		return ContactInfo{}, err
	}
	if err := e.setTipLocked(c, intake); err != nil {
		e.mu.Unlock()
		return ContactInfo{}, err
	}
	info := c.info()
	e.mu.Unlock()
	e.republish(ctx, id)
	return info, nil
}

func (e *Engine) addContactLocked(id *identity, petname string, pub ed25519.PublicKey, auth [32]byte) (*contact, error) {
	for _, other := range e.ids {
		if other.pub.Equal(pub) {
			return nil, ErrSelf
		}
	}
	if _, ok := id.contacts[petname]; ok {
		return nil, fmt.Errorf("%w: the petname is taken", ErrContactExists)
	}
	if err := id.roomForContact(); err != nil {
		return nil, err
	}
	if err := onion.CheckClientAuthKey(&auth); err != nil {
		return nil, fmt.Errorf("%w: its client-authorization key is not a usable key (all zero or of small order): the code was forged or damaged", ErrBadCode)
	}
	if _, ok := id.byPub[string(pub)]; ok {
		return nil, fmt.Errorf("%w: that code is already a contact of this identity", ErrContactExists)
	}
	for _, other := range e.ids {
		if oc, ok := other.byPub[string(pub)]; ok && other != id {
			return nil, fmt.Errorf("%w: it is already the contact %q of your identity %q; "+
				"tor keeps one client authorization key per onion address, so two identities of one "+
				"profile cannot both reach it. Add it from an identity in a separate profile",
				ErrContactOfOtherIdentity, oc.rec.Petname, other.name)
		}
	}
	c := &contact{
		id: id, key: id.key + "." + e.randomKey(), pub: append(ed25519.PublicKey(nil), pub...),
		onion: onion.AddressFromPublicKey(pub), seen: map[MessageID]bool{}, wake: make(chan struct{}, 1),
		rec: record.Contact{V: record.Version, Petname: petname, ID: append([]byte(nil), pub...), Auth: append([]byte(nil), auth[:]...)},
	}
	if err := e.saveContactLocked(c); err != nil {
		return nil, fmt.Errorf("sotto: saving the contact: %w", err)
	}
	id.contacts[petname] = c
	id.byPub[string(pub)] = c
	if e.cfg.net != nil {
		e.startDialerLocked(c)
	}
	return c, nil
}

// RemoveContact deletes a contact with its conversation, outbox and keys, and
// withdraws its authorisation from the identity's onion service.
func (e *Engine) RemoveContact(ctx context.Context, identity, petname string) error {
	if ctx == nil {
		return ErrNilContext
	}
	e.mu.Lock()
	id, c, err := e.contactLocked(identity, petname)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	delete(id.contacts, petname)
	delete(id.byPub, string(c.pub))
	c.removed = true
	e.mu.Unlock()
	e.stopContact(c)
	e.mu.Lock()
	err = e.deleteContactDataLocked(c)
	c.wipe()
	e.mu.Unlock()
	if e.cfg.net != nil {
		_ = e.cfg.net.Deauthorize(ctx, c.onion)
	}
	e.republish(ctx, id)
	if err != nil {
		return fmt.Errorf("sotto: removing the contact: %w", err)
	}
	return nil
}

func (e *Engine) deleteContactDataLocked(c *contact) error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	st := e.msgStore(c)
	keep(st.DropLog(c.logMsgs()))
	keep(st.DropLog(c.logOut()))
	keep(st.DropLog(c.logSeen()))
	keep(st.DropLog(c.logShown()))
	keep(e.deleteFilesLocked(c))
	keep(c.id.st.Delete(kindRatchet, c.key))
	keep(e.deleteContactMailboxLocked(c))
	keep(c.id.st.Delete(kindContact, c.key))
	e.expiry.removeContact(c)
	return first
}

// Contacts lists an identity's contacts, sorted by petname.
func (e *Engine) Contacts(identity string) ([]ContactInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id, err := e.identityLocked(identity)
	if err != nil {
		return nil, err
	}
	out := make([]ContactInfo, 0, len(id.contacts))
	for _, c := range id.contacts {
		out = append(out, c.info())
	}
	sortBy(out, func(a ContactInfo) string { return a.Name })
	return out, nil
}

// clientAuthKeys lists the client-auth public keys of an identity's contacts.
func (id *identity) clientAuthKeys() [][32]byte {
	keys := make([][32]byte, 0, len(id.contacts))
	for _, c := range id.contacts {
		var k [32]byte
		copy(k[:], c.rec.Auth)
		// A key tor cannot use (saved before codes were checked for
		// it) would keep the whole identity offline: leave it out.
		if onion.CheckClientAuthKey(&k) != nil {
			continue
		}
		keys = append(keys, k)
	}
	return keys
}

// republish updates the identity's onion service with its contacts' keys.
func (e *Engine) republish(ctx context.Context, id *identity) {
	e.mu.Lock()
	svc := id.svc
	keys := id.clientAuthKeys()
	open := id.open
	e.mu.Unlock()
	if svc == nil || open {
		return
	}
	if err := svc.SetClientAuth(ctx, keys); err != nil {
		e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: identity %s: updating its onion service: %w", id.name, err)})
	}
}

func hexID(id MessageID) string { return hex.EncodeToString(id[:]) }
