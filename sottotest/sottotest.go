// Package sottotest provides an in-memory stand-in for *sotto.Engine, for
// tests of the packages that drive the engine (the terminal UI and the
// headless mode) without tor, a vault or a network.
//
// [Engine] keeps identities, contacts, messages and requests in memory,
// returns the engine's own sentinel errors, records every state-changing call
// (read them back with [Engine.Calls]) and lets the test emit events. Contact
// codes are real ones ([MakeCode] derives one from a seed), checked by
// sotto.CheckCode. It is not a messenger: nothing is sent, stored or
// delivered unless the test says so.
package sottotest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/internal/contactcode"
	"github.com/sottochat/sotto/internal/suggest"
	"github.com/sottochat/sotto/onion"
)

// Engine is an in-memory stand-in for *sotto.Engine. It is safe for
// concurrent use. The zero value is not usable: call [New].
type Engine struct {
	mu       sync.Mutex
	now      func() time.Time
	events   chan sotto.Event
	tor      sotto.TorStatus
	ids      []sotto.IdentityInfo // sorted by name, as the engine lists them
	contacts map[string][]sotto.ContactInfo
	msgs     map[[2]string][]sotto.Message
	reqs     map[string][]sotto.Request
	safety   map[[2]string]string
	shown    map[[2]string]int // MarkRead calls per conversation
	seq      uint64
	calls    []string
	block    chan struct{} // non-nil: a Send's store waits on it
	outboxes int           // Outbox calls
	closed   bool
}

// Epoch is the clock of an engine made by New(nil).
var Epoch = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

// EventBuffer is the size of the event channel.
const EventBuffer = 1024

// New returns an empty engine with tor ready whose clock is now (nil: the
// fixed time [Epoch]).
func New(now func() time.Time) *Engine {
	if now == nil {
		now = func() time.Time { return Epoch }
	}
	return &Engine{
		now:      now,
		events:   make(chan sotto.Event, EventBuffer),
		tor:      sotto.TorStatus{State: sotto.TorReady, Percent: 100, Summary: "Done"},
		contacts: map[string][]sotto.ContactInfo{},
		msgs:     map[[2]string][]sotto.Message{},
		reqs:     map[string][]sotto.Request{},
		safety:   map[[2]string]string{},
		shown:    map[[2]string]int{},
	}
}

func (e *Engine) record(format string, args ...any) {
	e.calls = append(e.calls, fmt.Sprintf(format, args...))
}

// Calls returns the state-changing calls made so far, one line each, such
// as `Send alice bob "hello"` or "NewIdentity drop ephemeral=false open=true".
func (e *Engine) Calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// Emit queues an event for Events; it blocks when the buffer is full.
func (e *Engine) Emit(ev sotto.Event) { e.events <- ev }

// BlockSend makes Send (SendQueued's stored) wait until the returned
// function is called.
func (e *Engine) BlockSend() (release func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch := make(chan struct{})
	e.block = ch
	return func() { close(ch) }
}

// SetTor sets the status TorStatus returns.
func (e *Engine) SetTor(s sotto.TorStatus) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tor = s
}

// AddIdentity adds an identity as if created earlier.
func (e *Engine) AddIdentity(id sotto.IdentityInfo) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.addIdentityLocked(id)
}

func (e *Engine) addIdentityLocked(id sotto.IdentityInfo) {
	i, found := slices.BinarySearchFunc(e.ids, id.Name, func(a sotto.IdentityInfo, name string) int { return strings.Compare(a.Name, name) })
	if found {
		e.ids[i] = id
		return
	}
	e.ids = slices.Insert(e.ids, i, id)
}

// SetIdentityOnline sets an identity's online state (emit an
// IdentityEvent to tell the UI).
func (e *Engine) SetIdentityOnline(name string, online bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.ids {
		if e.ids[i].Name == name {
			e.ids[i].Online = online
		}
	}
}

