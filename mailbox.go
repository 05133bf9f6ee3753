package sotto

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/curve25519"

	"github.com/sottochat/sotto/mailbox"
	"github.com/sottochat/sotto/onion"
)

// Mailboxes (docs/PROTOCOL.md Part 3): the messenger's side of package
// mailbox. An identity may be paired with a mailbox its owner runs; it then
// keeps a relation there for each contact and offers it to the contact
// inside the ratchet (kind 16). Whichever side has a mailbox, messages for a
// contact that cannot be reached directly are deposited there as the very
// ratchet ciphertexts a session would carry, and collected by the other
// side when it comes online. This file holds the types, the records and the
// API; mailbox_owner.go the identity's loop with its own mailbox,
// mailbox_courier.go each contact's deposits and collections, and
// mailbox_recv.go what is done with collected blobs.

// Timings of delivery through mailboxes; tests shorten them.
type mbTiming struct {
	Grace    time.Duration // a message waits this long for a session before it is deposited
	AckDelay time.Duration // acknowledgements owed wait this long for a session, batching
	Poll     time.Duration // collection of a contact's mailbox, and of our own besides its notifications
	Op       time.Duration // one mailbox operation (dial and reply)
}

var defaultMbTiming = mbTiming{Grace: 10 * time.Second, AckDelay: 2 * time.Second, Poll: 5 * time.Minute, Op: 2 * time.Minute}

// Deposit targets.
const (
	targetPeer = 1 // the contact's mailbox (its offer)
	targetOwn  = 2 // our own mailbox's relation for the contact
	// targetReply: the intake relation a requester collects our answer
	// from, until it confirmed our offer (tipline.go)
	targetReply = 3
)

// ErrNoMailbox: the identity is not paired with a mailbox.
var ErrNoMailbox = errors.New("sotto: the identity has no mailbox")

// ErrMailboxPaired: the identity is paired with a mailbox already.
var ErrMailboxPaired = errors.New("sotto: the identity is paired with a mailbox already; unpair it first")

// ErrMailboxUnreachable wraps a failure to reach the identity's mailbox.
var ErrMailboxUnreachable = errors.New("sotto: the mailbox cannot be reached")

// Queued is the delivery state of an outgoing message left at a mailbox
// (ours or the contact's) that the contact has not acknowledged yet.
const Queued Delivery = Delivered + 1

// QueuedEvent reports that outgoing messages were left at a mailbox: they
// wait there for the contact ("queued at mailbox").
type QueuedEvent struct {
	Identity, Contact string
	ID                MessageID
}

// MailboxState is what an identity knows of its own mailbox.
type MailboxState int

const (
	MailboxNone        MailboxState = iota // not paired
	MailboxPaired                          // paired, not reached since the engine started
	MailboxReachable                       // the last attempt to reach it succeeded
	MailboxUnreachable                     // the last attempt failed (Err says why)
)

func (s MailboxState) String() string {
	switch s {
	case MailboxPaired:
		return "paired"
	case MailboxReachable:
		return "reachable"
	case MailboxUnreachable:
		return "unreachable"
	}
	return "none"
}

// MailboxEvent reports a change of an identity's mailbox: paired, reached,
// unreachable, unpaired.
type MailboxEvent struct {
	Identity string
	State    MailboxState
	Err      string // why it is unreachable, without secrets
}

// MailboxUnorderedEvent reports that a contact's mailbox delivered
// messages late, after later ones (it reordered or held them back): they
// are stored, after those.
type MailboxUnorderedEvent struct{ Identity, Contact string }

func (QueuedEvent) isEvent()           {}
func (MailboxEvent) isEvent()          {}
func (MailboxUnorderedEvent) isEvent() {}

