package sotto

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/sottochat/sotto/internal/erase"
	"github.com/sottochat/sotto/internal/record"
	"github.com/sottochat/sotto/internal/wire"
	"github.com/sottochat/sotto/ratchet"
)

// A session is one authenticated connection with a contact, after the
// handshake and the hello (docs/PROTOCOL.md Part 2). Its reader runs in the
// goroutine that owns the connection; its writer is a goroutine that reader
// starts and waits for.
//
// Ratchet use: every encryption and decryption happens under Engine.mu and
// only while the session is the contact's current one (c.sess == s), so two
// connections never use a contact's ratchet state at the same time. The
// state is persisted after every step, before the frame is written (sender)
// or the message is acknowledged (receiver).
type session struct {
	e         *Engine
	c         *contact
	conn      net.Conn
	initiator bool
	wake      chan struct{}
	done      chan struct{}
	once      sync.Once

	// guarded by Engine.mu
	files    *sessionFiles // file transfers (filesession.go)
	acks     []MessageID
	sent     map[MessageID]bool
	lastSend time.Time
}

// errDrop is returned for anything that makes us drop a connection; it is
// never shown with details of what the peer sent.
var errDrop = errors.New("sotto: connection dropped")

// errFull ends a session whose contact sent more than maxUnread messages
// that are not read yet.
var errFull = errors.New("sotto: too many unread messages from the contact")

// maxUnread bounds what a contact can make us store: the messages of a
// conversation received and not yet marked read (texts and timer changes).
// Past it a new message is refused without an acknowledgement and the
// connection closed; the contact keeps it in its outbox and retries with
// backoff, so nothing is lost, and the user is told once (ErrTooManyUnread)
// until [Engine.MarkRead] makes room.
const maxUnread = 10000

// errPending is returned to the dialer when the contact is an open-mode
// identity that stored our contact request.
var errPending = errors.New("sotto: contact request pending")

const adLabel = "sotto/2 data"

func adFor(from, to ed25519.PublicKey) []byte {
	b := make([]byte, 0, len(adLabel)+64)
	b = append(b, adLabel...)
	b = append(b, from...)
	return append(b, to...)
}

func (s *session) close() {
	s.once.Do(func() {
		close(s.done)
		s.conn.Close()
	})
}

