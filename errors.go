package sotto

import (
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/sottochat/sotto/internal/record"
)

// Errors callers can branch on. Every error the package returns either is one
// of these or wraps one with %w, and none of them carries a secret, a
// plaintext or a contact's full onion address.
var (
	// ErrWrongPassphrase: the passphrase does not open the profile.
	ErrWrongPassphrase = errors.New("sotto: wrong passphrase")
	// ErrPassphraseMismatch: the two answers of ReadNewPassphrase differ.
	ErrPassphraseMismatch = errors.New("sotto: the two passphrases differ; nothing was created")
	// ErrNoProfile: there is no profile in the directory (run `sotto init`).
	ErrNoProfile = errors.New("sotto: no profile here")
	// ErrProfileExists: Init found a profile already.
	ErrProfileExists = errors.New("sotto: a profile already exists here")
	// ErrProfileInUse: another process has the profile open.
	ErrProfileInUse = errors.New("sotto: the profile is open in another process")
	// ErrUnknownIdentity: no local identity has that name.
	ErrUnknownIdentity = errors.New("sotto: no such identity")
	// ErrUnknownContact: the identity has no contact with that petname.
	// The engine returns it wrapped in an *UnknownContactError, which says
	// which name was asked for.
	ErrUnknownContact = errors.New("sotto: no such contact")
	// ErrUnknownRequest: the identity has no pending request with that ID.
	ErrUnknownRequest = errors.New("sotto: no such contact request")
	// ErrBadCode: a contact code is malformed; the wrapping error says what is wrong.
	ErrBadCode = errors.New("sotto: bad contact code")
	// ErrIdentityExists: an identity with that name exists already.
	ErrIdentityExists = errors.New("sotto: an identity with that name exists already")
	// ErrContactExists: the petname or the onion address is already a contact of the identity.
	ErrContactExists = errors.New("sotto: that contact exists already")
	// ErrBadName: a name or petname is empty, too long or has characters that are not allowed.
	ErrBadName = errors.New("sotto: bad name")
	// ErrBadTimer: a disappearing timer outside off, 30 s .. 4 weeks.
	ErrBadTimer = errors.New("sotto: a timer is off (0) or between 30 seconds and 4 weeks")
	// ErrTooLong: a message text is longer than MaxText bytes.
	ErrTooLong = errors.New("sotto: message too long")
	// ErrClosed: the engine was closed.
	ErrClosed = errors.New("sotto: engine closed")
	// ErrOffline: the engine was opened with Options.Offline and the call needs tor.
	ErrOffline = errors.New("sotto: tor is not running (offline mode)")
	// ErrNilContext: a nil context.Context was passed.
	ErrNilContext = errors.New("sotto: nil context")
	// ErrPeerRolledBack is wrapped by the ErrorEvent reported when a
	// contact's conversation keys were restored from an older copy or lost
	// (its vault was rolled back, or it is not the device it was): messages
	// may show twice there or be missing.
	ErrPeerRolledBack = errors.New("sotto: the contact's saved conversation keys were rolled back or lost")
	// ErrTooManyUnread is wrapped by the ErrorEvent reported when a contact
	// has sent as many unread messages as the engine stores per
	// conversation: further messages wait in the contact's outbox until
	// the conversation is marked read.
	ErrTooManyUnread = errors.New("sotto: too many unread messages in this conversation")
	// ErrContactOfOtherIdentity: the contact is already a contact of another
	// identity of this profile. All identities of a profile share one tor,
	// which holds one client authorization key per onion address, so only
	// one of them could reach it; use a separate profile for the other.
	ErrContactOfOtherIdentity = errors.New("sotto: that contact belongs to another identity of this profile")
	// ErrSelf: a code of one of this profile's own identities.
	ErrSelf = errors.New("sotto: that is one of your own identities")
	// ErrTooManyContacts: a restricted identity has onion.MaxClientAuth
	// contacts already: tor's control command carrying their keys would be
	// longer than a control-port filter (Whonix's onion-grater) passes.
	ErrTooManyContacts = errors.New("sotto: this identity has as many contacts as it can have")
	// ErrClientAuthShared is wrapped by the ErrorEvent reported when tor
	// held a client-authorization key for a contact that this Sotto had not
	// registered: another program or Whonix-Workstation using the same tor
	// has that contact too (tor keeps one key per contact for all of them).
	ErrClientAuthShared = errors.New("sotto: another user of this tor has the same contact")
	// ErrHardening is wrapped by the ErrorEvent, queued when a profile is
	// opened, that says which protection of the process's memory could not
	// be set up (Options.Hardening): Sotto runs, but less protected.
	ErrHardening = errors.New("sotto: warning: the process is less protected than it should be")
)

// UnknownContactError is the error of a call naming a contact the identity
// does not have. It wraps ErrUnknownContact. Its message says the name that
// was asked for and, when one contact is an obvious match (the same name but
// for case, the only name the given one starts, or one within a typo or
// two), asks whether that one was meant:
//
//	sotto: no contact named "Bob" (did you mean "bob"?)
//
// The suggestion is for the person reading the message only: nothing is
// ever sent to, or done with, the suggested contact.
type UnknownContactError struct {
	// Name is the name asked for, as given: untrusted text (Error quotes it).
	Name string
	// Suggestion is a contact of the identity that Name probably meant, or "".
	Suggestion string
}

func (e *UnknownContactError) Error() string {
	s := "sotto: no contact named " + quoteName(e.Name)
	if e.Suggestion != "" {
		s += " (did you mean " + quoteName(e.Suggestion) + "?)"
	}
	return s
}

func (e *UnknownContactError) Unwrap() error { return ErrUnknownContact }

// quoteName quotes a name someone typed for an error message: Go-quoted, so
// that control, bidi and other invisible characters show as escapes rather
// than act on the terminal it is printed on or hide what was typed, and cut
// at record.MaxName bytes (the longest valid name) so that a pasted page
// does not become the message.
func quoteName(s string) string {
	if len(s) <= record.MaxName {
		return strconv.Quote(s)
	}
	cut := record.MaxName
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}