// PutContact adds or replaces a contact, as if added earlier.
func (e *Engine) PutContact(c sotto.ContactInfo) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.contacts[c.Identity]
	i, found := slices.BinarySearchFunc(l, c.Name, func(a sotto.ContactInfo, name string) int { return strings.Compare(a.Name, name) })
	if found {
		l[i] = c
		return
	}
	e.contacts[c.Identity] = slices.Insert(l, i, c)
}

// PutMessages appends messages to their conversations, as if received or
// sent earlier.
func (e *Engine) PutMessages(ms ...sotto.Message) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range ms {
		k := [2]string{m.Identity, m.Contact}
		e.msgs[k] = append(e.msgs[k], m)
	}
}

// PutRequest adds a contact request.
func (e *Engine) PutRequest(r sotto.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reqs[r.Identity] = append(e.reqs[r.Identity], r)
}

// SetSafetyCode sets the safety code SafetyCode returns for a contact.
func (e *Engine) SetSafetyCode(identity, contact, code string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.safety[[2]string{identity, contact}] = code
}

// MarkReadCount returns how many times MarkRead was called for a
// conversation.
func (e *Engine) MarkReadCount(identity, contact string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.shown[[2]string{identity, contact}]
}

// Closed reports whether Close was called.
func (e *Engine) Closed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// ID returns a message ID made from n.
func ID(n uint64) sotto.MessageID {
	var id sotto.MessageID
	for i := 0; i < 8; i++ {
		id[15-i] = byte(n >> (8 * i))
	}
	return id
}

// Events implements the engine method.
func (e *Engine) Events() <-chan sotto.Event { return e.events }

// TorStatus implements the engine method.
func (e *Engine) TorStatus() sotto.TorStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tor
}

// Identities implements the engine method (sorted by name).
func (e *Engine) Identities() []sotto.IdentityInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.ids)
}

func (e *Engine) identity(name string) (*sotto.IdentityInfo, error) {
	for i := range e.ids {
		if e.ids[i].Name == name {
			return &e.ids[i], nil
		}
	}
	return nil, sotto.ErrUnknownIdentity
}

// NewIdentity implements the engine method: an offline identity whose
// onion address is Onion(name).
func (e *Engine) NewIdentity(ctx context.Context, name string, o sotto.IdentityOptions) (sotto.IdentityInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("NewIdentity %s ephemeral=%v open=%v", name, o.Ephemeral, o.Open)
	if _, err := e.identity(name); err == nil {
		return sotto.IdentityInfo{}, fmt.Errorf("%w: %q", sotto.ErrIdentityExists, name)
	}
	id := sotto.IdentityInfo{Name: name, Onion: Onion(name), Ephemeral: o.Ephemeral, Open: o.Open}
	e.addIdentityLocked(id)
	return id, nil
}

// BurnIdentity implements the engine method.
func (e *Engine) BurnIdentity(ctx context.Context, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("BurnIdentity %s", name)
	if _, err := e.identity(name); err != nil {
		return err
	}
	e.ids = slices.DeleteFunc(e.ids, func(i sotto.IdentityInfo) bool { return i.Name == name })
	delete(e.contacts, name)
	delete(e.reqs, name)
	return nil
}

// Card implements the engine method: an identity's code is MakeCode(name).
func (e *Engine) Card(identity string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.identity(identity); err != nil {
		return "", err
	}
	return MakeCode(identity), nil
}

// AddContact implements the engine method; the code must pass
// sotto.CheckCode.
func (e *Engine) AddContact(ctx context.Context, identity, petname, code string) (sotto.ContactInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("AddContact %s %s %s", identity, petname, code)
	if _, err := e.identity(identity); err != nil {
		return sotto.ContactInfo{}, err
	}
	c, err := contactcode.Parse(code)
	if err != nil {
		return sotto.ContactInfo{}, sotto.CheckCode(code)
	}
	if _, err := e.contact(identity, petname); err == nil {
		return sotto.ContactInfo{}, sotto.ErrContactExists
	}
	ci := sotto.ContactInfo{Identity: identity, Name: petname, Onion: onion.AddressFromPublicKey(c.ID), History: true}
	l := e.contacts[identity]
	i, _ := slices.BinarySearchFunc(l, petname, func(a sotto.ContactInfo, name string) int { return strings.Compare(a.Name, name) })
	e.contacts[identity] = slices.Insert(l, i, ci)
	return ci, nil
}

