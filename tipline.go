package sotto

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/sottochat/sotto/internal/wire"
	"github.com/sottochat/sotto/mailbox"
	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/ratchet"
)

// The tip line (docs/PROTOCOL.md §3.10, §3.11): a stranger with a fresh
// identity and no mailbox leaves a contact request, with its first text,
// at the mailbox of an open-mode identity whose owner is offline; the owner
// accepts it whenever it comes online and answers through the mailbox; the
// stranger reads the answer when it comes back. The mailbox never needs the
// identity's key: requests are sealed to the identity and to an intake key
// that the owner's client signs and keeps.

// Records of the tip line.
const (
	kindMbTip     = "mb.tip"     // key: contact key; the intake service of a contact added by tip code
	kindMbAsync   = "mb.async"   // key: contact key; our sealed request waiting for its answer
	kindMbIntake  = "mb.intake"  // key: request key; the intake relation and answer state of a request
	kindMbReplyTo = "mb.replyto" // key: contact key; the intake relation we answer a contact in
)

// tipState is a contact's tip line, on the requester's side.
type tipState struct {
	intake ed25519.PublicKey // the intake service's key (from the tip code)
	onion  string
	// async: our sealed request and its reply token; state is nil once
	// the answer finished the handshake (we keep polling the reply queue
	// until the owner stops answering there).
	token secretBox // the reply token (32)
	state secretBox // ratchet.AsyncInitiator's serialised state; nil: answered
	sent  bool
}

// replyRel is the intake relation we answer a requester in, on the owner's
// side, until it confirmed our offer.
type replyRel struct {
	rel  [16]byte
	msg2 []byte // the handshake's answer, sent with every blob until confirmed
}

// ---- codes ----

// parseAnyCode parses a contact code or a tip code.
func parseAnyCode(code string) (ed25519.PublicKey, [32]byte, ed25519.PublicKey, error) {
	if mailbox.IsTipCode(code) {
		tc, err := mailbox.ParseTipCode(code)
		if err != nil {
			return nil, [32]byte{}, nil, fmt.Errorf("%w: %s", ErrBadCode, err.Error()[len(mailbox.ErrBadTipCode.Error())+2:])
		}
		return tc.ID, tc.Auth, tc.Intake, nil
	}
	cc, err := parseCode(code)
	if err != nil {
		return nil, [32]byte{}, nil, err
	}
	return cc.ID, cc.Auth, nil, nil
}

// tipCardLocked is an open identity's tip code, if it has an intake.
func (e *Engine) tipCardLocked(id *identity) (string, bool) {
	o := id.mb
	if !id.open || o == nil || !o.rec.Paired || o.rec.Intake == ([32]byte{}) {
		return "", false
	}
	tc := mailbox.TipCode{ID: id.pub, Auth: id.authPub, Intake: ed25519.PublicKey(o.rec.Intake[:])}
	return tc.String(), true
}

// setTipLocked keeps the intake of a contact added by tip code.
func (e *Engine) setTipLocked(c *contact, intake ed25519.PublicKey) error {
	if intake == nil {
		return nil
	}
	if err := c.id.st.Put(kindMbTip, c.key, append([]byte{mbRecV}, intake...)); err != nil {
		return err
	}
	c.mb.tip = &tipState{intake: append(ed25519.PublicKey(nil), intake...), onion: onion.AddressFromPublicKey(intake)}
	c.mbNudge()
	return nil
}