// MailboxInfo describes an identity's mailbox.
type MailboxInfo struct {
	Identity  string
	State     MailboxState
	Onion     string // the identity service's address on the mailbox (only its owner knows it)
	Intake    string // the intake service's address, or "" (open-mode identities)
	Waiting   int    // items waiting for us at the last collection
	Left      int    // items we left for contacts that they have not collected
	Contacts  int    // contacts with a relation there
	Confirmed int    // contacts that confirmed our offer
	Err       string
}

// ownMailbox is an identity's paired mailbox. Guarded by Engine.mu.
type ownMailbox struct {
	rec    mbOwnRec  // without its secrets
	keys   secretBox // owner client-auth private key (32) || owner token (32) || intake seed (32) || previous intake seed (32)
	svc    ed25519.PublicKey
	onion  string
	intake string
	state  MailboxState
	err    string
	counts mailbox.Counts
	gone   map[[16]byte]bool // relations to remove at the mailbox
	wake   chan struct{}
	loop   bool // its loop runs

	bundleSet bool          // the intake bundle was set at the mailbox since the engine started
	bundleUp  chan struct{} // closed when it is first set (PairMailbox waits for it)
}

// contactMailbox is what one contact and we know of each other's mailboxes.
// Guarded by Engine.mu.
type contactMailbox struct {
	rel      *mbRel
	peer     *mbPeer
	seqOut   uint64 // bundles deposited for the contact
	seqIn    uint64 // the highest bundle seq handled from it
	deposits map[MessageID]mbDeposit
	acks     []MessageID // acknowledgements owed, deposited if no session carries them
	acksAt   time.Time   // when the oldest of acks was owed
	okDue    uint32      // the serial of the contact's offer (or off) we must confirm; 0: none
	offered  *session    // the session our mailbox messages last went out on
	courier  bool        // its courier runs
	wake     chan struct{}
	noSess   time.Time // since when there is no session (zero: unknown, or one is up)
	polled   time.Time
	ctlDone  string // the mailbox messages deposited last (controlKey)
	depLogOK bool   // the deposit log was read

	tip           *tipState // a contact added by tip code (tipline.go)
	replyTo       *replyRel // we answer this requester in an intake relation (tipline.go)
	repliesPolled time.Time
}

type mbRel struct {
	rec     mbRelRec  // without its secrets
	keys    secretBox // contact token (32) || client-auth private key (32)
	authPub [32]byte
}

type mbPeer struct {
	rec        mbPeerRec // without its secrets
	keys       secretBox // client-auth private key (32) || token (32)
	onion      string
	authorized bool // registered with our tor
}

type mbDeposit struct {
	at     time.Time
	target uint8
	serial uint32
}

func (o *ownMailbox) destroy() {
	if o != nil && o.keys != nil {
		o.keys.Destroy()
	}
}

func (r *mbRel) destroy() {
	if r != nil && r.keys != nil {
		r.keys.Destroy()
	}
}

func (p *mbPeer) destroy() {
	if p != nil && p.keys != nil {
		p.keys.Destroy()
	}
}

// half lends one 32-byte half of a 64-byte secretBox.
func half(box secretBox, second bool) mailbox.KeyFunc {
	return func(use func(*[32]byte) error) error {
		return box.Open(func(b []byte) error {
			var k [32]byte
			if second {
				copy(k[:], b[32:64])
			} else {
				copy(k[:], b[:32])
			}
			defer clear(k[:])
			return use(&k)
		})
	}
}

func (e *Engine) boxOf(a, b *[32]byte) (secretBox, error) {
	buf := make([]byte, 64)
	copy(buf, a[:])
	copy(buf[32:], b[:])
	return e.cfg.newSecret(buf) // wipes buf
}

// ---- loading ----

