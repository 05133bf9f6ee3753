package sotto

import (
	"encoding/hex"
	"errors"
	"time"
)

// MessageID is a random 16-byte message identifier, chosen by the sender.
// Receivers drop a message whose ID they have already stored.
type MessageID [16]byte

// String returns the ID as 32 lowercase hex digits.
func (id MessageID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText implements encoding.TextMarshaler (hex).
func (id MessageID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (32 hex digits).
func (id *MessageID) UnmarshalText(b []byte) error {
	if len(b) != 2*len(id) {
		return errors.New("sotto: a message id is 32 hex digits")
	}
	if _, err := hex.Decode(id[:], b); err != nil {
		return errors.New("sotto: a message id is 32 hex digits")
	}
	return nil
}

// IdentityInfo describes one of the local identities. Each identity is its own
// onion service; Onion is its address (56 base32 characters, no ".onion").
type IdentityInfo struct {
	Name      string // local handle chosen by the user
	Onion     string
	Ephemeral bool // lives in memory only, never written to disk
	Open      bool // open mode: accepts contact requests from strangers
	Online    bool // its onion service descriptor is published
}

// ContactInfo describes a contact of one identity.
type ContactInfo struct {
	Identity string // the local identity this contact belongs to
	Name     string // petname, unique per identity
	Onion    string
	Verified bool          // the safety code was compared in person (see Engine.VerifyCode)
	Online   bool          // a connection to the contact is up
	Unread   int           // received messages not yet marked read
	Timer    time.Duration // disappearing timer; 0 means off
	History  bool          // false: the conversation is kept in memory only
	Last     time.Time     // when the newest message still held was written; zero: none
}

// Direction says who wrote a message.
type Direction int

const (
	Outgoing Direction = iota // written here
	Incoming                  // written by the contact
	System                    // a line Sotto shows, such as a timer change
)

// Delivery is the delivery state of an outgoing message.
type Delivery int

const (
	Pending   Delivery = iota // in the outbox, not yet sent
	Sent                      // written to a connection, not yet acknowledged
	Delivered                 // the contact acknowledged it (it is stored there)
)

// OutboxEntry is one of our messages in a conversation's outbox, not yet
// acknowledged by the contact ([Engine.Outbox]). It holds no text.
type OutboxEntry struct {
	ID    MessageID
	Kind  MessageKind // TextMessage or TimerMessage
	State Delivery    // Pending or Sent: still to leave; Queued: left at a mailbox, waiting there for the contact
}

// MessageKind distinguishes the lines of a conversation.
type MessageKind int

const (
	TextMessage  MessageKind = iota // a text written by a person
	TimerMessage                    // a change of the disappearing timer
	// 2 is FileMessage (files.go).

	// NoticeMessage is a line Sotto writes itself (Dir System): Notice says
	// which, Text says it in words.
	NoticeMessage MessageKind = 3
)

// Message is one line of a conversation.
//
// A disappearing text (Timer > 0) expires at ExpiresAt. The sender's clock
// starts when the text is written (Send), delivered or not. The recipient's
// starts when the text is first shown to the user ([Engine.MarkShown]):
// until then Unshown is true and ExpiresAt is the latest the text may live
// unshown (its timer plus [UnshownGrace] after it arrived).
type Message struct {
	ID         MessageID
	Identity   string
	Contact    string
	Dir        Direction
	By         Direction // who made it: Outgoing (this side's user) or Incoming (the contact); for System lines too (a timer change), System for Sotto's own notices and for timer lines stored before this field
	Kind       MessageKind
	Text       string        // for TextMessage (untrusted if Dir is Incoming) and NoticeMessage
	Timer      time.Duration // TextMessage: its disappearing timer; TimerMessage: the new timer (0 = off)
	At         time.Time     // when it was written (the writer's clock, coarse; a contact's is never later than ours plus MaxClockSkew)
	ExpiresAt  time.Time     // zero: never expires
	State      Delivery      // for Outgoing
	Unshown    bool          // Incoming disappearing text whose clock waits for MarkShown
	Superseded bool          // TimerMessage that never took effect: a later change was already in force
	Notice     Notice        // for NoticeMessage
	Count      int           // for NoticeMessage: how many messages it is about

	seq uint64 // position in the conversation (local)
}

// Notice says what a NoticeMessage is about.
type Notice int

const (
	NoNotice Notice = iota
	// NoticeExpiredUnread: Count texts from the contact expired before they
	// were shown (see UnshownGrace). ExpiredEvent.Unread reported each.
	NoticeExpiredUnread
	// NoticeExpiredUndelivered: Count of our texts expired before the
	// contact acknowledged them. ExpiredEvent.Undelivered reported each.
	NoticeExpiredUndelivered
	// NoticeReverify: the contact was verified under an older safety code,
	// which this version replaced; it is unverified until the two people
	// compare the new code.
	NoticeReverify
)

// Request is a contact request received by an open-mode identity from someone
// it does not know yet. It waits for AcceptRequest or RejectRequest.
type Request struct {
	ID       string // local handle of the request
	Identity string
	Onion    string // the requester's onion address
	Text     string // optional first message; untrusted
	At       time.Time
}

// TorState is the state of the tor daemon Sotto uses.
type TorState int

const (
	TorStarting TorState = iota // launching or attaching
	TorBootstrapping
	TorReady
	TorDown // failed or died; Sotto retries with backoff and never falls back to a direct connection
)

// TorStatus is a snapshot of the tor daemon's state.
type TorStatus struct {
	State   TorState
	Percent int    // bootstrap progress, 0..100
	Summary string // tor's own summary of the bootstrap phase
	Err     string // why it is down, without secrets
}

// Event is something the engine reports to the UI or the headless mode.
// The concrete types are the structs below.
type Event interface{ isEvent() }

// TorEvent reports a change of the tor daemon's state or bootstrap progress.
type TorEvent struct{ Status TorStatus }

// IdentityEvent reports that an identity's onion service came online
// (descriptor published) or went offline.
type IdentityEvent struct {
	Identity string
	Onion    string
	Online   bool
}

// ContactEvent reports that a contact connected or disconnected.
type ContactEvent struct {
	Identity, Contact string
	Online            bool
}

// SentEvent reports that an outgoing message was written to a connection.
type SentEvent struct {
	Identity, Contact string
	ID                MessageID
}

// DeliveredEvent reports that the contact acknowledged a message.
type DeliveredEvent struct {
	Identity, Contact string
	ID                MessageID
}

// MessageEvent reports a message received (or a timer change, as a System
// message) after it was stored.
type MessageEvent struct{ Message Message }

// ExpiredEvent reports that a message's disappearing timer ran out; it is gone
// from memory and the vault. Unread: an incoming text that was never shown
// (it lived its UnshownGrace). Undelivered: one of ours that the contact had
// not acknowledged (it is gone from the outbox too and will not be sent).
// Either way a NoticeMessage follows in the conversation.
type ExpiredEvent struct {
	Identity, Contact string
	ID                MessageID
	Unread            bool
	Undelivered       bool
}

// RequestEvent reports a contact request to an open-mode identity.
type RequestEvent struct{ Request Request }

// ErrorEvent reports a failure that is not the answer to a call. Err never
// holds a secret, plaintext or a contact's full onion address.
type ErrorEvent struct{ Err error }

func (TorEvent) isEvent()       {}
func (IdentityEvent) isEvent()  {}
func (ContactEvent) isEvent()   {}
func (SentEvent) isEvent()      {}
func (DeliveredEvent) isEvent() {}
func (MessageEvent) isEvent()   {}
func (ExpiredEvent) isEvent()   {}
func (RequestEvent) isEvent()   {}
func (ErrorEvent) isEvent()     {}
