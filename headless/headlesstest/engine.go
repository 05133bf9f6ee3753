// Package headlesstest provides an in-memory engine for tests of the
// headless mode: it keeps identities, contacts, messages and requests in
// maps, records every call, and lets the test inject events. It talks to no
// network and stores nothing; it is not a messenger.
package headlesstest

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/sottochat/sotto"
)

// The fake returns the engine's own sentinel errors.
var (
	ErrUnknownIdentity = sotto.ErrUnknownIdentity
	ErrUnknownContact  = sotto.ErrUnknownContact
	ErrBadTimer        = sotto.ErrBadTimer
)

// Engine is a fake of *sotto.Engine. The zero value is not usable: call New.
type Engine struct {
	events chan sotto.Event

	mu         sync.Mutex
	now        func() time.Time
	identities map[string]sotto.IdentityInfo
	contacts   map[string]map[string]sotto.ContactInfo // identity -> petname
	messages   map[string][]sotto.Message              // identity+"\x00"+contact
	requests   map[string][]sotto.Request              // identity
	calls      []string
	block      chan struct{} // non-nil: Send waits on it
}

// New returns a fake engine with an event buffer of n.
func New(n int) *Engine {
	return &Engine{
		events:     make(chan sotto.Event, n),
		now:        func() time.Time { return time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC) },
		identities: map[string]sotto.IdentityInfo{},
		contacts:   map[string]map[string]sotto.ContactInfo{},
		messages:   map[string][]sotto.Message{},
		requests:   map[string][]sotto.Request{},
	}
}

// Emit queues an event as the engine would; it blocks when the buffer is full.
func (e *Engine) Emit(ev sotto.Event) { e.events <- ev }

// CloseEvents closes the event channel, as Close does on the real engine.
func (e *Engine) CloseEvents() { close(e.events) }

// BlockSend makes Send wait until the returned function is called.
func (e *Engine) BlockSend() (release func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch := make(chan struct{})
	e.block = ch
	return func() { close(ch) }
}

// Calls returns the engine methods called so far, one string each
// ("Send alice bob hello").
func (e *Engine) Calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.calls...)
}

// AddIdentity adds an identity as if created earlier.
func (e *Engine) AddIdentity(info sotto.IdentityInfo) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.identities[info.Name] = info
	if e.contacts[info.Name] == nil {
		e.contacts[info.Name] = map[string]sotto.ContactInfo{}
	}
}

// AddRequest queues a contact request for an identity.
func (e *Engine) AddRequest(r sotto.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests[r.Identity] = append(e.requests[r.Identity], r)
}

func (e *Engine) record(format string, args ...any) {
	e.calls = append(e.calls, fmt.Sprintf(format, args...))
}

// Events implements headless.Engine.
func (e *Engine) Events() <-chan sotto.Event { return e.events }

// TorStatus implements headless.Engine.
func (e *Engine) TorStatus() sotto.TorStatus {
	return sotto.TorStatus{State: sotto.TorReady, Percent: 100, Summary: "Done"}
}

