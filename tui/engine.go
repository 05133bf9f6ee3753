package tui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
	// PanicKey is the key that arms the panic wipe, as ParsePanicKey
	// takes it; "" means DefaultPanicKey, "none" turns the panic key off.
	PanicKey string
	// PanicWord is what must be typed after the panic key to wipe; ""
	// means DefaultPanicWord.
	PanicWord string
	// Label, when set, is shown in the header of every screen, from the
	// first one on (sotto --amnesic says there that nothing is written).
	Label string
	// Amnesic says that the profile lives in memory only (sotto
	// --amnesic): the create screen then says what its passphrase is for.
	Amnesic bool
}

func (c Config) panicKey() string {
	if c.PanicKey == "" {
		return DefaultPanicKey
	}
	return c.PanicKey
}

func (c Config) panicWord() string {
	if c.PanicWord == "" {
		return DefaultPanicWord
	}
	return c.PanicWord
}

// DefaultIdleLock is the idle timeout when Config.IdleLock is 0.
const DefaultIdleLock = 5 * time.Minute

// The panic wipe is armed by a key and done by typing a word: a key hit by
// reflex, even many times (ctrl+\ is the terminal's force-quit key), never
// wipes; the word takes a second to type.
const (
	DefaultPanicKey  = `ctrl+\`
	DefaultPanicWord = "wipe"
	// PanicWindow is how long the panic wipe stays armed without the word
	// being typed.
	PanicWindow = 10 * time.Second
)

// panicKeys are the keys the panic wipe may be put on: keys no screen uses
// (ctrl+k and f2 list the conversations, ctrl+f, ctrl+g and ctrl+x handle
// files), no text field edits with (ctrl+a, e, f, b, d, k, n, p, w, h move
// or delete in the fields) and no one hits to stop a program (ctrl+c,
// ctrl+z).
var panicKeys = []string{
	`ctrl+\`, "ctrl+]", "ctrl+^", "ctrl+_", "ctrl+q", "ctrl+r", "ctrl+s",
	"f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11", "f12",
}

// ParsePanicKey checks a panic key name (for --panic-key): one of
// PanicKeys, or "none" (no panic key). Case and surrounding white space do
// not matter.
func ParsePanicKey(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "none" || s == "off" {
		return "none", nil
	}
	if slices.Contains(panicKeys, s) {
		return s, nil
	}
	return "", fmt.Errorf("tui: %q cannot be the panic key: use one of %s, or none", s, strings.Join(panicKeys, " "))
}

// ParsePanicWord checks a panic word (for --panic-word): 3 to 16 letters,
// so that it is typed on purpose and quickly.
func ParsePanicWord(s string) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n < 3 || n > 16 || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) }) >= 0 {
		return "", errors.New("tui: the panic word is 3 to 16 letters, no spaces or digits")
	}
	return strings.ToLower(s), nil
}