func (s *session) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (c *contact) nudge() {
	if c.sess != nil {
		c.sess.nudge()
	}
	c.mbNudge() // its courier, for what no session carries (mailbox_courier.go)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// frameConn reads and writes frames with the protocol's deadlines.
type frameConn struct {
	conn net.Conn
	t    timing
	now  func() time.Time
	buf  []byte
}

func (f *frameConn) read(idle time.Duration) (wire.FrameType, []byte, error) {
	f.conn.SetReadDeadline(time.Now().Add(idle))
	n, err := wire.ReadFrameHeader(f.conn)
	if err != nil {
		return 0, nil, err
	}
	// The body must follow promptly: a peer that stalls mid-frame is dropped.
	f.conn.SetReadDeadline(time.Now().Add(f.t.Frame))
	if cap(f.buf) < n {
		f.buf = make([]byte, n)
	}
	body := f.buf[:n]
	if _, err := io.ReadFull(f.conn, body); err != nil {
		return 0, nil, err
	}
	return wire.ParseFrameBody(body)
}

func (f *frameConn) write(t wire.FrameType, content []byte) error {
	f.conn.SetWriteDeadline(time.Now().Add(f.t.Frame))
	return wire.WriteFrame(f.conn, t, content)
}

// ---- ratchet state of a contact ----

func (e *Engine) loadStateLocked(c *contact) (*ratchet.State, error) {
	if st, ok, err := e.loadLiveLocked(c); ok {
		return st, err
	}
	if c.ratchet == nil {
		return nil, nil
	}
	var st *ratchet.State
	err := c.ratchet.Open(func(b []byte) (err error) {
		st, err = ratchet.ParseState(b)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sotto: reading a conversation's keys: %w", err)
	}
	return st, nil
}

// saveStateLocked persists st as the contact's state and keeps it in
// protected memory. It wipes st.
func (e *Engine) saveStateLocked(c *contact, st *ratchet.State) error {
	return e.keepStateLocked(c, st, true)
}

// flushStateLocked stores a state kept only in memory.
func (e *Engine) flushStateLocked(c *contact) error {
	if !c.stateDirty || (c.ratchet == nil && c.live == nil) {
		return nil
	}
	var err error
	if c.live != nil {
		err = c.id.st.Put(kindRatchet, c.key, c.liveBytes())
	} else {
		err = c.ratchet.Open(func(b []byte) error { return c.id.st.Put(kindRatchet, c.key, b) })
	}
	if err == nil {
		c.stateDirty = false
	}
	return err
}

func (e *Engine) keepStateLocked(c *contact, st *ratchet.State, persist bool) error {
	wait, err := e.keepStateAsLocked(c, st, persist, false)
	if err == nil && wait != nil {
		err = wait()
	}
	return err
}

// keepStateAsLocked is keepStateLocked; with async, the state's store is
// submitted (ordered after every write made before it: vaultStore.submit)
// and wait, if not nil, returns once it is committed: the caller may
// release e.mu first, and must call wait before anything the state sealed
// leaves the process.
func (e *Engine) keepStateAsLocked(c *contact, st *ratchet.State, persist, async bool) (wait func() error, err error) {
	put := func(b []byte) error {
		if vs, ok := c.id.st.(*vaultStore); ok && async {
			wait = vs.putAsync(kindRatchet, c.key, b)
			return nil
		}
		return c.id.st.Put(kindRatchet, c.key, b)
	}
	if kept, err := e.keepLiveLocked(c, st); kept {
		if err != nil {
			return nil, err
		}
		if persist {
			if err := put(c.liveBytes()); err != nil {
				return nil, fmt.Errorf("sotto: saving a conversation's keys: %w", err)
			}
		}
		c.stateDirty = !persist
		return wait, nil
	}
	b, err := st.MarshalBinary()
	st.Wipe()
	if err != nil {
		return nil, err
	}
	if persist {
		if err := put(b); err != nil {
			clear(b)
			return nil, fmt.Errorf("sotto: saving a conversation's keys: %w", err)
		}
	}
	c.stateDirty = !persist
	box, err := e.cfg.newSecret(b)
	if err != nil {
		if wait != nil {
			wait() // submitted: see it through
		}
		return nil, err
	}
	if c.ratchet != nil {
		c.ratchet.Destroy()
	}
	c.ratchet = box
	return wait, nil
}

// commitHandshakeLocked commits the State a finished handshake returned
// (built from a copy of the contact's state taken when the handshake began)
// into the contact's current state with ratchet.State.Adopt: what the
// current state did meanwhile (an older connection still decrypting, message
// keys used and destroyed) is kept, and only the new epoch is added. A
// contact whose keys were rolled back or lost is reported, never silently:
// the responder learns it from PeerRolledBack, either side from a handshake
// that did not continue from an epoch both held although we had a state and
// the contact had shown it had one too (c.rec.Confirmed: without it, the
// contact may simply never have stored the keys of a first handshake that
// broke, which is no rollback).
// It does not modify or wipe st.
func (e *Engine) commitHandshakeLocked(c *contact, st *ratchet.State, h *ratchet.Handshake, hadState bool) error {
	cur, err := e.loadStateLocked(c)
	if err != nil {
		return err
	}
	confirmed := c.rec.Confirmed
	if cur == nil {
		cur = st.Clone()
	} else if err := cur.Adopt(st); err != nil {
		cur.Wipe()
		return fmt.Errorf("sotto: committing a handshake: %w", err)
	}
	if err := e.saveStateLocked(c, cur); err != nil {
		return err
	}
	switch {
	case h.PeerRolledBack():
		e.ev.emit(ErrorEvent{Err: fmt.Errorf("%w: %s/%s: it no longer holds keys it had used with you",
			ErrPeerRolledBack, c.id.name, c.rec.Petname)})
	case hadState && confirmed && !h.Continued():
		e.ev.emit(ErrorEvent{Err: fmt.Errorf("%w: %s/%s: the new keys could not be chained to earlier ones (its saved keys, or yours, are an old copy or were lost)",
			ErrPeerRolledBack, c.id.name, c.rec.Petname)})
	}
	return nil
}

// sealLocked encrypts messages for the session's contact and persists the
// state once for all of them.
func (s *session) sealLocked(msgs []*wire.Message) ([][]byte, error) {
	return s.e.sealLocked(s.c, msgs)
}

// sealLocked encrypts messages for c (on a session, or for a mailbox) and
// persists the state once for all of them, before anything is sent.
func (e *Engine) sealLocked(c *contact, msgs []*wire.Message) ([][]byte, error) {
	out, wait, err := e.sealAsLocked(c, msgs, false)
	if err == nil && wait != nil {
		err = wait()
	}
	return out, err
}

// sealAsLocked is sealLocked; with async, the state's commit (which
// carries every write deferred before it) may be waited for with wait
// after e.mu is released, and must be before any of out is sent.
func (e *Engine) sealAsLocked(c *contact, msgs []*wire.Message, async bool) (out [][]byte, wait func() error, err error) {
	st, err := e.loadStateLocked(c)
	if err != nil || st == nil {
		return nil, nil, errDrop
	}
	ad := adFor(c.id.pub, c.pub)
	out = make([][]byte, 0, len(msgs))
	for _, m := range msgs {
		pt, err := m.Marshal()
		if err != nil {
			st.Wipe()
			return nil, nil, err
		}
		ct, err := st.Encrypt(e.cfg.rand, pt, ad)
		clear(pt)
		if err != nil {
			st.Wipe()
			return nil, nil, err
		}
		out = append(out, ct)
	}
	probing := e.probing()
	if probing {
		sent, acked := probeIDs(msgs)
		e.mark(stSealed, sent...)
		e.mark(stAckSealed, acked...)
	}
	wait, err = e.keepStateAsLocked(c, st, true, async)
	if err != nil {
		return nil, nil, err
	}
	if probing {
		saved := func() {
			sent, acked := probeIDs(msgs)
			e.mark(stSaved, sent...)
			e.mark(stAckSaved, acked...)
		}
		if wait == nil {
			saved()
		} else {
			w := wait
			wait = func() error {
				err := w()
				saved()
				return err
			}
		}
	}
	return out, wait, nil
}

// openLocked decrypts one frame; the state is persisted only on success.
func (s *session) openLocked(ct []byte) (*wire.Message, error) { return s.e.openLocked(s.c, ct) }

// openLocked decrypts one ratchet message from c (a frame, or a mailbox
// blob's); the state changes only on success.
func (e *Engine) openLocked(c *contact, ct []byte) (*wire.Message, error) {
	st, err := e.loadStateLocked(c)
	if err != nil || st == nil {
		return nil, errDrop
	}
	pt, err := st.Decrypt(e.cfg.now(), ct, adFor(c.pub, c.id.pub))
	if err != nil {
		st.Wipe()
		return nil, errDrop
	}
	m, err := wire.ParseMessage(pt)
	clear(pt)
	if err != nil {
		st.Wipe()
		return nil, errDrop
	}
	if !c.rec.Confirmed {
		c.rec.Confirmed = true
		if err := e.saveContactLocked(c); err != nil {
			st.Wipe()
			return nil, err
		}
	}
	// Kept in memory only: the next encryption (at the latest the ack of
	// this message) stores it. Losing it in a crash only means the peer's
	// unacknowledged messages are decrypted again from the older state and
	// dropped by ID.
	if err := e.keepStateLocked(c, st, false); err != nil {
		return nil, err
	}
	return m, nil
}

// ---- running an established session ----

// run serves an established session until it ends. The caller owns it.
func (s *session) run() {
	e, c := s.e, s.c
	e.cfg.logf("%s <-> %s: session up", c.id.name, c.rec.Petname)
	e.ev.emit(ContactEvent{Identity: c.id.name, Contact: c.rec.Petname, Online: true})
	stop := context.AfterFunc(c.id.ctx, s.close)
	defer stop()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		erase.Do(s.writeLoop)
	}()
	s.nudge()
	err := s.readLoop()
	if err != nil && !errors.Is(err, io.EOF) {
		e.cfg.logf("%s <-> %s: session ended: %v", c.id.name, c.rec.Petname, err)
	} else {
		e.cfg.logf("%s <-> %s: session ended by the contact", c.id.name, c.rec.Petname)
	}
	s.close()
	<-writerDone
	s.stopFiles() // filestorer.go
	e.mu.Lock()
	s.closeFilesLocked()
	if c.sess == s {
		c.sess = nil
		e.ev.emit(ContactEvent{Identity: c.id.name, Contact: c.rec.Petname, Online: false})
		// What the session had not delivered may now go through a
		// mailbox: the courier slept for its whole poll interval while
		// the session was up.
		c.mbNudge()
	}
	if err := e.flushStateLocked(c); err != nil && !c.removed {
		e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: saving a conversation's keys: %w", err)})
	}
	if c.sess == nil && !c.removed {
		// Back into the enclave until the next session (livestate.go).
		if err := e.retireLiveLocked(c); err != nil {
			e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: keeping a conversation's keys: %w", err)})
		}
	}
	e.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (s *session) readLoop() error {
	fc := &frameConn{conn: s.conn, t: s.e.cfg.timing, now: s.e.cfg.now}
	for {
		t, content, err := fc.read(s.e.cfg.timing.Idle)
		if err != nil {
			return err
		}
		var readAt time.Time
		if s.e.probing() {
			readAt = time.Now()
		}
		if t != wire.FrameData {
			return errDrop
		}
		s.e.mu.Lock()
		if s.c.sess != s {
			s.e.mu.Unlock()
			return errDrop // replaced by a newer connection
		}
		// Each frame's plaintext is handled inside erase.Do, so that the
		// stack it used is erased now, not when the session ends (T22).
		erase.Do(func() {
			m, err2 := s.openLocked(content)
			if err2 == nil && !readAt.IsZero() {
				s.probeRead(m, readAt)
			}
			if err2 == nil {
				err2 = s.handleLocked(m)
			}
			err = err2
		})
		s.e.mu.Unlock()
		if err == nil {
			err = s.flushFiles() // received file chunks, stored outside the lock
		}
		if err != nil {
			return err
		}
	}
}

func (s *session) handleLocked(m *wire.Message) error {
	e, c := s.e, s.c
	switch m.Kind {
	case wire.KindText, wire.KindTimer:
		id := MessageID(m.ID)
		if !c.seen[id] {
			if c.inbox >= e.maxUnread {
				// Refuse it unacknowledged: the contact keeps it in its
				// outbox and sends it again on a later connection.
				if !c.full {
					c.full = true
					e.ev.emit(ErrorEvent{Err: fmt.Errorf("%w: %s/%s: %d messages wait to be read; mark the conversation read to receive more",
						ErrTooManyUnread, c.id.name, c.rec.Petname, c.inbox)})
				}
				return errFull
			}
			// Its store waits for the ack's commit (receiveAsLocked).
			if err := e.receiveAsLocked(c, m, true); err != nil {
				return err
			}
			e.mark(stStored, id)
		}
		s.acks = append(s.acks, id)
		s.nudge()
	case wire.KindAck:
		for _, id := range m.Acks {
			if err := e.ackedLocked(c, MessageID(id)); err != nil {
				return err
			}
		}
	case wire.KindKeepalive:
	case wire.KindClose:
		return io.EOF
	case wire.KindFileOffer, wire.KindFileAccept, wire.KindFileReject, wire.KindFileChunk,
		wire.KindFileAck, wire.KindFileDone, wire.KindFileCancel:
		return s.handleFileLocked(m)
	default:
		// The mailbox kinds (mailbox_recv.go); hello and request only at the start.
		return e.sessionMailboxMsgLocked(s, m)
	}
	return nil
}

// receiveLocked stores a new incoming message; the ack follows it. The
// contact's `at` goes through peerTime. A disappearing text waits for
// MarkShown to start its clock, with the bound of its unshown life as its
// ExpiresAt meanwhile (§2.9).
func (e *Engine) receiveLocked(c *contact, m *wire.Message) error {
	return e.receiveAsLocked(c, m, false)
}

// receiveAsLocked is receiveLocked; with later (a session's), the message's
// append waits for the store's next commit, at the latest the ratchet state
// that seals its acknowledgement, stored before the ack is sent.
func (e *Engine) receiveAsLocked(c *contact, m *wire.Message, later bool) error {
	now := e.cfg.now()
	msg := &Message{
		ID: MessageID(m.ID), Identity: c.id.name, Contact: c.rec.Petname, Dir: Incoming, By: Incoming,
		Timer: time.Duration(m.Timer) * time.Second, At: peerTime(m.At, now),
	}
	switch m.Kind {
	case wire.KindText:
		msg.Kind = TextMessage
		msg.Text = m.Text
		if m.Timer != 0 {
			msg.Unshown = true
			msg.ExpiresAt = deadline(now, msg.Timer+UnshownGrace)
		}
	case wire.KindTimer:
		msg.Kind = TimerMessage
		msg.Dir = System
		if e.adoptTimerLocked(c, msg.At.Unix(), MessageID(m.ID), msg.Timer) {
			if err := e.saveContactLocked(c); err != nil {
				return err
			}
		} else {
			// A later change is in force (ours, made at the same time):
			// the line must not claim this one took effect.
			msg.Superseded = true
		}
	}
	// The message log doubles as the list of seen IDs while it holds the
	// message; rememberExpiredLocked keeps the ID when it expires.
	if err := e.storeMessageAsLocked(c, msg, later); err != nil {
		return fmt.Errorf("sotto: storing a received message: %w", err)
	}
	c.seenAdd(msg.ID)
	if msg.Kind == TextMessage {
		c.unread++
	}
	c.inbox++
	e.ev.emit(MessageEvent{Message: *msg})
	return nil
}

// ackedLocked handles an acknowledgement: the message leaves the outbox and
// is shown delivered. Its disappearing clock started when it was written.
func (e *Engine) ackedLocked(c *contact, id MessageID) error {
	idx := c.outboxIndex(id)
	if idx < 0 {
		return nil // a duplicate ack, one for a message we never sent, or for one that expired: ignore
	}
	// The removal may wait for the next commit: lost in a crash, the
	// message is sent again and the contact drops it by ID.
	if err := removeLater(e.msgStore(c), c.logOut(), hexID(id)); err != nil {
		return err
	}
	// slices.Delete clears the slot left over at the end, which would keep
	// the entry, and its text, reachable (T22).
	c.outbox = slices.Delete(c.outbox, idx, idx+1)
	if m := c.message(id); m != nil {
		m.State = Delivered // follows from the outbox: nothing to rewrite
	}
	e.mark(stAcked, id)
	e.ev.emit(DeliveredEvent{Identity: c.id.name, Contact: c.rec.Petname, ID: id})
	return nil
}

func (s *session) writeLoop() {
	e, c := s.e, s.c
	fc := &frameConn{conn: s.conn, t: e.cfg.timing, now: e.cfg.now}
	ka := time.NewTicker(e.cfg.timing.Keepalive / 2)
	defer ka.Stop()
	out := make(chan frameBatch, 1) // framewriter.go
	fwDone := make(chan struct{})
	go s.frameWriter(fc, out, fwDone)
	defer func() {
		close(out)
		<-fwDone
	}()
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		case <-ka.C:
		}
		plan := s.readChunks() // the next file chunks, read outside the lock
		e.mu.Lock()
		if c.sess != s {
			e.mu.Unlock()
			s.close()
			return
		}
		var msgs []*wire.Message
		var sentIDs []MessageID
		msgs = append(msgs, e.mailboxMsgsLocked(c, s)...)
		for len(s.acks) > 0 {
			n := min(len(s.acks), wire.MaxAcks)
			am := &wire.Message{Kind: wire.KindAck}
			for _, id := range s.acks[:n] {
				am.Acks = append(am.Acks, id)
			}
			s.acks = s.acks[n:]
			msgs = append(msgs, am)
		}
		for _, o := range c.outbox {
			if s.sent[o.id] || len(sentIDs) >= textsPerBatch {
				continue
			}
			m := &wire.Message{ID: o.id, At: uint64(o.rec.At), Timer: uint32(o.rec.Timer)}
			if o.rec.Kind == int(TextMessage) {
				m.Kind, m.Text = wire.KindText, o.rec.Text
			} else {
				m.Kind = wire.KindTimer
			}
			msgs = append(msgs, m)
			sentIDs = append(sentIDs, o.id)
		}
		msgs = append(msgs, s.fileMsgsLocked(plan)...)
		if e.probing() {
			sent, acked := probeIDs(msgs)
			e.mark(stPicked, sent...)
			e.mark(stAckPicked, acked...)
		}
		now := time.Now() // network timing uses the real clock, not the injected one
		if len(msgs) == 0 && now.Sub(s.lastSend) >= e.cfg.timing.Keepalive/2 {
			msgs = append(msgs, &wire.Message{Kind: wire.KindKeepalive})
		}
		var cts [][]byte
		var wait func() error
		var err error
		if len(msgs) > 0 {
			// Encoding and encryption of the texts inside erase.Do: the
			// stack they used is erased at once, not when the session ends.
			erase.Do(func() { cts, wait, err = e.sealAsLocked(c, msgs, true) })
			s.lastSend = now
		}
		if err == nil {
			for _, id := range sentIDs {
				s.sent[id] = true
			}
		}
		e.mu.Unlock()
		// The state that sealed them (and every write deferred before:
		// Send's texts, received texts these frames acknowledge) is
		// committed before a frame leaves; e.mu is free meanwhile, so the
		// reader and Send go on.
		if err == nil && wait != nil {
			err = wait()
		}
		if err != nil {
			s.close()
			return
		}
		if len(cts) > 0 && e.probing() {
			sent, acked := probeIDs(msgs)
			e.mark(stWritten, sent...)
			e.mark(stAckWritten, acked...)
		}
		if len(cts) > 0 {
			select {
			case out <- frameBatch{cts: cts, sentIDs: sentIDs}:
			case <-s.done:
				return
			}
		}
	}
}

