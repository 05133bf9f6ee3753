package onion

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/cretz/bine/control"

	"github.com/sottochat/sotto/onion/torctl"
)

var crlf = []byte("\r\n")

// Timeouts of control-port I/O.
const (
	ctrlWriteTimeout = 10 * time.Second
	ctrlAuthTimeout  = 20 * time.Second
	eventQueue       = 256
)

// ctrl is one authenticated control connection. bine does the
// authentication (PROTOCOLINFO, SAFECOOKIE/HASHEDPASSWORD); after that one
// reader goroutine owns the read side: replies go to the waiting command in
// order, events to events. bine never gets a DebugWriter (its debug output
// contains control lines, ADD_ONION keys included).
type ctrl struct {
	nc net.Conn
	r  *bufio.Reader

	wmu     sync.Mutex // serialises writes and the order of pending
	mu      sync.Mutex // guards pending, err
	pending []chan *torctl.Reply
	err     error

	events chan torctl.Event
	done   chan struct{}
	once   sync.Once
}

type ctrlEndpoint struct {
	network, address string
	password         []byte
	cookieFile       string // overrides the path tor announces
}

// dialCtrl connects and authenticates.
func dialCtrl(ctx context.Context, ep ctrlEndpoint) (*ctrl, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, ep.network, ep.address)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot reach tor's control port: %v", ErrTorUnavailable, scrubNetErr(err))
	}
	deadline := time.Now().Add(ctrlAuthTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	tp := textproto.NewConn(nc)
	bc := control.NewConn(tp) // DebugWriter stays nil
	if err := authenticate(bc, ep); err != nil {
		nc.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %v", ErrTorUnavailable, ctx.Err())
		}
		return nil, err
	}
	if !stop() && ctx.Err() != nil {
		nc.Close()
		return nil, fmt.Errorf("%w: %v", ErrTorUnavailable, ctx.Err())
	}
	_ = nc.SetDeadline(time.Time{})
	c := &ctrl{nc: nc, r: tp.R, events: make(chan torctl.Event, eventQueue), done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

// authenticate picks the method tor offers: NULL, SAFECOOKIE (with the
// cookie file tor names, or ep.cookieFile), or HASHEDPASSWORD.
func authenticate(bc *control.Conn, ep ctrlEndpoint) error {
	pi, err := bc.ProtocolInfo()
	if err != nil {
		return fmt.Errorf("%w: PROTOCOLINFO failed (is this a tor control port?)", ErrTorUnavailable)
	}
	switch {
	case pi.HasAuthMethod("NULL"):
		err = bc.Authenticate("")
	case pi.HasAuthMethod("SAFECOOKIE") && ep.cookieFile != "":
		err = safeCookie(bc, ep.cookieFile)
	case pi.HasAuthMethod("SAFECOOKIE") && pi.CookieFile != "":
		err = bc.Authenticate("")
	case pi.HasAuthMethod("HASHEDPASSWORD") && len(ep.password) > 0:
		err = bc.Authenticate(string(ep.password))
	case pi.HasAuthMethod("HASHEDPASSWORD"):
		return fmt.Errorf("%w: tor's control port wants a password (set TOR_CONTROL_PASSWD)", ErrTorUnavailable)
	default:
		return fmt.Errorf("%w: tor's control port offers no authentication method Sotto supports", ErrTorUnavailable)
	}
	if err != nil {
		return fmt.Errorf("%w: control port authentication failed", ErrTorUnavailable)
	}
	return nil
}

// safeCookie runs SAFECOOKIE authentication (control-spec 3.24) with a
// cookie file named by the user, for a tor whose announced path is not
// ours to read.
func safeCookie(bc *control.Conn, path string) error {
	cookie, err := os.ReadFile(path)
	if err != nil || len(cookie) != 32 {
		return errors.New("cookie file unreadable or not 32 bytes")
	}
	var nonce [32]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	resp, err := bc.SendRequest("AUTHCHALLENGE SAFECOOKIE %s", hex.EncodeToString(nonce[:]))
	if err != nil {
		return err
	}
	_, kv, err := torctl.Args(resp.Reply)
	if err != nil {
		return err
	}
	serverHash, err1 := hex.DecodeString(kv["SERVERHASH"])
	serverNonce, err2 := hex.DecodeString(kv["SERVERNONCE"])
	if err1 != nil || err2 != nil || len(serverHash) != 32 || len(serverNonce) != 32 {
		return errors.New("bad AUTHCHALLENGE reply")
	}
	mac := func(label string) []byte {
		m := hmac.New(sha256.New, []byte(label))
		m.Write(cookie)
		m.Write(nonce[:])
		m.Write(serverNonce)
		return m.Sum(nil)
	}
	if !hmac.Equal(serverHash, mac("Tor safe cookie authentication server-to-controller hash")) {
		return errors.New("tor's SAFECOOKIE server hash does not match the cookie")
	}
	_, err = bc.SendRequest("AUTHENTICATE %s", hex.EncodeToString(mac("Tor safe cookie authentication controller-to-server hash")))
	return err
}

func (c *ctrl) readLoop() {
	for {
		rep, err := torctl.ReadReply(c.r)
		if err != nil {
			c.fail(err)
			return
		}
		if rep.Async() {
			ev, err := torctl.ParseEvent(rep)
			if err != nil {
				continue
			}
			select {
			case c.events <- ev:
			case <-c.done:
				return
			}
			continue
		}
		c.mu.Lock()
		if len(c.pending) == 0 {
			c.mu.Unlock()
			c.fail(fmt.Errorf("%w: unexpected reply", torctl.ErrProtocol))
			return
		}
		w := c.pending[0]
		c.pending = c.pending[1:]
		c.mu.Unlock()
		w <- rep
	}
}

func (c *ctrl) fail(err error) {
	c.once.Do(func() {
		c.mu.Lock()
		c.err = err
		for _, w := range c.pending {
			close(w)
		}
		c.pending = nil
		c.mu.Unlock()
		c.nc.Close()
		close(c.done)
	})
}

func (c *ctrl) close() { c.fail(ErrClosed) }

// do sends one command line (without CRLF) and waits for its reply. The
// command's bytes are not kept; callers wipe secret-bearing commands after.
// A reply that is not 2xx becomes an error wrapping ErrControl carrying only
// the status code and a cleaned, shortened text of tor's message (tor's
// errors never contain our keys).
func (c *ctrl) do(ctx context.Context, cmd []byte) (*torctl.Reply, error) {
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil context", ErrBadConfig)
	}
	w := make(chan *torctl.Reply, 1)
	c.wmu.Lock()
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		c.wmu.Unlock()
		return nil, fmt.Errorf("%w: control connection closed", ErrTorUnavailable)
	}
	c.pending = append(c.pending, w)
	c.mu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(ctrlWriteTimeout))
	// Written as given (writev where the OS has it): appending CRLF could
	// copy a secret-bearing command into a buffer nobody wipes.
	bufs := net.Buffers{cmd, crlf}
	_, err := bufs.WriteTo(c.nc)
	c.wmu.Unlock()
	if err != nil {
		c.fail(err)
		return nil, fmt.Errorf("%w: control connection: %v", ErrTorUnavailable, scrubNetErr(err))
	}
	select {
	case rep, ok := <-w:
		if !ok {
			return nil, fmt.Errorf("%w: control connection closed", ErrTorUnavailable)
		}
		if !rep.OK() {
			return rep, fmt.Errorf("%w: %d %s", ErrControl, rep.Code, scrubReply(rep.Last()))
		}
		return rep, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, fmt.Errorf("%w: control connection closed", ErrTorUnavailable)
	}
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
