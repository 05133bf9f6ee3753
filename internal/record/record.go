// Package record encodes the records the messenger core keeps in the vault
// (identities, contacts, messages, outbox entries, contact requests). The
// identity record, which holds private keys, has a fixed binary layout (see
// ParseIdentity) so that its keys never pass through a decoder's copies; the
// others are JSON objects with a version field "v", decoded strictly: unknown fields,
// trailing data, a wrong version or an out-of-range value is an error, so a
// damaged or foreign record is refused with a clear message instead of being
// half-read.
package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Version is the current record version.
const Version = 1

// Limits on values read back from storage.
const (
	MaxName  = 64
	MaxText  = 16384
	MaxTimer = 28 * 24 * 3600
	MinTimer = 30
	IDLen    = 16
	KeyLen   = 32
)

// ErrBad is wrapped by every decoding error.
var ErrBad = errors.New("sotto: damaged record")

// Identity is a local identity. Seed and Auth are secrets: the caller moves
// them into locked memory and wipes the decoded slices. Unlike the other
// records it is stored in a fixed binary layout (see ParseIdentity), which
// Marshal and Unmarshal use for it; V is always Version in memory.
type Identity struct {
	V    int    `json:"v"`
	Name string `json:"name"`
	Open bool   `json:"open,omitempty"`
	Seed []byte `json:"seed"` // Ed25519 seed (the onion service key)
	Auth []byte `json:"auth"` // x25519 client-auth private key
}

// Contact is a contact of one identity.
type Contact struct {
	V        int    `json:"v"`
	Petname  string `json:"petname"`
	ID       []byte `json:"id"`   // Ed25519 public key
	Auth     []byte `json:"auth"` // x25519 client-auth public key
	Verified bool   `json:"verified,omitempty"`
	SafetyV  int    `json:"safety_v,omitempty"` // the safety code version Verified was given under (0: before version 2)
	Timer    int64  `json:"timer,omitempty"`    // seconds, 0 = off
	TimerAt  int64  `json:"timer_at,omitempty"` // the "at" of the change that set Timer
	TimerID  []byte `json:"timer_id,omitempty"` // and its message ID: the latest (at, id) wins on both sides
	NoHist   bool   `json:"nohist,omitempty"`
	ReadSeq  uint64 `json:"read,omitempty"` // incoming messages before this sequence number were read
	Seq      uint64 `json:"seq,omitempty"`  // next local sequence number (at least; the log may hold higher)
	// Confirmed: a message from the contact decrypted in a session with it,
	// so it had stored conversation keys with us (a lost continuity after
	// that is worth a warning; before it, it may be a first handshake that
	// broke before the contact stored its keys).
	Confirmed bool `json:"confirmed,omitempty"`
}

// Message is one line of a conversation.
type Message struct {
	V         int    `json:"v"`
	Seq       uint64 `json:"seq"`
	ID        []byte `json:"id"`
	Dir       int    `json:"dir"`  // 0 outgoing, 1 incoming, 2 system
	Kind      int    `json:"kind"` // 0 text, 1 timer, 2 file (Text is its name), 3 notice
	Text      string `json:"text,omitempty"`
	Timer     int64  `json:"timer,omitempty"`
	At        int64  `json:"at"`
	ExpiresAt int64  `json:"exp,omitempty"`
	State     int    `json:"state,omitempty"` // 0 pending, 1 sent, 2 delivered
	// Unshown: an incoming disappearing text not shown yet; ExpiresAt is
	// the bound of its unshown life (records without it started their
	// clock when they arrived).
	Unshown    bool `json:"unshown,omitempty"`
	Superseded bool `json:"superseded,omitempty"` // a timer change that never took effect
	By         int  `json:"by,omitempty"`         // dir 2: who made it, 1 this side, 2 the contact (0: Sotto, or not recorded)
	Notice     int  `json:"notice,omitempty"`     // kind 3: which notice (1..MaxNotice)
	Count      int  `json:"count,omitempty"`      // kind 3: how many messages it is about
}

// MaxNotice is the largest notice number of a Message of kind 3.
const MaxNotice = 3

// Outbox is a message waiting for its acknowledgement.
type Outbox struct {
	V     int    `json:"v"`
	ID    []byte `json:"id"`
	Kind  int    `json:"kind"` // 0 text, 1 timer
	Text  string `json:"text,omitempty"`
	Timer int64  `json:"timer,omitempty"`
	At    int64  `json:"at"`
}

// Shown records that a received disappearing text was first shown: its
// clock started, and it now expires at Exp (Unix seconds). It is appended
// to its own log, keyed by the message ID, rather than rewriting the
// message, so that no crash can lose the message.
type Shown struct {
	V   int   `json:"v"`
	Exp int64 `json:"exp"`
}

