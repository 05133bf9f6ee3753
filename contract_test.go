package sotto

import (
	"context"
	"time"
)

// contractEngine is the Engine API of CONTRACT.md; this assignment fails to
// compile if a signature drifts.
type contractEngine interface {
	Events() <-chan Event
	TorStatus() TorStatus
	Identities() []IdentityInfo
	NewIdentity(ctx context.Context, name string, o IdentityOptions) (IdentityInfo, error)
	BurnIdentity(ctx context.Context, name string) error
	Card(identity string) (string, error)
	AddContact(ctx context.Context, identity, petname, code string) (ContactInfo, error)
	RemoveContact(ctx context.Context, identity, petname string) error
	Contacts(identity string) ([]ContactInfo, error)
	SafetyCode(identity, contact string) (string, error)
	Verify(identity, contact string) error
	VerifyCode(identity, contact, code string) error
	Messages(identity, contact string) ([]Message, error)
	MarkRead(identity, contact string) error
	MarkShown(identity, contact string, ids ...MessageID) ([]Message, error)
	Send(ctx context.Context, identity, contact, text string) (MessageID, error)
	SetTimer(ctx context.Context, identity, contact string, d time.Duration) error
	SetHistory(identity, contact string, keep bool) error
	Requests(identity string) ([]Request, error)
	AcceptRequest(ctx context.Context, identity, requestID, petname string) error
	RejectRequest(ctx context.Context, identity, requestID string) error
	CheckPassphrase(p *Passphrase) error
	Close() error
}

var (
	_ contractEngine = (*Engine)(nil)

	_ func(b []byte) *Passphrase                                           = NewPassphrase
	_ func(prompt string) (*Passphrase, error)                             = ReadPassphrase
	_ func(path string) (*Passphrase, error)                               = PassphraseFromFile
	_ func()                                                               = (*Passphrase)(nil).Destroy
	_ func() string                                                        = DefaultProfileDir
	_ func(ctx context.Context, o Options, p *Passphrase) error            = Init
	_ func(ctx context.Context, o Options, p *Passphrase) (*Engine, error) = Open
	_ func(profileDir string) error                                        = Panic
	_ func(code string) error                                              = CheckCode
	_ func(a, b string) bool                                               = SameSafetyCode
	_ func(text string) string                                             = QRCode
)
