// Package torctl is a tiny client for tor's control protocol and a SOCKS5
// dialer, enough for onion/testnet's own tests and benchmarks to drive client
// tors: authenticate with a cookie, send commands, read replies and
// asynchronous events, and open streams through tor's SocksPort.
//
// It implements only what those tests need of [control-spec] and
// [RFC 1928]; Sotto itself talks to tor through package onion.
//
// [control-spec]: https://spec.torproject.org/control-spec/
// [RFC 1928]: https://www.rfc-editor.org/rfc/rfc1928
package torctl

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits on what a tor (or anything else on the socket) can make us hold.
const (
	maxLineLen   = 64 << 10 // one reply line
	maxReplySize = 1 << 20  // one reply, data lines included
	eventBuffer  = 256      // events queued before new ones are dropped
	cookieLen    = 32       // control-spec §5.1: the auth cookie is 32 bytes
)

// Reply is one complete reply from tor.
type Reply struct {
	Code  int      // status code: 250 is success, 6xx an asynchronous event
	Lines []string // the text after "NNN-", "NNN+" or "NNN ", one per line
	Data  []string // lines of "NNN+" data blocks, dot-unstuffed
}

// OK reports whether the reply is a success (2xx).
func (r Reply) OK() bool { return r.Code >= 200 && r.Code < 300 }

// Err returns nil for a success, else an error with the reply's text.
func (r Reply) Err() error {
	if r.OK() {
		return nil
	}
	return fmt.Errorf("torctl: tor replied %d %s", r.Code, strings.Join(r.Lines, " "))
}

// Conn is a control-port connection. Commands are sent one at a time;
// events arrive on Events.
type Conn struct {
	c       net.Conn
	mu      sync.Mutex // one command in flight
	replies chan Reply
	events  chan Reply
	done    chan struct{}
	readErr error // set before done is closed
}

// Dial connects to a control port ("unix", "/path/control" or "tcp",
// "127.0.0.1:9051").
func Dial(ctx context.Context, network, addr string) (*Conn, error) {
	if ctx == nil {
		return nil, errors.New("torctl: nil context")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("torctl: %w", err)
	}
	cc := &Conn{c: c, replies: make(chan Reply, 1), events: make(chan Reply, eventBuffer), done: make(chan struct{})}
	go cc.readLoop()
	return cc, nil
}

// Events returns the channel of asynchronous events (code 650). Events
// that arrive while the channel is full are dropped. It is closed when the
// connection ends.
func (c *Conn) Events() <-chan Reply { return c.events }

// Close closes the connection and waits for its reader.
func (c *Conn) Close() error {
	err := c.c.Close()
	<-c.done
	return err
}

// AuthenticateCookie authenticates with the cookie file tor wrote
// (CookieAuthentication 1).
func (c *Conn) AuthenticateCookie(ctx context.Context, cookiePath string) error {
	f, err := os.Open(cookiePath)
	if err != nil {
		return fmt.Errorf("torctl: %w", err)
	}
	defer f.Close()
	cookie := make([]byte, cookieLen+1)
	n, _ := f.Read(cookie)
	if n != cookieLen {
		return fmt.Errorf("torctl: cookie file is %d bytes, want %d", n, cookieLen)
	}
	r, err := c.Do(ctx, "AUTHENTICATE "+hex.EncodeToString(cookie[:cookieLen]))
	clear(cookie)
	if err != nil {
		return err
	}
	return r.Err()
}

// Do sends one command line and returns tor's reply. A reply with an error
// code is returned as a Reply, not an error; use Reply.Err.
func (c *Conn) Do(ctx context.Context, cmd string) (Reply, error) {
	if ctx == nil {
		return Reply{}, errors.New("torctl: nil context")
	}
	if strings.ContainsAny(cmd, "\r\n") {
		return Reply{}, errors.New("torctl: command contains a line break")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		c.c.SetWriteDeadline(dl)
	} else {
		c.c.SetWriteDeadline(time.Time{})
	}
	if _, err := c.c.Write([]byte(cmd + "\r\n")); err != nil {
		return Reply{}, fmt.Errorf("torctl: %w", err)
	}
	select {
	case r := <-c.replies:
		return r, nil
	case <-c.done:
		return Reply{}, fmt.Errorf("torctl: connection ended: %w", c.readErr)
	case <-ctx.Done():
		// The reply will still come; the connection is now out of step.
		c.c.Close()
		return Reply{}, fmt.Errorf("torctl: %w", ctx.Err())
	}
}

// GetInfo returns the value of one GETINFO key.
func (c *Conn) GetInfo(ctx context.Context, key string) (string, error) {
	r, err := c.Do(ctx, "GETINFO "+key)
	if err != nil {
		return "", err
	}
	if err := r.Err(); err != nil {
		return "", err
	}
	for _, l := range r.Lines {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			if v == "" && len(r.Data) > 0 {
				return strings.Join(r.Data, "\n"), nil
			}
			return v, nil
		}
	}
	return "", fmt.Errorf("torctl: GETINFO %s: no value in reply", key)
}

func (c *Conn) readLoop() {
	defer close(c.done)
	defer close(c.events)
	br := bufio.NewReaderSize(c.c, 4096)
	for {
		r, err := readReply(br)
		if err != nil {
			c.readErr = err
			return
		}
		if r.Code >= 600 && r.Code < 700 {
			select {
			case c.events <- r:
			default: // nobody listens fast enough: drop
			}
			continue
		}
		select {
		case c.replies <- r:
		default:
			c.readErr = errors.New("torctl: reply without a command")
			c.c.Close()
			return
		}
	}
}

// readReply reads one reply (control-spec §2.3): lines "NNN-text",
// "NNN+text" followed by a data block ending in ".", and a last "NNN text".
func readReply(br *bufio.Reader) (Reply, error) {
	var r Reply
	size := 0
	for {
		line, err := readLine(br)
		if err != nil {
			return Reply{}, err
		}
		size += len(line)
		if size > maxReplySize {
			return Reply{}, errors.New("torctl: reply too large")
		}
		if len(line) < 4 {
			return Reply{}, fmt.Errorf("torctl: malformed reply line %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil || code < 100 || code > 999 {
			return Reply{}, fmt.Errorf("torctl: malformed reply code %q", line[:3])
		}
		if r.Code != 0 && code != r.Code {
			return Reply{}, errors.New("torctl: reply code changed within a reply")
		}
		r.Code = code
		r.Lines = append(r.Lines, line[4:])
		switch line[3] {
		case ' ':
			return r, nil
		case '-':
		case '+':
			for {
				d, err := readLine(br)
				if err != nil {
					return Reply{}, err
				}
				size += len(d)
				if size > maxReplySize {
					return Reply{}, errors.New("torctl: reply too large")
				}
				if d == "." {
					break
				}
				r.Data = append(r.Data, strings.TrimPrefix(d, "."))
			}
		default:
			return Reply{}, fmt.Errorf("torctl: malformed reply separator %q", line[3])
		}
	}
}

// readLine reads one CRLF- (or LF-) terminated line of at most maxLineLen.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(b)+len(frag) > maxLineLen {
			return "", errors.New("torctl: reply line too long")
		}
		b = append(b, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
}
