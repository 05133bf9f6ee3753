// Package tuitest provides an in-memory engine for testing the terminal UI
// without tor, a vault or a network. [Engine] has the methods of
// *sotto.Engine that package tui uses; tests drive it (add identities,
// contacts and messages, emit events) and read back what the UI asked for.
package tuitest

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sottochat/sotto"
)

// Errors the fake returns, shaped like the engine's.
var (
	ErrUnknownIdentity = errors.New("sotto: unknown identity")
	ErrUnknownContact  = errors.New("sotto: unknown contact")
	ErrContactExists   = errors.New("sotto: a contact with this name exists")
	ErrBadTimer        = errors.New("sotto: the timer is 0 (off) or between 30 seconds and 4 weeks")
)

// Engine is an in-memory stand-in for *sotto.Engine. It is safe for
// concurrent use. The zero value is not usable: call [NewEngine].
type Engine struct {
	mu       sync.Mutex
	now      func() time.Time
	events   chan sotto.Event
	tor      sotto.TorStatus
	ids      []sotto.IdentityInfo
	contacts map[string][]sotto.ContactInfo
	msgs     map[[2]string][]sotto.Message
	reqs     map[string][]sotto.Request
	safety   map[[2]string]string
	seq      uint64
	calls    []string
	closed   bool
}

// NewEngine returns an empty engine whose clock is now.
func NewEngine(now func() time.Time) *Engine {
	return &Engine{
		now:      now,
		events:   make(chan sotto.Event, 1024),
		tor:      sotto.TorStatus{State: sotto.TorReady, Percent: 100, Summary: "Done"},
		contacts: map[string][]sotto.ContactInfo{},
		msgs:     map[[2]string][]sotto.Message{},
		reqs:     map[string][]sotto.Request{},
		safety:   map[[2]string]string{},
	}
}

func (e *Engine) record(format string, args ...any) {
	e.calls = append(e.calls, fmt.Sprintf(format, args...))
}

// Calls returns the state-changing calls the UI made, one line each
// ("Send alice bob hello").
func (e *Engine) Calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// Emit queues an event for Events.
func (e *Engine) Emit(ev sotto.Event) { e.events <- ev }

// SetTor sets the tor status TorStatus returns.
func (e *Engine) SetTor(s sotto.TorStatus) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tor = s
}

// AddIdentity adds a local identity.
func (e *Engine) AddIdentity(id sotto.IdentityInfo) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ids = append(e.ids, id)
}

// PutContact adds or replaces a contact.
func (e *Engine) PutContact(c sotto.ContactInfo) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.contacts[c.Identity]
	for i := range l {
		if l[i].Name == c.Name {
			l[i] = c
			return
		}
	}
	e.contacts[c.Identity] = append(l, c)
}

// PutMessages appends messages to their conversations.
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

// SetSafetyCode sets the safety code of a contact.
func (e *Engine) SetSafetyCode(identity, contact, code string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.safety[[2]string{identity, contact}] = code
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

// Identities implements the engine method.
func (e *Engine) Identities() []sotto.IdentityInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.ids)
}

func (e *Engine) hasIdentity(name string) bool {
	return slices.ContainsFunc(e.ids, func(i sotto.IdentityInfo) bool { return i.Name == name })
}

// NewIdentity adds an identity, offline at first.
func (e *Engine) NewIdentity(name string, ephemeral, open bool) (sotto.IdentityInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.hasIdentity(name) {
		return sotto.IdentityInfo{}, errors.New("sotto: an identity with this name exists")
	}
	id := sotto.IdentityInfo{Name: name, Onion: FakeOnion(name), Ephemeral: ephemeral, Open: open}
	e.ids = append(e.ids, id)
	e.record("NewIdentity %s ephemeral=%v open=%v", name, ephemeral, open)
	return id, nil
}

