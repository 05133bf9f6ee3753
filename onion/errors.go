package onion

import "errors"

// Errors callers branch on. Wrapped errors carry details (never a key, and a
// contact's onion address only abbreviated); test with errors.Is.
var (
	// ErrTorUnavailable: tor could not be started or reached, or it died and
	// has not come back yet. Sotto never falls back to a direct connection.
	ErrTorUnavailable = errors.New("onion: tor is not available")
	// ErrTorTooOld: tor is older than MinTorVersion.
	ErrTorTooOld = errors.New("onion: tor is too old (Sotto needs tor " + MinTorVersion + " or newer, which fixed a rendezvous-point impersonation bug; update tor)")
	// ErrUnreachable: the onion service could not be reached (offline, no
	// descriptor, introduction or rendezvous failed, timeout).
	ErrUnreachable = errors.New("onion: contact unreachable")
	// ErrNoDescriptor: tor found no descriptor for the service at its
	// HSDirs (SOCKS 0xF0): it is not published, so its owner is offline
	// (or has never come online). Always wrapped with ErrUnreachable.
	ErrNoDescriptor = errors.New("onion: the contact's onion service is not published (offline)")
	// ErrNeedClientAuth: the service uses restricted discovery and tor has
	// no client-auth key for it (SOCKS 0xF4).
	ErrNeedClientAuth = errors.New("onion: the contact's service needs client authorization we do not have")
	// ErrBadClientAuth: tor has a client-auth key for the service but the
	// descriptor cannot be decrypted with it (SOCKS 0xF5): the contact
	// removed us or changed keys.
	ErrBadClientAuth = errors.New("onion: the contact's service rejected our client authorization")
	// ErrClosed: the Tor or Service was closed.
	ErrClosed = errors.New("onion: closed")
	// ErrBadConfig: a configuration value is unusable; the wrapped message
	// says which and what to do.
	ErrBadConfig = errors.New("onion: bad configuration")
	// ErrControl: tor refused a control-port command or answered nonsense.
	ErrControl = errors.New("onion: tor control command failed")
	// ErrTooManyClients: a restricted onion service would have more than
	// MaxClientAuth client-auth keys (contacts).
	ErrTooManyClients = errors.New("onion: too many contacts for one identity")
	// ErrFiltered: a control-port filter in front of tor (Whonix's or
	// Tails' onion-grater) refused the form of a command that carries a
	// key; Sotto sent it with a throwaway key only (see docs/tor-control.md).
	ErrFiltered = errors.New("onion: tor's control-port filter refuses Sotto's commands")
)