// ---- handshake: initiator ----

// errConnected: dialOnce found the contact connected already; the dialer
// waits for the session to end (or a wake) instead of polling.
var errConnected = errors.New("sotto: already connected")

// dialOnce connects to a contact, runs the handshake and, if it succeeds,
// serves the session until it ends.
//
// The dial waits for a slot of e.dials first (dialClassLocked: with a
// message to deliver ahead of every other dial, urgent ahead of routine
// retries, each with slots of its own when later classes hold theirs; a
// wake while it waits makes it urgent, or deliver if a message is queued
// by then) and holds it until tor answered the SOCKS request.
func (e *Engine) dialOnce(ctx context.Context, c *contact, urgent bool) error {
	e.mu.Lock()
	if c.sess != nil || c.removed {
		e.mu.Unlock()
		return errConnected
	}
	class := dialClassLocked(c, urgent)
	e.mu.Unlock()
	release, ok := e.dials.acquire(ctx, class, c.wake, func() int {
		e.mu.Lock()
		defer e.mu.Unlock()
		return dialClassLocked(c, true)
	})
	if !ok {
		return ctx.Err()
	}
	defer release() // if the dial did not get as far as the release below
	e.mu.Lock()
	if c.sess != nil || c.removed {
		e.mu.Unlock()
		return errConnected
	}
	c.hsGen++
	gen := c.hsGen
	// Until tor hands us a stream the dial has not reached the contact:
	// it must not win a tie against the contact's own connection, which
	// has (claimInbound cancels it instead).
	c.dialing = true
	hctx, cancel := context.WithTimeout(ctx, e.cfg.timing.Handshake)
	c.hsOut = cancel
	id := c.id
	e.mu.Unlock()
	e.cfg.logf("%s -> %s: dialing", id.name, c.rec.Petname)
	defer func() {
		e.mu.Lock()
		if c.hsGen == gen {
			c.dialing = false
			c.outActive = false
		}
		e.mu.Unlock()
		cancel()
	}()

	conn, err := e.cfg.net.Dial(hctx, id.onion, c.onion)
	release()
	e.mu.Lock()
	superseded := c.hsGen != gen
	if !superseded && err == nil {
		c.dialing = false
		c.outActive = true
	}
	e.mu.Unlock()
	if superseded {
		// The contact's connection won meanwhile: not a failure.
		if conn != nil {
			conn.Close()
		}
		e.cfg.logf("%s -> %s: dial given up for the contact's own connection", id.name, c.rec.Petname)
		return nil
	}
	if err != nil {
		return err
	}
	e.cfg.logf("%s -> %s: stream open, handshake", id.name, c.rec.Petname)
	stop := context.AfterFunc(hctx, func() { conn.Close() })
	s, err := e.initiate(hctx, c, conn, gen)
	// The handshake is over: from now on an inbound connection from the
	// contact replaces this one instead of losing to it.
	e.mu.Lock()
	if c.hsGen == gen {
		c.outActive = false
	}
	e.mu.Unlock()
	if !stop() || err != nil {
		conn.Close()
		if s != nil {
			e.abandon(s)
		}
		if err == nil {
			err = hctx.Err()
		}
		return err
	}
	conn.SetDeadline(time.Time{})
	s.run()
	return nil
}