// Identities implements headless.Engine, sorted by name.
func (e *Engine) Identities() []sotto.IdentityInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []sotto.IdentityInfo
	for _, i := range e.identities {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// NewIdentity creates a fake identity with a made-up onion address.
func (e *Engine) NewIdentity(ctx context.Context, name string, o sotto.IdentityOptions) (sotto.IdentityInfo, error) {
	e.mu.Lock()
	e.record("NewIdentity %s %v %v", name, o.Ephemeral, o.Open)
	if _, ok := e.identities[name]; ok {
		e.mu.Unlock()
		return sotto.IdentityInfo{}, fmt.Errorf("fake: %w", sotto.ErrIdentityExists)
	}
	e.mu.Unlock()
	info := sotto.IdentityInfo{Name: name, Onion: fmt.Sprintf("%056d", len(name)), Ephemeral: o.Ephemeral, Open: o.Open}
	e.AddIdentity(info)
	return info, nil
}

// BurnIdentity implements headless.Engine.
func (e *Engine) BurnIdentity(ctx context.Context, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("BurnIdentity %s", name)
	if _, ok := e.identities[name]; !ok {
		return ErrUnknownIdentity
	}
	delete(e.identities, name)
	delete(e.contacts, name)
	return nil
}

// Card implements headless.Engine.
func (e *Engine) Card(identity string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i, ok := e.identities[identity]
	if !ok {
		return "", ErrUnknownIdentity
	}
	return "sotto1-" + i.Onion, nil
}

// AddContact implements headless.Engine; the code must be "sotto1-" + onion.
func (e *Engine) AddContact(ctx context.Context, identity, petname, code string) (sotto.ContactInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("AddContact %s %s %s", identity, petname, code)
	cs, ok := e.contacts[identity]
	if !ok {
		return sotto.ContactInfo{}, ErrUnknownIdentity
	}
	if len(code) < 8 || code[:7] != "sotto1-" {
		return sotto.ContactInfo{}, fmt.Errorf("fake: %w", sotto.ErrBadCode)
	}
	c := sotto.ContactInfo{Identity: identity, Name: petname, Onion: code[7:], History: true}
	cs[petname] = c
	return c, nil
}

func (e *Engine) contact(identity, petname string) (sotto.ContactInfo, error) {
	cs, ok := e.contacts[identity]
	if !ok {
		return sotto.ContactInfo{}, ErrUnknownIdentity
	}
	c, ok := cs[petname]
	if !ok {
		return sotto.ContactInfo{}, ErrUnknownContact
	}
	return c, nil
}

// RemoveContact implements headless.Engine.
func (e *Engine) RemoveContact(ctx context.Context, identity, petname string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.contact(identity, petname); err != nil {
		return err
	}
	delete(e.contacts[identity], petname)
	return nil
}

// Contacts implements headless.Engine, sorted by petname.
func (e *Engine) Contacts(identity string) ([]sotto.ContactInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cs, ok := e.contacts[identity]
	if !ok {
		return nil, ErrUnknownIdentity
	}
	var out []sotto.ContactInfo
	for _, c := range cs {
		out = append(out, c)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}

// SafetyCode implements headless.Engine.
func (e *Engine) SafetyCode(identity, contact string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.contact(identity, contact); err != nil {
		return "", err
	}
	return "12345 67890 12345 67890", nil
}

// Verify implements headless.Engine.
func (e *Engine) Verify(identity, contact string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.contact(identity, contact)
	if err != nil {
		return err
	}
	c.Verified = true
	e.contacts[identity][contact] = c
	return nil
}

// Messages implements headless.Engine.
func (e *Engine) Messages(identity, contact string) ([]sotto.Message, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.contact(identity, contact); err != nil {
		return nil, err
	}
	return append([]sotto.Message(nil), e.messages[identity+"\x00"+contact]...), nil
}

// MarkRead implements headless.Engine.
func (e *Engine) MarkRead(identity, contact string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err := e.contact(identity, contact)
	return err
}

// MarkShown implements headless.Engine: the messages named that are
// Unshown stop being so and expire their timer after the fake's now.
func (e *Engine) MarkShown(identity, contact string, ids ...sotto.MessageID) ([]sotto.Message, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.contact(identity, contact); err != nil {
		return nil, err
	}
	e.record("shown %s %s %d", identity, contact, len(ids))
	want := map[sotto.MessageID]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var started []sotto.Message
	ms := e.messages[identity+"\x00"+contact]
	for i := range ms {
		if want[ms[i].ID] && ms[i].Unshown {
			ms[i].Unshown = false
			ms[i].ExpiresAt = e.now().Add(ms[i].Timer)
			started = append(started, ms[i])
		}
	}
	return started, nil
}

// Send implements headless.Engine: it stores the message as pending and
// returns its new ID; it emits nothing (the test emits Sent/Delivered).
func (e *Engine) Send(ctx context.Context, identity, contact, text string) (sotto.MessageID, error) {
	e.mu.Lock()
	block := e.block
	e.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return sotto.MessageID{}, ctx.Err()
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("Send %s %s %s", identity, contact, text)
	if _, err := e.contact(identity, contact); err != nil {
		return sotto.MessageID{}, err
	}
	var id sotto.MessageID
	rand.Read(id[:])
	k := identity + "\x00" + contact
	e.messages[k] = append(e.messages[k], sotto.Message{ID: id, Identity: identity, Contact: contact,
		Dir: sotto.Outgoing, Kind: sotto.TextMessage, Text: text, At: e.now(), State: sotto.Pending})
	return id, nil
}

// SetTimer implements headless.Engine with the engine's range.
func (e *Engine) SetTimer(ctx context.Context, identity, contact string, d time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("SetTimer %s %s %s", identity, contact, d)
	c, err := e.contact(identity, contact)
	if err != nil {
		return err
	}
	if d != 0 && (d < 30*time.Second || d > 4*7*24*time.Hour) {
		return ErrBadTimer
	}
	c.Timer = d
	e.contacts[identity][contact] = c
	return nil
}

// SetHistory implements headless.Engine.
func (e *Engine) SetHistory(identity, contact string, keep bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.contact(identity, contact)
	if err != nil {
		return err
	}
	c.History = keep
	e.contacts[identity][contact] = c
	return nil
}

// Requests implements headless.Engine.
func (e *Engine) Requests(identity string) ([]sotto.Request, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.identities[identity]; !ok {
		return nil, ErrUnknownIdentity
	}
	return append([]sotto.Request(nil), e.requests[identity]...), nil
}

func (e *Engine) takeRequest(identity, id string) (sotto.Request, error) {
	rs := e.requests[identity]
	for i, r := range rs {
		if r.ID == id {
			e.requests[identity] = append(rs[:i:i], rs[i+1:]...)
			return r, nil
		}
	}
	return sotto.Request{}, sotto.ErrUnknownRequest
}

// AcceptRequest implements headless.Engine: the requester becomes a contact.
func (e *Engine) AcceptRequest(ctx context.Context, identity, requestID, petname string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("AcceptRequest %s %s %s", identity, requestID, petname)
	r, err := e.takeRequest(identity, requestID)
	if err != nil {
		return err
	}
	e.contacts[identity][petname] = sotto.ContactInfo{Identity: identity, Name: petname, Onion: r.Onion, History: true}
	return nil
}

// RejectRequest implements headless.Engine.
func (e *Engine) RejectRequest(ctx context.Context, identity, requestID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("RejectRequest %s %s", identity, requestID)
	_, err := e.takeRequest(identity, requestID)
	return err
}

// PutContact adds or replaces a contact of an existing identity, as if
// added earlier.
func (e *Engine) PutContact(c sotto.ContactInfo) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.contacts[c.Identity][c.Name] = c
}

// PutMessage appends a message to its conversation (m.Identity, m.Contact),
// as if it had arrived earlier; it emits nothing.
func (e *Engine) PutMessage(m sotto.Message) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := m.Identity + "\x00" + m.Contact
	e.messages[k] = append(e.messages[k], m)
}

// Now is the fake's clock.
func (e *Engine) Now() time.Time { return e.now() }