// loadTipLocked reads a contact's tip-line records.
func (e *Engine) loadTipLocked(c *contact) error {
	st := c.id.st
	b, err := st.Get(kindMbTip, c.key)
	if errors.Is(err, errNotFound) {
		return e.loadReplyToLocked(c)
	}
	if err != nil {
		return err
	}
	if len(b) != 33 || b[0] != mbRecV {
		return errMbRecord
	}
	t := &tipState{intake: ed25519.PublicKey(append([]byte(nil), b[1:]...))}
	t.onion = onion.AddressFromPublicKey(t.intake)
	c.mb.tip = t
	b, err = st.Get(kindMbAsync, c.key)
	if errors.Is(err, errNotFound) {
		return e.loadReplyToLocked(c)
	}
	if err != nil {
		return err
	}
	defer clear(b)
	s := cryptobyte.String(b)
	var v uint8
	var tok []byte
	if !s.ReadUint8(&v) || v != mbRecV || !s.ReadBytes(&tok, 32) {
		return errMbRecord
	}
	if t.token, err = e.cfg.newSecret(append([]byte(nil), tok...)); err != nil {
		return err
	}
	t.sent = true
	if len(s) > 0 {
		if t.state, err = e.cfg.newSecret(append([]byte(nil), s...)); err != nil {
			return err
		}
	}
	return e.loadReplyToLocked(c)
}