func (e *Engine) contact(identity, name string) (*sotto.ContactInfo, error) {
	if _, err := e.identity(identity); err != nil {
		return nil, err
	}
	l := e.contacts[identity]
	names := make([]string, 0, len(l))
	for i := range l {
		if l[i].Name == name {
			return &l[i], nil
		}
		names = append(names, l[i].Name)
	}
	// The engine's error, with its suggestion (engine.go unknownContact).
	s, _ := suggest.Name(name, names)
	return nil, &sotto.UnknownContactError{Name: name, Suggestion: s}
}

// RemoveContact implements the engine method.
func (e *Engine) RemoveContact(ctx context.Context, identity, petname string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("RemoveContact %s %s", identity, petname)
	if _, err := e.contact(identity, petname); err != nil {
		return err
	}
	e.contacts[identity] = slices.DeleteFunc(e.contacts[identity], func(c sotto.ContactInfo) bool { return c.Name == petname })
	delete(e.msgs, [2]string{identity, petname})
	return nil
}

// Contacts implements the engine method (sorted by name); Last is the time
// of the newest message not expired, as the engine reports it.
func (e *Engine) Contacts(identity string) ([]sotto.ContactInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.identity(identity); err != nil {
		return nil, err
	}
	out := slices.Clone(e.contacts[identity])
	now := e.now()
	for i := range out {
		out[i].Last = time.Time{}
		for _, m := range e.msgs[[2]string{identity, out[i].Name}] {
			if m.ExpiresAt.IsZero() || now.Before(m.ExpiresAt) {
				out[i].Last = m.At
			}
		}
	}
	return out, nil
}

// SafetyCode implements the engine method: the code set by SetSafetyCode,
// else twelve groups of five digits made from the names.
func (e *Engine) SafetyCode(identity, contact string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.contact(identity, contact); err != nil {
		return "", err
	}
	if c, ok := e.safety[[2]string{identity, contact}]; ok {
		return c, nil
	}
	h := sha256.Sum256([]byte(identity + "\x00" + contact))
	groups := make([]string, 12)
	for i := range groups {
		groups[i] = fmt.Sprintf("%05d", (uint32(h[2*i])<<8|uint32(h[2*i+1]))%100000)
	}
	return strings.Join(groups, " "), nil
}

// Verify implements the engine method.
func (e *Engine) Verify(identity, contact string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("Verify %s %s", identity, contact)
	c, err := e.contact(identity, contact)
	if err != nil {
		return err
	}
	c.Verified = true
	return nil
}