// dialClassLocked is the class of a dial of c (dialgate.go): deliver while
// its outbox holds a text or a timer change; else urgent or routine, as the
// dialer says. Only the outbox counts: it is the contact's own list, and
// what a person writes goes there. Outgoing files are found only by a scan
// of every transfer of the profile (fileEngine.byID) and their state says
// little cheaply (offered, accepted, paused...); mailbox control messages
// and contact requests are the engine's own business, not a person's words
// waiting: they keep the dialer's class.
//
// A contact that stays unreachable with its outbox full keeps the deliver
// class for maxDeliverMisses failed dials only, counted from the last text
// or timer change queued (or session run): after that its re-dials are
// urgent or routine like any offline contact's. Otherwise a few offline
// contacts with undelivered texts, whose dials tor never answers (up to
// 90 s each), held every deliver slot, and a message to a contact who is
// online waited behind them.
func dialClassLocked(c *contact, urgent bool) int {
	switch {
	case len(c.outbox) > 0 && c.deliverMisses < maxDeliverMisses:
		return classDeliver
	case urgent:
		return classUrgent
	}
	return classRoutine
}

func (e *Engine) initiate(ctx context.Context, c *contact, conn net.Conn, gen uint64) (*session, error) {
	hc := e.newHSConn(&frameConn{conn: conn, t: e.cfg.timing, now: e.cfg.now})
	e.mu.Lock()
	prior, err := e.loadStateLocked(c)
	id := c.id
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	hadState := prior != nil
	if prior != nil {
		defer prior.Wipe()
	}
	h, err := ratchet.NewInitiator(e.cfg.rand, c.pub, prior)
	if err != nil {
		return nil, err
	}
	defer h.Clear()
	m1, err := h.Hello()
	if err != nil {
		return nil, err
	}
	if err := hc.write(wire.FrameHandshake, m1); err != nil {
		return nil, err
	}
	m2, err := hc.read(wire.FrameHandshake)
	if err != nil {
		return nil, err
	}
	var m3 []byte
	err = id.seed(func(seed *[32]byte) error {
		var err error
		m3, err = h.Authenticate(m2, seed)
		return err
	})
	if err != nil {
		return nil, errDrop
	}
	if err := hc.write(wire.FrameHandshake, m3); err != nil {
		return nil, err
	}
	m4, err := hc.read(wire.FrameHandshake)
	if err != nil {
		return nil, err
	}
	st, err := h.Finish(m4)
	if err != nil {
		return nil, errDrop
	}
	defer st.Wipe()
	// The responder's hello says whether we are its contact.
	hello, err := hc.receive(e, st, wire.KindHello, c.pub, id.pub)
	if err != nil {
		return nil, err
	}
	if hello.Status == wire.HelloRequest {
		return nil, e.sendRequest(c, st, hc)
	}
	// Commit: the new epoch becomes the contact's state and this connection
	// its session, unless a newer handshake has taken over meanwhile.
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.hsGen != gen || c.removed {
		return nil, errDrop
	}
	if err := e.commitHandshakeLocked(c, st, h, hadState); err != nil {
		return nil, err
	}
	if !c.rec.Confirmed { // its hello shows it stored the keys
		c.rec.Confirmed = true
		if err := e.saveContactLocked(c); err != nil {
			return nil, err
		}
	}
	return e.installLocked(c, conn, true), nil
}