func (e *Engine) loadReplyToLocked(c *contact) error {
	b, err := c.id.st.Get(kindMbReplyTo, c.key)
	if errors.Is(err, errNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(b) != 1+16+ratchet.AsyncMsg2Size || b[0] != mbRecV {
		return errMbRecord
	}
	c.mb.replyTo = &replyRel{rel: [16]byte(b[1:17]), msg2: append([]byte(nil), b[17:]...)}
	return nil
}

func (e *Engine) saveAsyncLocked(c *contact) error {
	t := c.mb.tip
	var out []byte
	err := t.token.Open(func(tok []byte) error {
		out = append([]byte{mbRecV}, tok...)
		if t.state == nil {
			return nil
		}
		return t.state.Open(func(st []byte) error {
			out = append(out, st...)
			return nil
		})
	})
	if err != nil {
		return err
	}
	err = c.id.st.Put(kindMbAsync, c.key, out)
	clear(out)
	return err
}

// ---- the requester ----

// intakeDueLocked reports whether the contact's first text should go as a
// sealed request to its intake: a tip-code contact with no conversation
// keys and no request out yet, and a text waiting.
func (e *Engine) intakeDueLocked(c *contact) bool {
	t := c.mb.tip
	if t == nil || t.sent || c.ratchet != nil {
		return false
	}
	for _, o := range c.outbox {
		if o.rec.Kind == int(TextMessage) {
			return true
		}
	}
	return false
}

// sendIntake seals our contact request with its first text to the
// identity's intake key and leaves it at its intake service.
func (e *Engine) sendIntake(ctx context.Context, c *contact) error {
	e.mu.Lock()
	t := c.mb.tip
	if t == nil || t.sent || c.ratchet != nil {
		e.mu.Unlock()
		return nil
	}
	req := &wire.Message{Kind: wire.KindRequest, AuthKey: c.id.authPub}
	var first MessageID
	for _, o := range c.outbox {
		if o.rec.Kind == int(TextMessage) {
			req.HasFirst, req.ID, req.At, req.Text = true, o.id, uint64(o.rec.At), o.rec.Text
			first = o.id
			break
		}
	}
	addr, from, peer := t.onion, c.id.onion, c.pub
	e.mu.Unlock()
	octx, cancel := context.WithTimeout(ctx, e.mbTiming().Op)
	defer cancel()
	b, err := mailbox.IntakeKey(octx, e.cfg.net, from, addr)
	if err != nil {
		return err
	}
	bundle, err := mailbox.ParseBundle(b, peer, t.intake, e.cfg.now())
	if err != nil {
		return err
	}
	payload, err := req.Marshal()
	if err != nil {
		return err
	}
	defer clear(payload)
	var msg1 []byte
	var ini *ratchet.AsyncInitiator
	if err := c.id.seed(func(seed *[32]byte) error {
		var err error
		msg1, ini, err = ratchet.SealFirst(e.cfg.rand, seed, peer, bundle.Key, payload)
		return err
	}); err != nil {
		return err
	}
	defer ini.Wipe()
	blob, err := mailbox.Pack(mailbox.Record{Type: mailbox.RecAsync1, Payload: msg1})
	if err != nil {
		return err
	}
	var tok [32]byte
	defer clear(tok[:])
	if _, err := io.ReadFull(e.cfg.rand, tok[:]); err != nil {
		return err
	}
	st, err := ini.MarshalBinary()
	if err != nil {
		return err
	}
	// Kept before it leaves: a crash after the intake finds the state to
	// read the answer with.
	e.mu.Lock()
	if c.mb.tip != t || c.removed {
		e.mu.Unlock()
		clear(st)
		return nil
	}
	if t.token, err = e.cfg.newSecret(append([]byte(nil), tok[:]...)); err == nil {
		t.state, err = e.cfg.newSecret(st)
	}
	if err == nil {
		t.sent = true
		err = e.saveAsyncLocked(c)
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if err := mailbox.Intake(octx, e.cfg.net, from, addr, mailbox.HashToken(&tok), blob); err != nil {
		e.mu.Lock()
		t.sent = false // try again later, with a new token and state
		e.mu.Unlock()
		return err
	}
	e.cfg.logf("%s -> %s: mailbox: a sealed contact request left at its intake", c.id.name, c.rec.Petname)
	e.mu.Lock()
	for _, m := range c.msgs {
		if m.ID == first && m.State != Delivered {
			m.State = Queued
			e.ev.emit(QueuedEvent{Identity: c.id.name, Contact: c.rec.Petname, ID: first})
		}
	}
	c.mb.deposits[first] = mbDeposit{at: time.Now(), target: targetPeer}
	e.mu.Unlock()
	return nil
}

// pollReply collects the answer to our sealed request on the intake
// service, with our reply token.
func (e *Engine) pollReply(ctx context.Context, c *contact) error {
	e.mu.Lock()
	t := c.mb.tip
	if t == nil || t.token == nil {
		e.mu.Unlock()
		return nil
	}
	addr, from, tok := t.onion, c.id.onion, t.token
	e.mu.Unlock()
	octx, cancel := context.WithTimeout(ctx, e.mbTiming().Op)
	defer cancel()
	mc, err := mailbox.Dial(octx, e.cfg.net, from, addr)
	if err != nil {
		return err
	}
	defer mc.Close()
	if err := mc.Hello(mailbox.RoleContact, func(use func(*[32]byte) error) error {
		return tok.Open(func(b []byte) error {
			var k [32]byte
			copy(k[:], b)
			defer clear(k[:])
			return use(&k)
		})
	}); err != nil {
		if errors.Is(err, mailbox.ErrDenied) {
			// The owner stopped answering there (we have its mailbox now,
			// or it refused): nothing more will come.
			e.mu.Lock()
			e.dropAsyncLocked(c)
			e.mu.Unlock()
			return nil
		}
		return err
	}
	for ctx.Err() == nil {
		var items []mailbox.Item
		remaining, err := mc.Collect([16]byte{}, 256, func(it mailbox.Item) error {
			items = append(items, it)
			return nil
		})
		if err != nil {
			return err
		}
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
	c.mb.repliesPolled = time.Now()
	e.mu.Unlock()
	return nil
}

// dropAsyncLocked forgets our sealed request's token and state.
func (e *Engine) dropAsyncLocked(c *contact) {
	t := c.mb.tip
	if t == nil {
		return
	}
	if t.token != nil {
		t.token.Destroy()
		t.token = nil
	}
	if t.state != nil {
		t.state.Destroy()
		t.state = nil
	}
	if err := c.id.st.Delete(kindMbAsync, c.key); err != nil {
		e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: forgetting a contact request: %w", err)})
	}
}

// finishAsyncLocked reads the answer to our sealed request: the new epoch
// becomes the contact's conversation keys (added to those a live handshake
// may have made meanwhile).
func (e *Engine) finishAsyncLocked(c *contact, msg2 []byte) {
	t := c.mb.tip
	if t == nil || t.state == nil {
		return // answered already: a copy
	}
	var st *ratchet.State
	err := t.state.Open(func(b []byte) error {
		ini, err := ratchet.UnmarshalAsyncInitiator(b)
		if err != nil {
			return err
		}
		defer ini.Wipe()
		return c.id.seed(func(seed *[32]byte) error {
			st, err = ini.FinishFirst(msg2, seed)
			return err
		})
	})
	if err != nil {
		e.cfg.logf("%s <- %s: mailbox: an answer that does not verify, dropped", c.id.name, c.rec.Petname)
		return
	}
	defer st.Wipe()
	if err := e.adoptStateLocked(c, st); err != nil {
		e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: %s/%s: storing the conversation's keys: %w", c.id.name, c.rec.Petname, err)})
		return
	}
	t.state.Destroy()
	t.state = nil
	if err := e.saveAsyncLocked(c); err != nil {
		e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: saving a contact request: %w", err)})
	}
	e.cfg.logf("%s <- %s: mailbox: the contact request was accepted", c.id.name, c.rec.Petname)
	c.nudge()
}

// adoptStateLocked stores st as c's conversation keys, added to those it
// has. It does not wipe st.
func (e *Engine) adoptStateLocked(c *contact, st *ratchet.State) error {
	cur, err := e.loadStateLocked(c)
	if err != nil {
		return err
	}
	if cur == nil {
		cur = st.Clone()
	} else if err := cur.Adopt(st); err != nil {
		cur.Wipe()
		return err
	}
	return e.saveStateLocked(c, cur)
}

// ---- the owner ----

// intakeSeeds lends the current and previous intake keys' seeds.
func (e *Engine) ensureBundle(ctx context.Context, id *identity, o *ownMailbox, ops *mailbox.Conn) error {
	e.mu.Lock()
	if !id.open || o.rec.Intake == ([32]byte{}) {
		e.mu.Unlock()
		return nil
	}
	now := e.cfg.now()
	if o.rec.BundleExp != 0 && time.Unix(o.rec.BundleExp, 0).Sub(now) > mailbox.BundleRenew && o.bundleSet {
		e.mu.Unlock()
		return nil
	}
	renew := o.rec.BundleExp == 0 || time.Unix(o.rec.BundleExp, 0).Sub(now) <= mailbox.BundleRenew
	e.mu.Unlock()
	if renew {
		if err := e.rotateIntakeKey(id, o, now); err != nil {
			return err
		}
	}
	e.mu.Lock()
	var pub []byte
	err := o.keys.Open(func(b []byte) error {
		var seed [32]byte
		copy(seed[:], b[64:96])
		defer clear(seed[:])
		var err error
		pub, err = ratchet.IntakePublicKey(&seed)
		return err
	})
	exp := time.Unix(o.rec.BundleExp, 0)
	intake := ed25519.PublicKey(o.rec.Intake[:])
	e.mu.Unlock()
	if err != nil {
		return err
	}
	var sig []byte
	if err := id.seed(func(seed *[32]byte) error {
		priv := ed25519.NewKeyFromSeed(seed[:])
		defer clear(priv)
		sig = ed25519.Sign(priv, mailbox.BundleMessage(intake, pub, exp))
		return nil
	}); err != nil {
		return err
	}
	b, err := mailbox.MarshalBundle(intake, pub, exp, sig)
	if err != nil {
		return err
	}
	if err := ops.SetIntake(b); err != nil {
		return err
	}
	e.mu.Lock()
	o.bundleSet = true
	if o.bundleUp != nil {
		close(o.bundleUp)
		o.bundleUp = nil
	}
	e.mu.Unlock()
	e.cfg.logf("%s: mailbox: intake key valid until %s", id.name, exp.UTC().Format(time.RFC3339))
	return nil
}

// rotateIntakeKey makes a new intake key; the previous one is kept for
// requests sealed to it.
func (e *Engine) rotateIntakeKey(id *identity, o *ownMailbox, now time.Time) error {
	var seed [32]byte
	defer clear(seed[:])
	if _, err := io.ReadFull(e.cfg.rand, seed[:]); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if id.mb != o {
		return nil
	}
	var r mbOwnRec
	err := o.keys.Open(func(b []byte) error {
		r = o.rec
		copy(r.AuthPriv[:], b[:32])
		copy(r.Token[:], b[32:64])
		copy(r.PrevSeed[:], b[64:96])
		r.IntakeSeed = seed
		return nil
	})
	if err != nil {
		return err
	}
	defer r.wipe()
	r.BundleExp = now.Add(mailbox.BundleLifetime).Unix()
	b := r.marshal()
	err = id.st.Put(kindMbOwn, id.key, b)
	clear(b)
	if err != nil {
		return err
	}
	no, err := e.newOwnMailbox(&r)
	if err != nil {
		return err
	}
	o.keys.Destroy()
	o.keys = no.keys
	o.rec.BundleExp = r.BundleExp
	o.bundleSet = false
	return nil
}

// isIntakeBlob reports whether a relation of no contact holds a sealed
// contact request.
func (e *Engine) isIntakeBlob(items []mailbox.Item) bool {
	for _, it := range items {
		if it.Kind != mailbox.ItemBlob {
			continue
		}
		recs, err := mailbox.Unpack(it.Blob)
		return err == nil && len(recs) == 1 && recs[0].Type == mailbox.RecAsync1
	}
	return false
}

// receiveIntakeLocked opens the sealed contact requests of an intake
// relation and keeps them as requests (Part 2 §2.7's caps, rate limit and
// duplicate rule), with what is needed to answer them. It returns the item
// IDs to delete; a relation that holds no valid request goes.
func (e *Engine) receiveIntakeLocked(id *identity, rel [16]byte, items []mailbox.Item) [][mailbox.ItemLen]byte {
	var del [][mailbox.ItemLen]byte
	kept := false
	for _, it := range items {
		del = append(del, it.ID)
		if it.Kind != mailbox.ItemBlob || kept {
			continue
		}
		recs, err := mailbox.Unpack(it.Blob)
		if err != nil || len(recs) != 1 || recs[0].Type != mailbox.RecAsync1 {
			continue
		}
		peer, payload, resp, err := e.openIntakeLocked(id, recs[0].Payload)
		if err != nil {
			e.cfg.logf("%s: mailbox: an intake request that does not open, dropped", id.name)
			continue
		}
		m, err := wire.ParseMessage(payload)
		clear(payload)
		if err != nil || m.Kind != wire.KindRequest {
			resp.Wipe()
			continue
		}
		r, err := e.storeRequestLocked(id, peer, m)
		if err != nil || r == nil {
			resp.Wipe()
			if err != nil {
				e.cfg.logf("%s: mailbox: an intake request refused: %v", id.name, err)
			}
			continue
		}
		// The newest request from one requester wins: it polls its newest
		// reply queue.
		if old, err := id.st.Get(kindMbIntake, id.key+"."+r.rec.ID); err == nil && len(old) > 17 {
			e.goneLocked(id, [16]byte(old[1:17]))
			clear(old)
		}
		st, err := resp.MarshalBinary()
		resp.Wipe()
		if err != nil {
			continue
		}
		v := append(append([]byte{mbRecV}, rel[:]...), st...)
		clear(st)
		err = id.st.Put(kindMbIntake, id.key+"."+r.rec.ID, v)
		clear(v)
		if err != nil {
			e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: storing a contact request: %w", err)})
			continue
		}
		kept = true
	}
	if !kept {
		e.goneLocked(id, rel)
	}
	return del
}

func (e *Engine) openIntakeLocked(id *identity, msg1 []byte) (ed25519.PublicKey, []byte, *ratchet.AsyncResponder, error) {
	o := id.mb
	if o == nil || o.keys == nil {
		return nil, nil, nil, ratchet.ErrHandshake
	}
	var peer ed25519.PublicKey
	var payload []byte
	var resp *ratchet.AsyncResponder
	err := o.keys.Open(func(b []byte) error {
		return id.seed(func(seed *[32]byte) error {
			for _, off := range []int{64, 96} { // the current intake key, then the previous one
				var is [32]byte
				copy(is[:], b[off:off+32])
				if is == ([32]byte{}) {
					continue
				}
				var err error
				peer, payload, resp, err = ratchet.OpenFirst(seed, &is, msg1)
				clear(is[:])
				if err == nil {
					return nil
				}
			}
			return ratchet.ErrHandshake
		})
	})
	return peer, payload, resp, err
}

// goneLocked marks a relation of the identity's mailbox to be removed.
func (e *Engine) goneLocked(id *identity, rel [16]byte) {
	o := id.mb
	if o == nil || o.gone[rel] {
		return
	}
	o.gone[rel] = true
	if err := id.st.Put(kindMbGone, goneKey(id, rel), []byte{mbRecV}); err != nil {
		e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: saving a mailbox change: %w", err)})
	}
	o.nudge()
}

// acceptIntakeLocked answers a request that came through the intake, when
// its owner accepts it: message 2 of the handshake, the conversation keys,
// and from then on the contact's messages go into the intake relation until
// it confirmed our mailbox offer.
func (e *Engine) acceptIntakeLocked(id *identity, requestID string, c *contact, r *request) error {
	key := id.key + "." + requestID
	b, err := id.st.Get(kindMbIntake, key)
	if errors.Is(err, errNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer clear(b)
	if len(b) < 17 || b[0] != mbRecV {
		return errMbRecord
	}
	rel := [16]byte(b[1:17])
	resp, err := ratchet.UnmarshalAsyncResponder(b[17:])
	if err != nil {
		return err
	}
	defer resp.Wipe()
	if !resp.Peer().Equal(c.pub) {
		return errMbRecord
	}
	msg2, st, err := resp.AnswerFirst(e.cfg.rand)
	if err != nil {
		return err
	}
	defer st.Wipe()
	if err := e.adoptStateLocked(c, st); err != nil {
		return err
	}
	v := append(append([]byte{mbRecV}, rel[:]...), msg2...)
	if err := id.st.Put(kindMbReplyTo, c.key, v); err != nil {
		return err
	}
	c.mb.replyTo = &replyRel{rel: rel, msg2: msg2}
	if err := id.st.Delete(kindMbIntake, key); err != nil {
		return err
	}
	// The requester learns its first text arrived with our answer.
	if len(r.rec.MsgID) == wire.IDLen {
		e.oweAckLocked(c, MessageID(r.rec.MsgID))
	}
	c.mbNudge()
	return nil
}

// rejectIntakeLocked forgets a refused request's intake relation.
func (e *Engine) rejectIntakeLocked(id *identity, requestID string) {
	key := id.key + "." + requestID
	b, err := id.st.Get(kindMbIntake, key)
	if err != nil {
		return
	}
	if len(b) >= 17 {
		e.goneLocked(id, [16]byte(b[1:17]))
	}
	clear(b)
	id.st.Delete(kindMbIntake, key)
}

// replyDoneLocked ends answering a contact in its intake relation once it
// confirmed our mailbox offer.
func (e *Engine) replyDoneLocked(c *contact) {
	r := c.mb.replyTo
	if r == nil {
		return
	}
	e.goneLocked(c.id, r.rel)
	c.mb.replyTo = nil
	if err := c.id.st.Delete(kindMbReplyTo, c.key); err != nil {
		e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: saving a mailbox change: %w", err)})
	}
}
