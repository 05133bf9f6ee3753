package torctl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Conn is one authenticated control connection ([control-spec] section 3).
// After [Open] one reader goroutine owns the read side: replies go to the
// waiting [Conn.Do] in order, events to [Conn.Events]. Its methods are safe
// for concurrent use; commands are answered in the order they were written.
type Conn struct {
	nc net.Conn
	r  *bufio.Reader

	wmu     sync.Mutex // serialises writes and the order of pending
	mu      sync.Mutex // guards pending, err
	pending []chan *Reply
	err     error

	events chan Event
	done   chan struct{}
	once   sync.Once
}

// Limits of a connection.
const (
	// EventQueue is how many events wait for the reader of Events before
	// the connection stops reading (events are never dropped: the reader
	// must keep up, or the connection stalls).
	EventQueue   = 256
	writeTimeout = 10 * time.Second
	authTimeout  = 20 * time.Second
	readBuffer   = 4096
)

// ErrClosed is returned by Do once the connection has ended; Err says why.
var ErrClosed = errors.New("torctl: control connection closed")

var crlf = []byte("\r\n")

// Open authenticates on nc (see [Auth]) and returns the connection ready
// for commands. ctx bounds the authentication (at most 20 s); on failure
// nc is closed. Open never writes a secret anywhere but nc, and wipes the
// copies it makes.
func Open(ctx context.Context, nc net.Conn, a Auth) (*Conn, error) {
	if ctx == nil {
		nc.Close()
		return nil, errors.New("torctl: nil context")
	}
	deadline := time.Now().Add(authTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	c := &Conn{nc: nc, r: bufio.NewReaderSize(nc, readBuffer), events: make(chan Event, EventQueue), done: make(chan struct{})}
	err := c.authenticate(a)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("torctl: authentication: %w", ctx.Err())
		}
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	go c.readLoop()
	return c, nil
}

// roundTrip writes one command and reads its reply before the reader
// goroutine runs (authentication). Events cannot arrive yet: nothing is
// subscribed.
func (c *Conn) roundTrip(cmd []byte) (*Reply, error) {
	bufs := net.Buffers{cmd, crlf}
	if _, err := bufs.WriteTo(c.nc); err != nil {
		return nil, err
	}
	return ReadReply(c.r)
}

func (c *Conn) readLoop() {
	for {
		rep, err := ReadReply(c.r)
		if err != nil {
			c.fail(err)
			return
		}
		if rep.Async() {
			ev, err := ParseEvent(rep)
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
			c.fail(fmt.Errorf("%w: a reply to no command", ErrProtocol))
			return
		}
		w := c.pending[0]
		c.pending = c.pending[1:]
		c.mu.Unlock()
		w <- rep
	}
}

func (c *Conn) fail(err error) {
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

// Close ends the connection. Pending and later commands fail with
// ErrClosed.
func (c *Conn) Close() { c.fail(ErrClosed) }

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended (nil while it is open). It may hold
// a network error; callers that show it should keep only its gist.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Events delivers asynchronous events in order. A reader that subscribes
// to events (SETEVENTS) must keep reading them: when EventQueue are
// waiting, the connection stops reading replies too.
func (c *Conn) Events() <-chan Event { return c.events }

// LocalAddr is the local address of the connection: for a TCP control port
// behind a filter such as onion-grater, the address it knows us by.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Do writes one command line (without CRLF) and waits for its reply. A
// reply with an error status is returned as a Reply, not an error; errors
// are for a connection that failed (ErrClosed, a write error) or ctx. The
// command is written as given, without a copy (so a caller can wipe a
// secret-bearing command after), and must not contain CR or LF.
func (c *Conn) Do(ctx context.Context, cmd []byte) (*Reply, error) {
	if ctx == nil {
		return nil, errors.New("torctl: nil context")
	}
	for _, b := range cmd {
		if b == '\r' || b == '\n' {
			return nil, errors.New("torctl: command contains a line break")
		}
	}
	w := make(chan *Reply, 1)
	c.wmu.Lock()
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		c.wmu.Unlock()
		return nil, ErrClosed
	}
	c.pending = append(c.pending, w)
	c.mu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	// writev where the OS has it: appending CRLF could copy a secret into
	// a buffer nobody wipes.
	bufs := net.Buffers{cmd, crlf}
	_, err := bufs.WriteTo(c.nc)
	c.wmu.Unlock()
	if err != nil {
		c.fail(err)
		return nil, fmt.Errorf("%w: %v", ErrClosed, err)
	}
	select {
	case rep, ok := <-w:
		if !ok {
			return nil, ErrClosed
		}
		return rep, nil
	case <-ctx.Done():
		// The reply still comes and is matched to this command; nothing
		// waits for it.
		return nil, ctx.Err()
	case <-c.done:
		return nil, ErrClosed
	}
}

// ReplyError is a reply with an error status (4xx, 5xx).
type ReplyError struct {
	Code int
	Text string // tor's message: the reply's last line
}

func (e *ReplyError) Error() string { return fmt.Sprintf("torctl: tor replied %d %s", e.Code, e.Text) }

// Err returns nil for a success and a *ReplyError otherwise.
func (r *Reply) Err() error {
	if r.OK() {
		return nil
	}
	return &ReplyError{Code: r.Code, Text: r.Last()}
}

// GetInfo runs GETINFO for one key and returns its value (a data block's
// lines joined by "\n"). A refused key is a *ReplyError.
func (c *Conn) GetInfo(ctx context.Context, key string) (string, error) {
	rep, err := c.Do(ctx, []byte("GETINFO "+key))
	if err != nil {
		return "", err
	}
	if err := rep.Err(); err != nil {
		return "", err
	}
	kv, err := rep.KeyValues()
	if err != nil {
		return "", err
	}
	v, ok := kv[key]
	if !ok {
		return "", fmt.Errorf("%w: GETINFO %s: no value", ErrProtocol, key)
	}
	return v, nil
}