// Messages implements the engine method; messages whose time ran out are
// left out, as the engine drops them.
func (e *Engine) Messages(identity, contact string) ([]sotto.Message, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.contact(identity, contact); err != nil {
		return nil, err
	}
	now := e.now()
	var out []sotto.Message
	for _, m := range e.msgs[[2]string{identity, contact}] {
		if !m.ExpiresAt.IsZero() && !now.Before(m.ExpiresAt) {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// Outbox implements the engine method: the outgoing messages (texts and
// timer changes) whose State is Pending, Sent or Queued, oldest first,
// leaving out those whose time ran out. [Engine.SetState] moves them.
func (e *Engine) Outbox(identity, contact string) ([]sotto.OutboxEntry, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.outboxes++
	if _, err := e.contact(identity, contact); err != nil {
		return nil, err
	}
	now := e.now()
	out := []sotto.OutboxEntry{}
	for _, m := range e.msgs[[2]string{identity, contact}] {
		if m.Dir != sotto.Outgoing || m.Kind != sotto.TextMessage && m.Kind != sotto.TimerMessage ||
			!m.ExpiresAt.IsZero() && !now.Before(m.ExpiresAt) {
			continue
		}
		switch m.State {
		case sotto.Pending, sotto.Sent, sotto.Queued:
			out = append(out, sotto.OutboxEntry{ID: m.ID, Kind: m.Kind, State: m.State})
		}
	}
	return out, nil
}

// OutboxCalls returns how many times Outbox was called: a test knows a
// headless "wait" has looked at the outbox once the count has grown.
func (e *Engine) OutboxCalls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.outboxes
}

// SetState sets the delivery state of one of our messages, as the engine
// does when it is sent, delivered or left at a mailbox; it reports whether
// the message was found. The test emits the matching event.
func (e *Engine) SetState(identity, contact string, id sotto.MessageID, s sotto.Delivery) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	ms := e.msgs[[2]string{identity, contact}]
	for i := range ms {
		if ms[i].ID == id {
			ms[i].State = s
			return true
		}
	}
	return false
}

// MarkRead implements the engine method: the unread count drops to 0.
func (e *Engine) MarkRead(identity, contact string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.contact(identity, contact)
	if err != nil {
		return err
	}
	c.Unread = 0
	e.shown[[2]string{identity, contact}]++
	return nil
}

// MarkShown implements the engine method: the named messages that are
// Unshown stop being so and expire their timer after now (no later than
// their ExpiresAt). It records "MarkShown identity contact n".
func (e *Engine) MarkShown(identity, contact string, ids ...sotto.MessageID) ([]sotto.Message, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.contact(identity, contact); err != nil {
		return nil, err
	}
	e.record("MarkShown %s %s %d", identity, contact, len(ids))
	want := map[sotto.MessageID]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var started []sotto.Message
	ms := e.msgs[[2]string{identity, contact}]
	for i := range ms {
		if want[ms[i].ID] && ms[i].Unshown {
			exp := e.now().Add(ms[i].Timer)
			if ms[i].ExpiresAt.IsZero() || exp.Before(ms[i].ExpiresAt) {
				ms[i].ExpiresAt = exp
			}
			ms[i].Unshown = false
			started = append(started, ms[i])
		}
	}
	return started, nil
}

// Send implements the engine method: the message is stored as Pending and
// nothing is emitted (the test emits Sent and Delivered events). It is
// SendQueued and its stored.
func (e *Engine) Send(ctx context.Context, identity, contact, text string) (sotto.MessageID, error) {
	id, stored, err := e.SendQueued(ctx, identity, contact, text)
	if err != nil {
		return sotto.MessageID{}, err
	}
	if err := stored(); err != nil {
		return sotto.MessageID{}, err
	}
	return id, nil
}

// SendQueued implements the engine method: the message is recorded and
// stored as Pending at once; stored waits for BlockSend's release, as a
// real engine's waits for its commit.
func (e *Engine) SendQueued(ctx context.Context, identity, contact, text string) (sotto.MessageID, func() error, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	block := e.block
	e.record("Send %s %s %q", identity, contact, text)
	c, err := e.contact(identity, contact)
	if err != nil {
		return sotto.MessageID{}, nil, err
	}
	if len(text) > sotto.MaxText {
		return sotto.MessageID{}, nil, fmt.Errorf("%w: at most %d bytes", sotto.ErrTooLong, sotto.MaxText)
	}
	e.seq++
	now := e.now()
	m := sotto.Message{ID: ID(1<<32 + e.seq), Identity: identity, Contact: contact, Dir: sotto.Outgoing, Text: text, At: now, State: sotto.Pending}
	if c.Timer > 0 {
		m.ExpiresAt = now.Add(c.Timer)
	}
	k := [2]string{identity, contact}
	e.msgs[k] = append(e.msgs[k], m)
	return m.ID, func() error {
		if block != nil {
			select {
			case <-block:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}, nil
}

// SetTimer implements the engine method; it stores a timer line.
func (e *Engine) SetTimer(ctx context.Context, identity, contact string, d time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("SetTimer %s %s %v", identity, contact, d)
	c, err := e.contact(identity, contact)
	if err != nil {
		return err
	}
	if d != 0 && (d < sotto.MinTimer || d > sotto.MaxTimer) {
		return sotto.ErrBadTimer
	}
	c.Timer = d
	e.seq++
	k := [2]string{identity, contact}
	e.msgs[k] = append(e.msgs[k], sotto.Message{ID: ID(1<<32 + e.seq), Identity: identity, Contact: contact, Dir: sotto.Outgoing, Kind: sotto.TimerMessage, Timer: d, At: e.now()})
	return nil
}

// SetHistory implements the engine method.
func (e *Engine) SetHistory(identity, contact string, keep bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("SetHistory %s %s %v", identity, contact, keep)
	c, err := e.contact(identity, contact)
	if err != nil {
		return err
	}
	c.History = keep
	return nil
}

// Requests implements the engine method.
func (e *Engine) Requests(identity string) ([]sotto.Request, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.identity(identity); err != nil {
		return nil, err
	}
	return slices.Clone(e.reqs[identity]), nil
}

func (e *Engine) takeRequest(identity, id string) (sotto.Request, error) {
	l := e.reqs[identity]
	for i := range l {
		if l[i].ID == id {
			r := l[i]
			e.reqs[identity] = slices.Delete(l, i, i+1)
			return r, nil
		}
	}
	return sotto.Request{}, sotto.ErrUnknownRequest
}

// AcceptRequest implements the engine method: the requester becomes a
// contact.
func (e *Engine) AcceptRequest(ctx context.Context, identity, requestID, petname string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("AcceptRequest %s %s %s", identity, requestID, petname)
	if _, err := e.identity(identity); err != nil {
		return err
	}
	r, err := e.takeRequest(identity, requestID)
	if err != nil {
		return err
	}
	e.contacts[identity] = append(e.contacts[identity], sotto.ContactInfo{Identity: identity, Name: petname, Onion: r.Onion, History: true})
	slices.SortFunc(e.contacts[identity], func(a, b sotto.ContactInfo) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

// RejectRequest implements the engine method.
func (e *Engine) RejectRequest(ctx context.Context, identity, requestID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("RejectRequest %s %s", identity, requestID)
	if _, err := e.identity(identity); err != nil {
		return err
	}
	_, err := e.takeRequest(identity, requestID)
	return err
}

// Close implements the engine method: it closes the event channel once.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		e.closed = true
		close(e.events)
	}
	return nil
}

// keys derives an identity key and a client-auth key from seed.
func keys(seed string) (ed25519.PublicKey, [32]byte) {
	s := sha256.Sum256([]byte("sottotest identity\x00" + seed))
	pub := ed25519.NewKeyFromSeed(s[:]).Public().(ed25519.PublicKey)
	return pub, sha256.Sum256([]byte("sottotest client auth\x00" + seed))
}

// Onion returns the (well-formed) onion address of the identity made from
// seed.
func Onion(seed string) string {
	pub, _ := keys(seed)
	return onion.AddressFromPublicKey(pub)
}

// MakeCode returns the contact code of the identity made from seed: a real
// code, which sotto.CheckCode accepts.
func MakeCode(seed string) string {
	pub, auth := keys(seed)
	c := contactcode.Code{ID: pub, Auth: auth}
	return c.String()
}

// QRCode draws a deterministic block pattern for text, the size of
// sotto.QRCode's drawing of a contact code (45 columns, 23 rows), far
// cheaper to make.
func QRCode(text string) string {
	const n = 45
	h := sha256.Sum256([]byte(text))
	x := uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16 | uint32(h[3])<<24
	bit := func() bool { x = x*1664525 + 1013904223; return x>>31 == 1 }
	var grid [n + 1][n]bool
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			grid[y][x] = bit()
		}
	}
	var b strings.Builder
	for y := 0; y < n; y += 2 {
		for x := 0; x < n; x++ {
			switch top, bot := grid[y][x], grid[y+1][x]; {
			case top && bot:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bot:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