// loadMailboxLocked reads an identity's mailbox records and its contacts'.
func (e *Engine) loadMailboxLocked(id *identity) error {
	b, err := id.st.Get(kindMbOwn, id.key)
	switch {
	case err == nil:
		r, err := parseMbOwn(b)
		clear(b)
		if err != nil {
			return err
		}
		o, err := e.newOwnMailbox(r)
		r.wipe()
		if err != nil {
			return err
		}
		id.mb = o
		keys, err := id.st.Keys(kindMbGone)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if rel, ok := parseGoneKey(id, k); ok {
				o.gone[rel] = true
			}
		}
	case !errors.Is(err, errNotFound):
		return err
	}
	for _, c := range id.contacts {
		if err := e.loadContactMailboxLocked(c); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) newOwnMailbox(r *mbOwnRec) (*ownMailbox, error) {
	o := &ownMailbox{rec: *r, gone: map[[16]byte]bool{}, wake: make(chan struct{}, 1), state: MailboxPaired}
	o.rec.wipe()
	if !r.Paired {
		o.state = MailboxNone
		return o, nil
	}
	buf := make([]byte, 128)
	copy(buf, r.AuthPriv[:])
	copy(buf[32:], r.Token[:])
	copy(buf[64:], r.IntakeSeed[:])
	copy(buf[96:], r.PrevSeed[:])
	keys, err := e.cfg.newSecret(buf) // wipes buf
	if err != nil {
		return nil, err
	}
	o.keys = keys
	o.svc = ed25519.PublicKey(append([]byte(nil), r.Service[:]...))
	o.onion = onion.AddressFromPublicKey(o.svc)
	if r.Intake != ([32]byte{}) {
		o.intake = onion.AddressFromPublicKey(ed25519.PublicKey(r.Intake[:]))
	}
	return o, nil
}

func (e *Engine) loadContactMailboxLocked(c *contact) error {
	c.mb.wake = make(chan struct{}, 1)
	c.mb.deposits = map[MessageID]mbDeposit{}
	st := c.id.st
	if b, err := st.Get(kindMbRel, c.key); err == nil {
		r, err := parseMbRel(b)
		clear(b)
		if err != nil {
			return err
		}
		rel, err := e.newRel(r)
		r.wipe()
		if err != nil {
			return err
		}
		c.mb.rel = rel
	} else if !errors.Is(err, errNotFound) {
		return err
	}
	if b, err := st.Get(kindMbPeer, c.key); err == nil {
		r, err := parseMbPeer(b)
		clear(b)
		if err != nil {
			return err
		}
		p, err := e.newPeer(r)
		r.wipe()
		if err != nil {
			return err
		}
		c.mb.peer = p
	} else if !errors.Is(err, errNotFound) {
		return err
	}
	if b, err := st.Get(kindMbSeq, c.key); err == nil {
		if c.mb.seqOut, c.mb.seqIn, err = parseSeq(b); err != nil {
			return err
		}
	} else if !errors.Is(err, errNotFound) {
		return err
	}
	if err := e.loadTipLocked(c); err != nil {
		return err
	}
	return e.loadDepositsLocked(c)
}

func (e *Engine) newRel(r *mbRelRec) (*mbRel, error) {
	keys, err := e.boxOf(&r.Token, &r.AuthPriv)
	if err != nil {
		return nil, err
	}
	rel := &mbRel{rec: *r, keys: keys}
	rel.rec.wipe()
	pub, err := curve25519.X25519(r.AuthPriv[:], curve25519.Basepoint)
	if err != nil {
		keys.Destroy()
		return nil, err
	}
	copy(rel.authPub[:], pub)
	return rel, nil
}

func (e *Engine) newPeer(r *mbPeerRec) (*mbPeer, error) {
	keys, err := e.boxOf(&r.AuthPriv, &r.Token)
	if err != nil {
		return nil, err
	}
	p := &mbPeer{rec: *r, keys: keys, onion: onion.AddressFromPublicKey(ed25519.PublicKey(r.Service[:]))}
	p.rec.wipe()
	return p, nil
}

