package mailbox

import (
	"errors"
	"fmt"
)

// Errors callers can branch on. None carries a token, a key, a blob or a
// full onion address.
var (
	// ErrNoMailbox: there is no mailbox profile in the directory.
	ErrNoMailbox = errors.New("mailbox: no mailbox profile here")
	// ErrExists: init found a profile already.
	ErrExists = errors.New("mailbox: a profile already exists here")
	// ErrNotMailbox: the profile is a messenger profile, not a mailbox's.
	ErrNotMailbox = errors.New("mailbox: this profile is not a mailbox profile")
	// ErrConfig: a limit given to init is out of range; the wrapping error says which.
	ErrConfig = errors.New("mailbox: bad configuration")
	// ErrClosed: the mailbox or client was closed.
	ErrClosed = errors.New("mailbox: closed")
	// ErrTooManyCodes: too many pairing codes are outstanding.
	ErrTooManyCodes = errors.New("mailbox: too many pairing codes are waiting to be used; use one or wait a day for them to expire")
	// ErrNotRunning: the control socket of a running mailbox is not there.
	ErrNotRunning = errors.New("mailbox: the mailbox is not running")
	// errDamaged: a stored record does not decode.
	errDamaged = errors.New("mailbox: damaged record in the vault")
)

// RemoteError is a failure the mailbox reported. Code says which; it is one
// of the Code values and carries no detail from the mailbox, whose words
// are untrusted.
type RemoteError struct{ Code Code }

func (e *RemoteError) Error() string { return "mailbox: the mailbox refused: " + e.Code.String() }

// Is makes errors.Is(err, &RemoteError{Code: c}) match on the code.
func (e *RemoteError) Is(target error) bool {
	t, ok := target.(*RemoteError)
	return ok && t.Code == e.Code
}

// Sentinels for the codes callers branch on, for errors.Is.
var (
	ErrDenied  error = &RemoteError{Code: CodeDenied}
	ErrFull    error = &RemoteError{Code: CodeFull}
	ErrStorage error = &RemoteError{Code: CodeStorage}
	ErrBusy    error = &RemoteError{Code: CodeBusy}
	ErrGone    error = &RemoteError{Code: CodeGone}
)

func configErr(msg string) error { return fmt.Errorf("%w: %s", ErrConfig, msg) }

// codeError is returned inside the store for a refusal that becomes an
// error reply.
type codeError struct{ code Code }

func (e *codeError) Error() string { return "mailbox: " + e.code.String() }

func refuse(c Code) error { return &codeError{code: c} }

func codeOf(err error) Code {
	var ce *codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	return CodeStorage
}