// installLocked makes a new connection the contact's session, replacing (and
// closing) the previous one.
func (e *Engine) installLocked(c *contact, conn net.Conn, initiator bool) *session {
	if old := c.sess; old != nil {
		old.close()
	}
	s := &session{e: e, c: c, conn: conn, initiator: initiator, wake: make(chan struct{}, 1),
		done: make(chan struct{}), sent: map[MessageID]bool{}}
	c.sess = s
	return s
}

// sendRequest sends our contact request (with the first queued text, if
// any) in a session with an open-mode identity that does not know us yet,
// then waits for its verdict. The session's keys are thrown away: no state
// is kept on either side until the request is accepted.
func (e *Engine) sendRequest(c *contact, st *ratchet.State, hc *hsConn) error {
	e.mu.Lock()
	req := &wire.Message{Kind: wire.KindRequest, AuthKey: c.id.authPub}
	for _, o := range c.outbox {
		if o.rec.Kind == int(TextMessage) {
			req.HasFirst, req.ID, req.At, req.Text = true, o.id, uint64(o.rec.At), o.rec.Text
			break
		}
	}
	id := c.id
	e.mu.Unlock()
	if err := hc.send(e, st, req, id.pub, c.pub); err != nil {
		return err
	}
	m, err := hc.receive(e, st, wire.KindClose, c.pub, id.pub)
	if err != nil {
		return err
	}
	if m.Status == wire.CloseRejected {
		return fmt.Errorf("sotto: the contact refused the request for now")
	}
	return errPending
}