// loadDepositsLocked reads the contact's deposit log: outbox entries it
// names are queued at a mailbox; entries that left the outbox are dropped.
func (e *Engine) loadDepositsLocked(c *contact) error {
	inOutbox := map[MessageID]bool{}
	for _, o := range c.outbox {
		inOutbox[o.id] = true
	}
	var stale []string
	err := e.msgStore(c).ReadLog(c.logDeposits(), func(lid string, v []byte) error {
		r, err := parseMbDeposit(v)
		if err != nil {
			return err
		}
		live := false
		for _, id := range r.IDs {
			if inOutbox[id] {
				live = true
				c.mb.deposits[id] = mbDeposit{at: time.Unix(r.At, 0), target: r.Target, serial: r.Serial}
			}
		}
		if !live {
			stale = append(stale, lid)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		if err := e.msgStore(c).Remove(c.logDeposits(), stale...); err != nil {
			return err
		}
	}
	for _, m := range c.msgs {
		if _, ok := c.mb.deposits[m.ID]; ok && m.Dir != Incoming && inOutbox[m.ID] {
			m.State = Queued
		}
	}
	c.mb.depLogOK = true
	return nil
}

// deleteContactMailboxLocked forgets a removed contact's mailbox state; its
// relation on our mailbox is removed there by the identity's loop.
func (e *Engine) deleteContactMailboxLocked(c *contact) error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	st := c.id.st
	if r := c.mb.rel; r != nil {
		if r.rec.Added && c.id.mb != nil && c.id.mb.rec.Paired {
			keep(st.Put(kindMbGone, goneKey(c.id, r.rec.ID), []byte{mbRecV}))
			c.id.mb.gone[r.rec.ID] = true
			c.id.mb.nudge()
		}
		r.destroy()
		c.mb.rel = nil
		keep(st.Delete(kindMbRel, c.key))
	}
	if p := c.mb.peer; p != nil {
		if p.authorized && e.cfg.net != nil {
			onionAddr := p.onion
			go e.cfg.net.Deauthorize(context.Background(), onionAddr)
		}
		p.destroy()
		c.mb.peer = nil
		keep(st.Delete(kindMbPeer, c.key))
	}
	keep(st.Delete(kindMbSeq, c.key))
	keep(e.msgStore(c).DropLog(c.logDeposits()))
	if t := c.mb.tip; t != nil {
		e.dropAsyncLocked(c)
		c.mb.tip = nil
		keep(st.Delete(kindMbTip, c.key))
	}
	if c.mb.replyTo != nil {
		e.replyDoneLocked(c)
	}
	return first
}

func (o *ownMailbox) nudge() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (c *contact) mbNudge() {
	if c.mb.wake == nil {
		return
	}
	select {
	case c.mb.wake <- struct{}{}:
	default:
	}
}

// ---- API ----

// PairMailbox links an identity with the mailbox whose pairing code is
// code (printed by 'sotto mailbox code' on the mailbox): the mailbox makes
// a service for the identity (and, for an open-mode identity, an intake
// service), and from then on the identity's contacts are offered a queue
// there. It needs tor and the mailbox online. Using the same code again
// after a failure is safe: a code the mailbox used for this identity gives
// the same service.
func (e *Engine) PairMailbox(ctx context.Context, identity, code string) (MailboxInfo, error) {
	if ctx == nil {
		return MailboxInfo{}, ErrNilContext
	}
	pc, err := mailbox.ParseCode(code)
	if err != nil {
		return MailboxInfo{}, err
	}
	defer pc.Wipe()
	e.mu.Lock()
	id, err := e.identityLocked(identity)
	if err == nil && id.mb != nil && id.mb.rec.Paired {
		err = ErrMailboxPaired
	}
	if err == nil && e.cfg.net == nil {
		err = ErrOffline
	}
	e.mu.Unlock()
	if err != nil {
		return MailboxInfo{}, err
	}
	// The owner's credentials derive from the identity's seed and the
	// code's secret: pairing again with the same code (a lost reply, a
	// crash) presents the same ones and gets the same service, and nobody
	// who saw the code can compute them.
	var authPriv, token [32]byte
	defer clear(authPriv[:])
	defer clear(token[:])
	if err := id.seed(func(seed *[32]byte) error {
		for i, label := range []string{"sotto mailbox owner auth", "sotto mailbox owner token"} {
			mac := hmac.New(sha256.New, seed[:])
			mac.Write([]byte(label))
			mac.Write(pc.Secret[:])
			sum := mac.Sum(nil)
			if i == 0 {
				copy(authPriv[:], sum)
			} else {
				copy(token[:], sum)
			}
			clear(sum)
		}
		return nil
	}); err != nil {
		return MailboxInfo{}, err
	}
	authPub, err := curve25519.X25519(authPriv[:], curve25519.Basepoint)
	if err != nil {
		return MailboxInfo{}, err
	}
	// A pairing service whose key was just authorised needs a moment
	// before tor can fetch its new descriptor: retry what is not the
	// mailbox's own answer until the time is up.
	octx, cancel := context.WithTimeout(ctx, e.mbTiming().Op)
	defer cancel()
	var svc, intake ed25519.PublicKey
	for wait := time.Second; ; wait = min(2*wait, 15*time.Second) {
		svc, intake, err = mailbox.Pair(octx, e.cfg.net, id.onion, pc, [32]byte(authPub),
			func(use func(*[32]byte) error) error { return use(&token) }, id.open)
		var re *mailbox.RemoteError
		if err == nil || errors.As(err, &re) || errors.Is(err, mailbox.ErrMalformed) || ctx.Err() != nil {
			break
		}
		e.cfg.logf("%s: pairing: %s; again in %v", id.name, errText(err), wait)
		if !sleepCtx(octx, wait) {
			break
		}
	}
	if err != nil {
		return MailboxInfo{}, e.mailboxErr(err)
	}
	r := &mbOwnRec{Paired: true, MaxAge: uint32(mailbox.DefaultMaxAge / time.Second), AuthPriv: authPriv, Token: token}
	copy(r.Service[:], svc)
	if intake != nil {
		copy(r.Intake[:], intake)
	}
	defer r.wipe()
	e.mu.Lock()
	info, up, err := e.pairedLocked(id, r)
	e.mu.Unlock()
	if err != nil || up == nil {
		return info, err
	}
	// An open identity's tip code works once the intake bundle is at the
	// mailbox: wait for the owner's loop to put it there, so that a
	// journalist who pairs, hands out the code and goes offline has a
	// working tip line.
	select {
	case <-up:
	case <-octx.Done():
		e.cfg.logf("%s: mailbox: the tip line's intake key is not at the mailbox yet; it will be once the mailbox is reached", id.name)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mailboxInfoLocked(id), nil
}

// pairedLocked stores a new pairing and starts using it. up, for an
// identity with a tip line, is closed once its intake bundle is set.
func (e *Engine) pairedLocked(id *identity, r *mbOwnRec) (info MailboxInfo, up chan struct{}, err error) {
	if id.removed {
		return MailboxInfo{}, nil, ErrUnknownIdentity
	}
	if id.mb != nil {
		r.Serial = id.mb.rec.Serial
		if id.mb.rec.Paired {
			return MailboxInfo{}, nil, ErrMailboxPaired
		}
	}
	r.Serial++
	b := r.marshal()
	err = id.st.Put(kindMbOwn, id.key, b)
	clear(b)
	if err != nil {
		return MailboxInfo{}, nil, fmt.Errorf("sotto: saving the mailbox: %w", err)
	}
	o, err := e.newOwnMailbox(r)
	if err != nil {
		return MailboxInfo{}, nil, err
	}
	if old := id.mb; old != nil {
		o.gone = old.gone
	}
	if id.open && r.Intake != ([32]byte{}) {
		o.bundleUp = make(chan struct{})
	}
	id.mb = o
	e.ev.emit(MailboxEvent{Identity: id.name, State: MailboxPaired})
	e.startMailboxLocked(id)
	return e.mailboxInfoLocked(id), o.bundleUp, nil
}

// UnpairMailbox wipes the identity's service on its mailbox (its queues and
// keys) and stops using it; contacts are told to stop too. With force it
// forgets the mailbox here even when the mailbox cannot be reached (its
// blobs then wait there until they expire).
func (e *Engine) UnpairMailbox(ctx context.Context, identity string, force bool) error {
	if ctx == nil {
		return ErrNilContext
	}
	e.mu.Lock()
	id, err := e.identityLocked(identity)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	o := id.mb
	if o == nil || !o.rec.Paired {
		e.mu.Unlock()
		return ErrNoMailbox
	}
	onionAddr, keys := o.onion, o.keys
	e.mu.Unlock()
	var rerr error
	if e.cfg.net == nil {
		rerr = ErrOffline
	} else {
		octx, cancel := context.WithTimeout(ctx, e.mbTiming().Op)
		rerr = func() error {
			if err := e.cfg.net.Authorize(octx, onionAddr, half(keys, false)); err != nil {
				return err
			}
			c, err := mailbox.Dial(octx, e.cfg.net, id.onion, onionAddr)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Hello(mailbox.RoleOwner, half(keys, true)); err != nil {
				return err
			}
			return c.Unpair()
		}()
		cancel()
	}
	if rerr != nil && !errors.Is(rerr, mailbox.ErrDenied) && !force {
		return e.mailboxErr(rerr)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if id.mb != o {
		return nil
	}
	serial := o.rec.Serial + 1
	r := &mbOwnRec{Serial: serial}
	if err := id.st.Put(kindMbOwn, id.key, r.marshal()); err != nil {
		return fmt.Errorf("sotto: forgetting the mailbox: %w", err)
	}
	for rel := range o.gone {
		id.st.Delete(kindMbGone, goneKey(id, rel))
	}
	o.destroy()
	no, _ := e.newOwnMailbox(r)
	id.mb = no
	// Contacts are told to stop (mailbox_off) on their next session or
	// bundle; until they confirm, their relation record says so.
	for _, c := range id.contacts {
		rel := c.mb.rel
		if rel == nil {
			continue
		}
		rel.rec.Off, rel.rec.Added, rel.rec.Confirmed, rel.rec.Serial = true, false, false, serial
		if err := e.saveRelLocked(c); err != nil {
			return err
		}
		c.mb.offered = nil
		c.nudge()
		c.mbNudge()
	}
	if e.cfg.net != nil {
		go e.cfg.net.Deauthorize(context.Background(), onionAddr)
	}
	e.ev.emit(MailboxEvent{Identity: id.name, State: MailboxNone})
	return nil
}

// Mailbox describes the identity's mailbox (State MailboxNone if none).
func (e *Engine) Mailbox(identity string) (MailboxInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id, err := e.identityLocked(identity)
	if err != nil {
		return MailboxInfo{}, err
	}
	return e.mailboxInfoLocked(id), nil
}

func (e *Engine) mailboxInfoLocked(id *identity) MailboxInfo {
	info := MailboxInfo{Identity: id.name}
	o := id.mb
	if o == nil || !o.rec.Paired {
		return info
	}
	info.State, info.Onion, info.Intake, info.Err = o.state, o.onion, o.intake, o.err
	info.Waiting, info.Left = int(o.counts.In), int(o.counts.Out)
	for _, c := range id.contacts {
		if r := c.mb.rel; r != nil && r.rec.Added {
			info.Contacts++
			if r.rec.Confirmed {
				info.Confirmed++
			}
		}
	}
	return info
}

// mailboxErr turns a mailbox client error into one for the user.
func (e *Engine) mailboxErr(err error) error {
	var re *mailbox.RemoteError
	switch {
	case errors.Is(err, mailbox.ErrBadCode):
		return err
	case errors.As(err, &re):
		return fmt.Errorf("%w: %w", ErrMailboxUnreachable, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: no answer in time", ErrMailboxUnreachable)
	}
	return fmt.Errorf("%w: %s", ErrMailboxUnreachable, errText(err))
}

// errText shortens an error for a user or a log line: onion addresses in it
// are abbreviated.
func errText(err error) string {
	if err == nil {
		return ""
	}
	words := strings.Fields(err.Error())
	for i, w := range words {
		t := strings.Trim(w, ".,:;\"'()")
		if len(t) >= 56 {
			if _, perr := onion.ParseAddress(t[:56]); perr == nil {
				words[i] = onion.Abbrev(t)
			}
		}
	}
	return strings.Join(words, " ")
}

func (e *Engine) mbTiming() mbTiming {
	if e.mbt != (mbTiming{}) {
		return e.mbt
	}
	return defaultMbTiming
}

// saveRelLocked stores the contact's relation record.
func (e *Engine) saveRelLocked(c *contact) error {
	rel := c.mb.rel
	rec := rel.rec
	err := rel.keys.Open(func(b []byte) error {
		copy(rec.Token[:], b[:32])
		copy(rec.AuthPriv[:], b[32:64])
		return nil
	})
	if err != nil {
		return err
	}
	v := rec.marshal()
	rec.wipe()
	err = c.id.st.Put(kindMbRel, c.key, v)
	clear(v)
	if err != nil {
		return fmt.Errorf("sotto: saving a mailbox relation: %w", err)
	}
	return nil
}

// newRelLocked makes a fresh relation for a contact (not yet at the mailbox).
func (e *Engine) newRelLocked(c *contact, serial uint32) error {
	r := &mbRelRec{Serial: serial}
	defer r.wipe()
	for _, b := range [][]byte{r.ID[:], r.Token[:], r.AuthPriv[:]} {
		if _, err := io.ReadFull(e.cfg.rand, b); err != nil {
			return err
		}
	}
	rel, err := e.newRel(r)
	if err != nil {
		return err
	}
	c.mb.rel.destroy()
	c.mb.rel = rel
	return e.saveRelLocked(c)
}

// burnMailboxLocked forgets a burned identity's mailbox records and, in the
// background and for at most a minute, asks the mailbox to wipe its service
// (so its queues do not wait there until they expire).
func (e *Engine) burnMailboxLocked(ctx context.Context, id *identity) error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for rid := range id.requests {
		keep(id.st.Delete(kindMbIntake, id.key+"."+rid))
	}
	keys, _ := id.st.Keys(kindMbGone)
	for _, k := range keys {
		if _, ok := parseGoneKey(id, k); ok {
			keep(id.st.Delete(kindMbGone, k))
		}
	}
	keep(id.st.Delete(kindMbOwn, id.key))
	o := id.mb
	id.mb = nil
	if o == nil || !o.rec.Paired || e.cfg.net == nil || o.keys == nil {
		o.destroy()
		return first
	}
	from, addr := id.onion, o.onion
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer o.keys.Destroy()
		octx, cancel := context.WithTimeout(e.ctx, time.Minute)
		defer cancel()
		if err := e.cfg.net.Authorize(octx, addr, half(o.keys, false)); err != nil {
			return
		}
		c, err := mailbox.Dial(octx, e.cfg.net, from, addr)
		if err != nil {
			return
		}
		defer c.Close()
		if c.Hello(mailbox.RoleOwner, half(o.keys, true)) == nil && c.Unpair() == nil {
			e.cfg.logf("a burned identity's mailbox service was wiped")
		}
		e.cfg.net.Deauthorize(context.Background(), addr)
	}()
	return first
}