// Card implements the engine method: the identity's code is MakeCode(name).
func (e *Engine) Card(identity string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.hasIdentity(identity) {
		return "", ErrUnknownIdentity
	}
	return MakeCode(identity), nil
}

// AddContact implements the engine method.
func (e *Engine) AddContact(ctx context.Context, identity, petname, code string) (sotto.ContactInfo, error) {
	if err := CheckCode(code); err != nil {
		return sotto.ContactInfo{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.hasIdentity(identity) {
		return sotto.ContactInfo{}, ErrUnknownIdentity
	}
	for _, c := range e.contacts[identity] {
		if c.Name == petname {
			return sotto.ContactInfo{}, ErrContactExists
		}
	}
	c := sotto.ContactInfo{Identity: identity, Name: petname, Onion: FakeOnion(code), History: true}
	e.contacts[identity] = append(e.contacts[identity], c)
	e.record("AddContact %s %s %s", identity, petname, code)
	return c, nil
}

// RemoveContact implements the engine method.
func (e *Engine) RemoveContact(ctx context.Context, identity, petname string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.contacts[identity]
	for i := range l {
		if l[i].Name == petname {
			e.contacts[identity] = slices.Delete(l, i, i+1)
			e.record("RemoveContact %s %s", identity, petname)
			return nil
		}
	}
	return ErrUnknownContact
}

// Contacts implements the engine method.
func (e *Engine) Contacts(identity string) ([]sotto.ContactInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.hasIdentity(identity) {
		return nil, ErrUnknownIdentity
	}
	return slices.Clone(e.contacts[identity]), nil
}

func (e *Engine) contact(identity, name string) (*sotto.ContactInfo, error) {
	l := e.contacts[identity]
	for i := range l {
		if l[i].Name == name {
			return &l[i], nil
		}
	}
	return nil, ErrUnknownContact
}

// SafetyCode implements the engine method.
func (e *Engine) SafetyCode(identity, contact string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.contact(identity, contact); err != nil {
		return "", err
	}
	if c, ok := e.safety[[2]string{identity, contact}]; ok {
		return c, nil
	}
	return fmt.Sprintf("%060d", crc32.ChecksumIEEE([]byte(identity+"|"+contact))), nil
}

// Verify implements the engine method.
func (e *Engine) Verify(identity, contact string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.contact(identity, contact)
	if err != nil {
		return err
	}
	c.Verified = true
	e.record("Verify %s %s", identity, contact)
	return nil
}

// Messages implements the engine method.
func (e *Engine) Messages(identity, contact string) ([]sotto.Message, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.contact(identity, contact); err != nil {
		return nil, err
	}
	return slices.Clone(e.msgs[[2]string{identity, contact}]), nil
}

// MarkRead implements the engine method.
func (e *Engine) MarkRead(identity, contact string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.contact(identity, contact)
	if err != nil {
		return err
	}
	c.Unread = 0
	return nil
}

// Send implements the engine method: the message is stored as Pending.
func (e *Engine) Send(ctx context.Context, identity, contact, text string) (sotto.MessageID, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.contact(identity, contact)
	if err != nil {
		return sotto.MessageID{}, err
	}
	e.seq++
	now := e.now()
	m := sotto.Message{ID: ID(1<<32 + e.seq), Identity: identity, Contact: contact, Dir: sotto.Outgoing, Text: text, At: now, State: sotto.Pending}
	if c.Timer > 0 {
		m.ExpiresAt = now.Add(c.Timer)
	}
	k := [2]string{identity, contact}
	e.msgs[k] = append(e.msgs[k], m)
	e.record("Send %s %s %q", identity, contact, text)
	return m.ID, nil
}

// SetTimer implements the engine method; it stores a timer line.
func (e *Engine) SetTimer(ctx context.Context, identity, contact string, d time.Duration) error {
	if d != 0 && (d < 30*time.Second || d > 4*7*24*time.Hour) {
		return ErrBadTimer
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.contact(identity, contact)
	if err != nil {
		return err
	}
	c.Timer = d
	e.seq++
	k := [2]string{identity, contact}
	e.msgs[k] = append(e.msgs[k], sotto.Message{ID: ID(1<<32 + e.seq), Identity: identity, Contact: contact, Dir: sotto.Outgoing, Kind: sotto.TimerMessage, Timer: d, At: e.now()})
	e.record("SetTimer %s %s %v", identity, contact, d)
	return nil
}

// SetHistory implements the engine method.
func (e *Engine) SetHistory(identity, contact string, keep bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.contact(identity, contact)
	if err != nil {
		return err
	}
	c.History = keep
	e.record("SetHistory %s %s %v", identity, contact, keep)
	return nil
}

// Requests implements the engine method.
func (e *Engine) Requests(identity string) ([]sotto.Request, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.hasIdentity(identity) {
		return nil, ErrUnknownIdentity
	}
	return slices.Clone(e.reqs[identity]), nil
}

func (e *Engine) takeRequest(identity, id string) (sotto.Request, bool) {
	l := e.reqs[identity]
	for i := range l {
		if l[i].ID == id {
			r := l[i]
			e.reqs[identity] = slices.Delete(l, i, i+1)
			return r, true
		}
	}
	return sotto.Request{}, false
}

// AcceptRequest implements the engine method.
func (e *Engine) AcceptRequest(ctx context.Context, identity, requestID, petname string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.takeRequest(identity, requestID)
	if !ok {
		return errors.New("sotto: unknown request")
	}
	e.contacts[identity] = append(e.contacts[identity], sotto.ContactInfo{Identity: identity, Name: petname, Onion: r.Onion, History: true})
	e.record("AcceptRequest %s %s %s", identity, requestID, petname)
	return nil
}

// RejectRequest implements the engine method.
func (e *Engine) RejectRequest(ctx context.Context, identity, requestID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.takeRequest(identity, requestID); !ok {
		return errors.New("sotto: unknown request")
	}
	e.record("RejectRequest %s %s", identity, requestID)
	return nil
}

// Close implements the engine method; it closes the event channel once.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		e.closed = true
		close(e.events)
	}
	return nil
}

// FakeOnion returns a well-formed looking onion address derived from seed.
func FakeOnion(seed string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	var b strings.Builder
	h := crc32.ChecksumIEEE([]byte(seed))
	for i := 0; i < 55; i++ {
		h = h*1664525 + 1013904223
		b.WriteByte(alphabet[h>>27])
	}
	b.WriteByte('d')
	return b.String()
}

// MakeCode returns the fake contact code of an identity: "sotto1", a body
// and a 4-hex-digit checksum.
func MakeCode(seed string) string {
	body := FakeOnion(seed)
	return fmt.Sprintf("sotto1%s%04x", body, crc32.ChecksumIEEE([]byte(body))&0xffff)
}

// CheckCode validates codes made by MakeCode, with the kind of messages
// the real sotto.CheckCode gives.
func CheckCode(code string) error {
	code = strings.TrimSpace(code)
	switch {
	case !strings.HasPrefix(code, "sotto1"):
		return errors.New("sotto: not a Sotto contact code (it starts with sotto1)")
	case len(code) < 6+56+4:
		return errors.New("sotto: the code is too short: a character is missing")
	case len(code) > 6+56+4:
		return errors.New("sotto: the code is too long")
	}
	body := code[6 : 6+56]
	if fmt.Sprintf("%04x", crc32.ChecksumIEEE([]byte(body))&0xffff) != code[6+56:] {
		return errors.New("sotto: the checksum does not match: a character is wrong")
	}
	return nil
}

// QRCode draws a deterministic block pattern for text, the size of
// sotto.QRCode's drawing of a contact code (45 columns, 23 rows).
func QRCode(text string) string {
	const n = 45
	h := crc32.ChecksumIEEE([]byte(text))
	bit := func() bool { h = h*1664525 + 1013904223; return h>>31 == 1 }
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