// ---- handshake: responder ----

// serveInbound runs an inbound connection: handshake, then either the
// contact's session or, for an open-mode identity, one contact request.
func (e *Engine) serveInbound(ctx context.Context, id *identity, conn net.Conn) {
	defer conn.Close()
	hctx, cancel := context.WithTimeout(ctx, e.cfg.timing.Handshake)
	stop := context.AfterFunc(hctx, func() { conn.Close() })
	s, err := e.respond(hctx, id, conn)
	stopped := stop()
	cancel()
	e.mu.Lock()
	id.inflight--
	e.mu.Unlock()
	if err != nil || !stopped {
		e.cfg.logf("%s: inbound: %v (stopped %v)", id.name, err, stopped)
		if s != nil {
			e.abandon(s)
		}
		return
	}
	conn.SetDeadline(time.Time{})
	s.run()
}

// abandon drops a session that was installed but never ran.
func (e *Engine) abandon(s *session) {
	s.close()
	e.mu.Lock()
	if s.c.sess == s {
		s.c.sess = nil
	}
	e.mu.Unlock()
	select {
	case s.c.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) respond(ctx context.Context, id *identity, conn net.Conn) (*session, error) {
	hc := e.newHSConn(&frameConn{conn: conn, t: e.cfg.timing, now: e.cfg.now})
	m1, err := hc.read(wire.FrameHandshake)
	if err != nil {
		return nil, err
	}
	h, err := ratchet.NewResponder(e.cfg.rand)
	if err != nil {
		return nil, err
	}
	defer h.Clear()
	var m2 []byte
	err = id.seed(func(seed *[32]byte) error {
		var err error
		m2, err = h.Reply(m1, seed)
		return err
	})
	if err != nil {
		return nil, errDrop
	}
	if err := hc.write(wire.FrameHandshake, m2); err != nil {
		return nil, err
	}
	m3, err := hc.read(wire.FrameHandshake)
	if err != nil {
		return nil, err
	}
	peer, err := h.ReadAuth(m3)
	if err != nil {
		return nil, errDrop
	}
	// The initiator is authenticated. A contact, a stranger to an open-mode
	// identity, or refused.
	c, gen, err := e.claimInbound(ctx, id, peer)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, e.receiveRequest(id, peer, h, hc)
	}
	e.mu.Lock()
	prior, err := e.loadStateLocked(c)
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	hadState := prior != nil
	m4, st, err := h.Accept(prior)
	if prior != nil {
		prior.Wipe()
	}
	if err != nil {
		return nil, errDrop
	}
	defer st.Wipe()
	// The hello is sealed before the new State is committed, so that the
	// stored State has already used the key it was sealed with.
	hello, _ := (&wire.Message{Kind: wire.KindHello, Status: wire.HelloContact}).Marshal()
	ct, err := st.Encrypt(e.cfg.rand, hello, adFor(id.pub, peer))
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if c.hsGen != gen || c.removed {
		e.mu.Unlock()
		return nil, errDrop
	}
	if err := e.commitHandshakeLocked(c, st, h, hadState); err != nil {
		e.mu.Unlock()
		return nil, err
	}
	s := e.installLocked(c, conn, false)
	e.mu.Unlock()
	if err := hc.write(wire.FrameHandshake, m4); err != nil {
		return s, err
	}
	if err := hc.write(wire.FrameData, ct); err != nil {
		return s, err
	}
	return s, nil
}

