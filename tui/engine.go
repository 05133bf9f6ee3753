package tui

import (
	"context"
	"errors"
	"time"

	"github.com/sottochat/sotto"
)

// Engine is the part of *sotto.Engine the UI uses, with the method
// signatures of the engine, so that *sotto.Engine satisfies it and tests can
// use a fake.
type Engine interface {
	Events() <-chan sotto.Event
	TorStatus() sotto.TorStatus
	Identities() []sotto.IdentityInfo
	Card(identity string) (string, error)
	AddContact(ctx context.Context, identity, petname, code string) (sotto.ContactInfo, error)
	Contacts(identity string) ([]sotto.ContactInfo, error)
	SafetyCode(identity, contact string) (string, error)
	Verify(identity, contact string) error
	Messages(identity, contact string) ([]sotto.Message, error)
	MarkRead(identity, contact string) error
	// MarkShown starts the disappearing clocks of received texts; the UI
	// calls it only for texts really on screen (see shown.go).
	MarkShown(identity, contact string, ids ...sotto.MessageID) ([]sotto.Message, error)
	Send(ctx context.Context, identity, contact, text string) (sotto.MessageID, error)
	SetTimer(ctx context.Context, identity, contact string, d time.Duration) error
	SetHistory(identity, contact string, keep bool) error
	Requests(identity string) ([]sotto.Request, error)
	AcceptRequest(ctx context.Context, identity, requestID, petname string) error
	RejectRequest(ctx context.Context, identity, requestID string) error
	Close() error
}

// Profile is what the UI needs from the root package besides a running
// engine: creating and opening the profile, checking the passphrase on the
// lock screen, the panic wipe, contact codes and QR codes. Every passphrase
// argument is a slice the callee takes over and wipes (it hands it to
// sotto.NewPassphrase); the UI never keeps it.
type Profile interface {
	// Exists reports whether the profile has been created.
	Exists() (bool, error)
	// Init creates the profile (sotto.Init).
	Init(ctx context.Context, pass []byte) error
	// Open unlocks the profile and starts the engine (sotto.Open).
	Open(ctx context.Context, pass []byte) (Engine, error)
	// CheckPassphrase checks the passphrase against the running engine
	// (Engine.CheckPassphrase).
	CheckPassphrase(e Engine, pass []byte) error
	// NewIdentity creates an identity (Engine.NewIdentity).
	NewIdentity(ctx context.Context, e Engine, name string, ephemeral, open bool) (sotto.IdentityInfo, error)
	// Panic wipes the profile as `sotto panic` does (sotto.Panic); e may be nil.
	Panic(e Engine) error
	// QRCode draws text as a QR code (sotto.QRCode).
	QRCode(text string) string
	// CheckCode validates a contact code (sotto.CheckCode).
	CheckCode(code string) error
}

// errNoProfile marks a Profile.Open error that means there is no profile
// to open: the UI offers to create one.
var errNoProfile = errors.New("no profile here yet")

// Config tunes the UI.
type Config struct {
	// IdleLock locks the UI after this long without a key press.
	// 0 means the default, 5 minutes; a negative value turns it off.
	IdleLock time.Duration
}

// DefaultIdleLock is the idle timeout when Config.IdleLock is 0.
const DefaultIdleLock = 5 * time.Minute

// PanicWindow is how soon the second press of the panic key must follow the first.
const PanicWindow = 3 * time.Second