// Request is a pending contact request to an open-mode identity.
type Request struct {
	V     int    `json:"v"`
	ID    string `json:"id"`
	Peer  []byte `json:"peer"` // Ed25519 public key
	Auth  []byte `json:"auth"` // x25519 client-auth public key
	MsgID []byte `json:"msgid,omitempty"`
	Text  string `json:"text,omitempty"`
	At    int64  `json:"at"`
}

// Marshal encodes a record (one of the types above) after validating it.
func Marshal(v interface{ Validate() error }) ([]byte, error) {
	if id, ok := v.(*Identity); ok {
		return id.MarshalBinary()
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// Unmarshal decodes b strictly into v and validates it.
func Unmarshal(b []byte, v interface{ Validate() error }) error {
	if id, ok := v.(*Identity); ok {
		return id.UnmarshalBinary(b)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %T", ErrBad, v)
	}
	if d.More() {
		return fmt.Errorf("%w: trailing data", ErrBad)
	}
	if _, err := d.Token(); err == nil {
		return fmt.Errorf("%w: trailing data", ErrBad)
	}
	return v.Validate()
}

func bad(what string) error { return fmt.Errorf("%w: %s", ErrBad, what) }

// ValidName reports whether s is an acceptable identity name or petname:
// 1..MaxName bytes of printable UTF-8 without control or bidi characters.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > MaxName || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || (r >= 0x200b && r <= 0x200f) ||
			(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0xfeff {
			return false
		}
	}
	return true
}

// ValidTimer reports whether t (seconds) is off or in 30 s .. 4 weeks.
func ValidTimer(t int64) bool { return t == 0 || t >= MinTimer && t <= MaxTimer }

func (r *Identity) Validate() error {
	switch {
	case r.V != Version:
		return bad("identity version")
	case !ValidName(r.Name):
		return bad("identity name")
	case len(r.Seed) != KeyLen || len(r.Auth) != KeyLen:
		return bad("identity keys")
	}
	return nil
}

func (r *Contact) Validate() error {
	switch {
	case r.V != Version:
		return bad("contact version")
	case !ValidName(r.Petname):
		return bad("contact petname")
	case len(r.ID) != KeyLen || len(r.Auth) != KeyLen:
		return bad("contact keys")
	case !ValidTimer(r.Timer):
		return bad("contact timer")
	case len(r.TimerID) != 0 && len(r.TimerID) != IDLen || r.TimerAt < 0:
		return bad("contact timer id")
	case r.SafetyV < 0 || r.SafetyV > 255:
		return bad("contact safety code version")
	}
	return nil
}

func (r *Message) Validate() error {
	switch {
	case r.V != Version:
		return bad("message version")
	case len(r.ID) != IDLen:
		return bad("message id")
	case r.Dir < 0 || r.Dir > 2 || r.Kind < 0 || r.Kind > 3 || r.State < 0 || r.State > 2:
		return bad("message kind")
	case len(r.Text) > MaxText || !utf8.ValidString(r.Text):
		return bad("message text")
	case !ValidTimer(r.Timer) || r.ExpiresAt < 0 || r.Unshown && (r.Dir != 1 || r.Kind != 0 || r.ExpiresAt == 0):
		return bad("message timer")
	case r.Kind == 3 && (r.Dir != 2 || r.Notice < 1 || r.Notice > MaxNotice || r.Count < 0 || r.Count > 1<<20),
		r.Kind != 3 && (r.Notice != 0 || r.Count != 0),
		r.Superseded && r.Kind != 1, r.By < 0 || r.By > 2 || r.By != 0 && r.Dir != 2:
		return bad("message notice")
	}
	return nil
}

func (r *Outbox) Validate() error {
	switch {
	case r.V != Version:
		return bad("outbox version")
	case len(r.ID) != IDLen:
		return bad("outbox id")
	case r.Kind < 0 || r.Kind > 1:
		return bad("outbox kind")
	case r.Kind == 0 && (r.Text == "" || len(r.Text) > MaxText || !utf8.ValidString(r.Text)):
		return bad("outbox text")
	case r.Kind == 1 && r.Text != "":
		return bad("outbox text")
	case !ValidTimer(r.Timer) || r.At < 0:
		return bad("outbox timer")
	}
	return nil
}

func (r *Shown) Validate() error {
	switch {
	case r.V != Version:
		return bad("shown version")
	case r.Exp <= 0:
		return bad("shown expiry")
	}
	return nil
}

func (r *Request) Validate() error {
	switch {
	case r.V != Version:
		return bad("request version")
	case r.ID == "" || len(r.ID) > MaxName:
		return bad("request id")
	case len(r.Peer) != KeyLen || len(r.Auth) != KeyLen:
		return bad("request keys")
	case len(r.MsgID) != 0 && len(r.MsgID) != IDLen:
		return bad("request message id")
	case (len(r.MsgID) == 0) != (r.Text == ""):
		return bad("request first message")
	case len(r.Text) > MaxText || !utf8.ValidString(r.Text):
		return bad("request text")
	}
	return nil
}