// claimInbound decides what an authenticated inbound connection is for. For
// a contact it returns the contact and a handshake generation; if our own
// dial to that contact is under way, the dial of the side with the smaller
// identity key wins on both sides. For a stranger it returns nil (open mode)
// or an error.
func (e *Engine) claimInbound(ctx context.Context, id *identity, peer ed25519.PublicKey) (*contact, uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if id.removed {
		return nil, 0, errDrop
	}
	c := id.byPub[string(peer)]
	if c == nil {
		if id.open {
			return nil, 0, nil
		}
		return nil, 0, errDrop
	}
	// Only a dial that reached the contact (its handshake under way) takes
	// part in the tie-break; one still waiting for tor is cancelled.
	if c.outActive && bytes.Compare(id.pub, peer) < 0 {
		e.cfg.logf("%s <- %s: refused: our own dial's handshake wins the tie", id.name, c.rec.Petname)
		return nil, 0, errDrop // our dial wins
	}
	if (c.outActive || c.dialing) && c.hsOut != nil {
		c.hsOut() // theirs wins: abandon ours
	}
	c.hsGen++
	c.outActive = false
	c.dialing = false
	return c, c.hsGen, nil
}

// Contact requests to open-mode identities are rate limited and capped.
const (
	maxRequests      = 100              // pending requests per identity
	requestRateN     = 10               // at most this many new requests ...
	requestRateEvery = 10 * time.Minute // ... per this period, per identity
)

func (e *Engine) receiveRequest(id *identity, peer ed25519.PublicKey, h *ratchet.Handshake, hc *hsConn) error {
	m4, st, err := h.Accept(nil)
	if err != nil {
		return errDrop
	}
	defer st.Wipe()
	if err := hc.write(wire.FrameHandshake, m4); err != nil {
		return err
	}
	if err := hc.send(e, st, &wire.Message{Kind: wire.KindHello, Status: wire.HelloRequest}, id.pub, peer); err != nil {
		return err
	}
	m, err := hc.receive(e, st, wire.KindRequest, peer, id.pub)
	if err != nil {
		return err
	}
	status := uint8(wire.ClosePending)
	if err := e.storeRequest(id, peer, m); err != nil {
		status = wire.CloseRejected
	}
	hc.send(e, st, &wire.Message{Kind: wire.KindClose, Status: status}, id.pub, peer)
	return io.EOF
}

var _ = record.Version
