package onion

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"syscall"

	"github.com/sottochat/sotto/onion/torctl"
)

var crlf = []byte("\r\n")

// ctrl is one authenticated control connection (a torctl.Conn) with
// Sotto's error conventions: a refused command is an error wrapping
// ErrControl that carries only the status code and a cleaned, shortened
// text of tor's message.
type ctrl struct {
	c      *torctl.Conn
	events <-chan torctl.Event
	done   <-chan struct{}

	// probe, set for an external tor, sends each form of a key-bearing
	// command first with throwaway keys (see probeAddOnion).
	probe bool
	// onShared, if set, is called when tor already held another client-auth
	// key for an onion this connection had not registered (see noteAuth).
	onShared func(addr string)

	// probeMu is held from a probe's "probed already?" to its end, so that
	// callers at once (contacts added together) send one probe of a form,
	// not one each.
	probeMu sync.Mutex

	mu        sync.Mutex
	probed    map[string]bool // command forms a probe got through
	authAdded map[string]bool // onions whose client-auth key this connection registered
}

type ctrlEndpoint struct {
	network, address string
	password         []byte
	cookieFile       string // overrides the path tor announces
}

// ctrlDialError is a failed dial of the control port; it says whether the
// dial was refused (the socket exists but nobody listens yet) without
// carrying the raw network error, whose text may hold a path.
type ctrlDialError struct {
	err     error
	refused bool
}

func (e *ctrlDialError) Error() string { return e.err.Error() }
func (e *ctrlDialError) Unwrap() error { return e.err }

// Is reports a refused dial as syscall.ECONNREFUSED.
func (e *ctrlDialError) Is(target error) bool { return e.refused && target == syscall.ECONNREFUSED }

// dialCtrl connects and authenticates (torctl.Open: NULL, a password when
// one is given, else SAFECOOKIE).
func dialCtrl(ctx context.Context, ep ctrlEndpoint) (*ctrl, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, ep.network, ep.address)
	if err != nil {
		return nil, &ctrlDialError{err: fmt.Errorf("%w: cannot reach tor's control port: %v", ErrTorUnavailable, scrubNetErr(err)), refused: errors.Is(err, syscall.ECONNREFUSED)}
	}
	c, err := torctl.Open(ctx, nc, torctl.Auth{Password: ep.password, CookieFile: ep.cookieFile})
	if err != nil {
		return nil, authError(ctx, err)
	}
	return newCtrl(c), nil
}

func newCtrl(c *torctl.Conn) *ctrl {
	return &ctrl{c: c, events: c.Events(), done: c.Done(), probed: map[string]bool{}, authAdded: map[string]bool{}}
}

// authError says what to do about a failed authentication.
func authError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%w: %v", ErrTorUnavailable, ctx.Err())
	case errors.Is(err, torctl.ErrNeedPassword):
		return fmt.Errorf("%w: tor's control port wants a password (set TOR_CONTROL_PASSWD: hex, or the password in double quotes)", ErrTorUnavailable)
	case errors.Is(err, torctl.ErrCookieUnreadable):
		return fmt.Errorf("%w: cannot read tor's authentication cookie (let this user read it, set TOR_CONTROL_COOKIE_AUTH_FILE to a readable copy, or TOR_CONTROL_PASSWD if tor has a password)", ErrTorUnavailable)
	case errors.Is(err, torctl.ErrAuthRejected):
		return fmt.Errorf("%w: control port authentication failed (check TOR_CONTROL_PASSWD or TOR_CONTROL_COOKIE_AUTH_FILE)", ErrTorUnavailable)
	case errors.Is(err, torctl.ErrNoAuthMethod):
		return fmt.Errorf("%w: tor's control port offers no authentication method Sotto supports", ErrTorUnavailable)
	}
	return fmt.Errorf("%w: PROTOCOLINFO failed (is this a tor control port?)", ErrTorUnavailable)
}

func (c *ctrl) close() { c.c.Close() }

// localAddr is the local address of the connection.
func (c *ctrl) localAddr() net.Addr { return c.c.LocalAddr() }

// do sends one command line (without CRLF) and waits for its reply. The
// command's bytes are not kept; callers wipe secret-bearing commands after.
// A reply that is not 2xx becomes an error wrapping ErrControl carrying only
// the status code and a cleaned, shortened text of tor's message (tor's
// errors never contain our keys).
func (c *ctrl) do(ctx context.Context, cmd []byte) (*torctl.Reply, error) {
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil context", ErrBadConfig)
	}
	rep, err := c.c.Do(ctx, cmd)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: control connection closed", ErrTorUnavailable)
	}
	if !rep.OK() {
		return rep, fmt.Errorf("%w: %d %s", ErrControl, rep.Code, scrubReply(rep.Last()))
	}
	return rep, nil
}

// getinfo runs GETINFO for one key and returns its value.
func (c *ctrl) getinfo(ctx context.Context, key string) (string, error) {
	rep, err := c.do(ctx, []byte("GETINFO "+key))
	if err != nil {
		return "", err
	}
	kv, err := rep.KeyValues()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrControl, err)
	}
	v, ok := kv[key]
	if !ok {
		return "", fmt.Errorf("%w: GETINFO %s: no value", ErrControl, key)
	}
	return v, nil
}

// scrubNetErr keeps a network error's gist without addresses.
func scrubNetErr(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Op + ": " + op.Err.Error()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err.Error()
	}
	return strings.SplitN(err.Error(), ":", 2)[0]
}

var (
	onionInText = regexp.MustCompile(`(?i)[a-z2-7]{56}`)
	blobInText  = regexp.MustCompile(`[A-Za-z0-9+/=_-]{40,}`)
)

// scrubReply makes tor's error text safe for an error string: onion
// addresses abbreviated, anything long enough to be a key blob removed,
// control characters replaced, length bounded.
func scrubReply(s string) string {
	s = truncate(s, 200)
	s = onionInText.ReplaceAllStringFunc(s, Abbrev)
	s = blobInText.ReplaceAllString(s, "[…]")
	return truncate(s, 120)
}
