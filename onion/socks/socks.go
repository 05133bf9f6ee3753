// Package socks implements the client side of SOCKS5 ([RFC 1928]) with
// username/password authentication ([RFC 1929]) as Sotto uses it towards
// tor: CONNECT to a host name (never a resolved address), credentials that
// select tor's stream isolation, and tor's extended error codes
// ([tor socks-extensions], "ExtendedErrors").
//
// [RFC 1928]: https://www.rfc-editor.org/rfc/rfc1928
// [RFC 1929]: https://www.rfc-editor.org/rfc/rfc1929
// [tor socks-extensions]: https://spec.torproject.org/socks-extensions.html
package socks

import (
	"errors"
	"fmt"
	"io"
)

// Protocol constants (RFC 1928 section 3-6, RFC 1929 section 2).
const (
	version5        = 0x05
	methodUserPass  = 0x02 // username/password (RFC 1929)
	methodNoAccept  = 0xff
	userPassVersion = 0x01
	cmdConnect      = 0x01
	atypIPv4        = 0x01
	atypDomain      = 0x03
	atypIPv6        = 0x04
)

// Reply codes: RFC 1928's and tor's extended ones for onion services.
const (
	Succeeded           = 0x00
	GeneralFailure      = 0x01
	NotAllowed          = 0x02
	NetworkUnreachable  = 0x03
	HostUnreachable     = 0x04
	ConnectionRefused   = 0x05
	TTLExpired          = 0x06
	CommandNotSupported = 0x07
	AddressNotSupported = 0x08
	OnionDescNotFound   = 0xF0 // descriptor not found (not published, or not yet)
	OnionDescInvalid    = 0xF1 // descriptor cannot be parsed or validated
	OnionIntroFailed    = 0xF2 // all introduction points failed
	OnionRendFailed     = 0xF3 // rendezvous failed
	OnionMissingAuth    = 0xF4 // client authorization missing
	OnionWrongAuth      = 0xF5 // client authorization wrong
	OnionInvalidAddress = 0xF6 // bad onion address
	OnionIntroTimedOut  = 0xF7 // introduction timed out
)

// ReplyError is a SOCKS reply other than success.
type ReplyError struct{ Code byte }

func (e *ReplyError) Error() string {
	return fmt.Sprintf("socks: tor replied %#02x (%s)", e.Code, codeText(e.Code))
}

func codeText(c byte) string {
	switch c {
	case GeneralFailure:
		return "general failure"
	case NotAllowed:
		return "not allowed"
	case NetworkUnreachable:
		return "network unreachable"
	case HostUnreachable:
		return "host unreachable"
	case ConnectionRefused:
		return "connection refused"
	case TTLExpired:
		return "timed out"
	case CommandNotSupported:
		return "command not supported"
	case AddressNotSupported:
		return "address type not supported"
	case OnionDescNotFound:
		return "onion service descriptor not found"
	case OnionDescInvalid:
		return "onion service descriptor invalid"
	case OnionIntroFailed:
		return "introduction failed"
	case OnionRendFailed:
		return "rendezvous failed"
	case OnionMissingAuth:
		return "client authorization missing"
	case OnionWrongAuth:
		return "client authorization wrong"
	case OnionInvalidAddress:
		return "invalid onion address"
	case OnionIntroTimedOut:
		return "introduction timed out"
	}
	return "unknown"
}

// ErrProtocol: the server spoke something other than SOCKS5.
var ErrProtocol = errors.New("socks: protocol error")

// Connect runs the SOCKS5 handshake on rw: username/password authentication
// with user and pass (1-255 bytes each), then CONNECT host:port with host
// sent as a name. It returns a *ReplyError for a refused request.
func Connect(rw io.ReadWriter, user, pass []byte, host string, port uint16) error {
	if len(user) < 1 || len(user) > 255 || len(pass) < 1 || len(pass) > 255 {
		return fmt.Errorf("%w: credentials must be 1-255 bytes", ErrProtocol)
	}
	if len(host) < 1 || len(host) > 255 {
		return fmt.Errorf("%w: host name must be 1-255 bytes", ErrProtocol)
	}
	// Greeting: one method, username/password. Sent together with the
	// authentication and the request to save round trips is not allowed by
	// RFC 1928 strictly, so each step waits for its answer.
	if _, err := rw.Write([]byte{version5, 1, methodUserPass}); err != nil {
		return err
	}
	var sel [2]byte
	if _, err := io.ReadFull(rw, sel[:]); err != nil {
		return err
	}
	if err := ParseMethodSelection(sel[:]); err != nil {
		return err
	}
	auth := make([]byte, 0, 3+len(user)+len(pass))
	auth = append(auth, userPassVersion, byte(len(user)))
	auth = append(auth, user...)
	auth = append(auth, byte(len(pass)))
	auth = append(auth, pass...)
	if _, err := rw.Write(auth); err != nil {
		return err
	}
	var ar [2]byte
	if _, err := io.ReadFull(rw, ar[:]); err != nil {
		return err
	}
	if ar[0] != userPassVersion || ar[1] != 0 {
		return fmt.Errorf("%w: authentication refused", ErrProtocol)
	}
	req := make([]byte, 0, 7+len(host))
	req = append(req, version5, cmdConnect, 0, atypDomain, byte(len(host)))
	req = append(req, host...)
	req = append(req, byte(port>>8), byte(port))
	if _, err := rw.Write(req); err != nil {
		return err
	}
	return ReadReply(rw)
}

// ParseMethodSelection checks the server's method selection message.
func ParseMethodSelection(b []byte) error {
	if len(b) != 2 || b[0] != version5 {
		return fmt.Errorf("%w: not a SOCKS5 server", ErrProtocol)
	}
	if b[1] != methodUserPass {
		return fmt.Errorf("%w: server refused username/password authentication", ErrProtocol)
	}
	return nil
}

// ReadReply reads a CONNECT reply: VER REP RSV ATYP BND.ADDR BND.PORT. It
// reads exactly the reply's bytes and no more, so the stream that follows
// is untouched.
func ReadReply(r io.Reader) error {
	var h [5]byte // VER REP RSV ATYP and the first address byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return err
	}
	rest, err := ReplyRest(h)
	if err != nil {
		return err
	}
	buf := make([]byte, rest)
	if _, err := io.ReadFull(r, buf); err != nil {
		return err
	}
	if h[1] != Succeeded {
		return &ReplyError{Code: h[1]}
	}
	return nil
}

// ReplyRest validates the first five bytes of a reply and returns how many
// bytes of it remain (the rest of BND.ADDR and BND.PORT).
func ReplyRest(h [5]byte) (int, error) {
	if h[0] != version5 || h[2] != 0 {
		return 0, fmt.Errorf("%w: bad reply header", ErrProtocol)
	}
	switch h[3] {
	case atypIPv4:
		return 4 - 1 + 2, nil
	case atypIPv6:
		return 16 - 1 + 2, nil
	case atypDomain:
		return int(h[4]) + 2, nil
	}
	return 0, fmt.Errorf("%w: bad reply address type", ErrProtocol)
}
