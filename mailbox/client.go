package mailbox

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"time"
)

// The client side of Part 3: a stream to one mailbox service, used by one
// goroutine at a time. Every reply is checked against the request it
// answers; a mailbox that sends anything else (garbage, a reply of another
// op, an item outside the relation asked for) gets the stream closed with
// ErrMalformed, never a crash or a half-read state.

// ClientTimeout bounds each request and its reply.
const ClientTimeout = 60 * time.Second

// PingEvery is how often Wait pings a watched stream.
const PingEvery = 60 * time.Second

// Conn is an open stream to a mailbox service.
type Conn struct {
	nc       net.Conn
	buf      []byte
	notified bool
	seq      uint32
	timeout  time.Duration
}

// Item is one collected item.
type Item struct {
	Rel   [RelLen]byte
	ID    [ItemLen]byte
	Kind  uint8  // ItemBlob or ItemExpired
	Blob  []byte // ItemBlob: padded to a BlobSizes size (see Unpack)
	Count uint32 // ItemExpired: blobs deleted unread at their delete-by time
}

// Dial opens a stream to a mailbox onion service and exchanges preambles.
func Dial(ctx context.Context, d Dialer, from, onionAddr string) (*Conn, error) {
	if ctx == nil {
		return nil, errors.New("mailbox: nil context")
	}
	nc, err := d.Dial(ctx, from, onionAddr)
	if err != nil {
		return nil, err
	}
	c := &Conn{nc: nc, timeout: ClientTimeout}
	c.nc.SetDeadline(time.Now().Add(c.timeout))
	if _, err := nc.Write(Preamble()); err != nil {
		nc.Close()
		return nil, err
	}
	if err := ReadPreamble(nc); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// NewConn runs the protocol over an established stream (tests).
func NewConn(nc net.Conn) (*Conn, error) {
	c := &Conn{nc: nc, timeout: ClientTimeout}
	nc.SetDeadline(time.Now().Add(c.timeout))
	if _, err := nc.Write(Preamble()); err != nil {
		return nil, err
	}
	if err := ReadPreamble(nc); err != nil {
		return nil, err
	}
	return c, nil
}

// Close closes the stream.
func (c *Conn) Close() error { return c.nc.Close() }

func (c *Conn) send(m *Msg) error {
	b, err := AppendFrame(nil, m)
	if err != nil {
		return err
	}
	c.nc.SetDeadline(time.Now().Add(c.timeout))
	_, err = c.nc.Write(b)
	clear(b)
	return err
}

// recv reads the next frame that is not a notify.
func (c *Conn) recv() (*Msg, error) {
	for {
		var m *Msg
		var err error
		m, c.buf, err = ReadFrame(c.nc, c.buf)
		if err != nil {
			return nil, err
		}
		if isRequest(m.Op) {
			return nil, ErrMalformed
		}
		if m.Op == OpNotify {
			c.notified = true
			continue
		}
		return m, nil
	}
}

// expect reads the reply to a request: want, or an error reply.
func (c *Conn) expect(want Op) (*Msg, error) {
	m, err := c.recv()
	if err != nil {
		return nil, err
	}
	if m.Op == OpError {
		return nil, &RemoteError{Code: m.Code}
	}
	if m.Op != want {
		return nil, ErrMalformed
	}
	return m, nil
}

func (c *Conn) roundTrip(req *Msg, want Op) (*Msg, error) {
	if err := c.send(req); err != nil {
		return nil, err
	}
	return c.expect(want)
}

// Hello authenticates the stream as role with token, lent by tok.
func (c *Conn) Hello(role Role, tok KeyFunc) error {
	req := &Msg{Op: OpHello, Role: role}
	err := tok(func(t *[32]byte) error {
		req.Token = *t
		b, err := AppendFrame(nil, req)
		clear(req.Token[:])
		if err != nil {
			return err
		}
		c.nc.SetDeadline(time.Now().Add(c.timeout))
		_, err = c.nc.Write(b)
		clear(b)
		return err
	})
	if err != nil {
		return err
	}
	_, err = c.expect(OpOK)
	return err
}

// Add creates a relation (owner).
func (c *Conn) Add(rel [RelLen]byte, tokenHash, auth [KeyLen]byte) error {
	_, err := c.roundTrip(&Msg{Op: OpAdd, Rel: rel, TokenHash: tokenHash, Auth: auth}, OpOK)
	return err
}

// Remove deletes a relation with its queues (owner).
func (c *Conn) Remove(rel [RelLen]byte) error {
	_, err := c.roundTrip(&Msg{Op: OpRemove, Rel: rel}, OpOK)
	return err
}

// Deposit leaves a padded blob for the other side of rel (a contact passes
// the zero rel). ttl > 0 asks the mailbox to delete it after ttl seconds.
// On success the mailbox has stored it durably.
func (c *Conn) Deposit(rel [RelLen]byte, ttl uint32, blob []byte) ([ItemLen]byte, error) {
	m, err := c.roundTrip(&Msg{Op: OpDeposit, Rel: rel, TTL: ttl, Blob: blob}, OpOK)
	if err != nil {
		return [ItemLen]byte{}, err
	}
	return m.Item, nil
}

// Collect takes up to max items waiting for the caller in rel (the owner
// may pass the zero rel for all its relations) and calls fn for each, in
// the mailbox's order; it returns how many more wait. An item of another
// relation than the one asked for, or more items than asked for, is
// ErrMalformed.
func (c *Conn) Collect(rel [RelLen]byte, max int, fn func(Item) error) (int, error) {
	if max < 1 || max > MaxCollect {
		return 0, fmt.Errorf("mailbox: collect of %d items (1..%d)", max, MaxCollect)
	}
	if err := c.send(&Msg{Op: OpCollect, Rel: rel, Max: uint16(max)}); err != nil {
		return 0, err
	}
	n := 0
	var ferr error
	for {
		m, err := c.recv()
		if err != nil {
			return 0, err
		}
		switch m.Op {
		case OpError:
			return 0, &RemoteError{Code: m.Code}
		case OpDone:
			return int(m.Value), ferr
		case OpItem:
			n++
			if n > max || rel != ([RelLen]byte{}) && m.Rel != rel {
				return 0, ErrMalformed
			}
			if ferr == nil {
				ferr = fn(Item{Rel: m.Rel, ID: m.Item, Kind: m.Kind, Blob: m.Blob, Count: m.Count})
			}
		default:
			return 0, ErrMalformed
		}
	}
}

// Delete removes collected items; it returns how many the mailbox deleted.
func (c *Conn) Delete(rel [RelLen]byte, ids [][ItemLen]byte) (int, error) {
	total := 0
	for len(ids) > 0 {
		n := min(len(ids), MaxIDs)
		m, err := c.roundTrip(&Msg{Op: OpDelete, Rel: rel, IDs: ids[:n]}, OpOK)
		if err != nil {
			return total, err
		}
		total += int(m.Value)
		ids = ids[n:]
	}
	return total, nil
}

// Status returns what waits at the mailbox for the caller.
func (c *Conn) Status() (Counts, error) {
	m, err := c.roundTrip(&Msg{Op: OpStatus}, OpCounts)
	if err != nil {
		return Counts{}, err
	}
	return m.Counts, nil
}

// Unpair wipes the service (owner).
func (c *Conn) Unpair() error {
	_, err := c.roundTrip(&Msg{Op: OpUnpair}, OpOK)
	return err
}

// SetIntake sets the signed intake bundle strangers fetch (owner).
func (c *Conn) SetIntake(bundle []byte) error {
	_, err := c.roundTrip(&Msg{Op: OpSetIntake, Bundle: bundle}, OpOK)
	return err
}

// Watch asks the mailbox to notify this stream when something arrives for
// the caller; Wait then waits for it.
func (c *Conn) Watch() error {
	_, err := c.roundTrip(&Msg{Op: OpWatch}, OpOK)
	return err
}

// Wait blocks until the mailbox notifies the stream (after Watch), pinging
// it every PingEvery, or until ctx is done.
func (c *Conn) Wait(ctx context.Context) error {
	if c.notified {
		c.notified = false
		return nil
	}
	stop := context.AfterFunc(ctx, func() { c.nc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	pinged := false
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.nc.SetReadDeadline(time.Now().Add(PingEvery))
		var m *Msg
		var err error
		m, c.buf, err = ReadFrame(c.nc, c.buf)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				c.seq++
				if err := c.send(&Msg{Op: OpPing, Sequence: c.seq}); err != nil {
					return err
				}
				pinged = true
				continue
			}
			return err
		}
		switch m.Op {
		case OpNotify:
			return nil
		case OpPong:
			if m.Sequence != c.seq {
				return ErrMalformed
			}
			pinged = false
		default:
			return ErrMalformed
		}
	}
}

// Pair uses a pairing code: it asks the mailbox to create a service for the
// caller's identity, owned by ownerAuth (its client-auth public key) and
// the owner token tok lends. It returns the service's key and, if asked
// for and granted, the intake service's key. The same code and token again
// return the same service (a lost reply); a used or unknown code is
// ErrDenied.
func Pair(ctx context.Context, d Dialer, from string, code *PairingCode, ownerAuth [32]byte, tok KeyFunc, intake bool) (svc, intakeKey ed25519.PublicKey, err error) {
	addr := onionOf(code.Admin)
	if err := d.Authorize(ctx, addr, func(use func(*[32]byte) error) error { return use(&code.Auth) }); err != nil {
		return nil, nil, err
	}
	c, err := Dial(ctx, d, from, addr)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	req := &Msg{Op: OpPair, Secret: code.Secret, Auth: ownerAuth}
	if intake {
		req.Flags = 1
	}
	err = tok(func(t *[32]byte) error {
		req.Token = *t
		err := c.send(req)
		clear(req.Token[:])
		clear(req.Secret[:])
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	m, err := c.expect(OpPaired)
	if err != nil {
		return nil, nil, err
	}
	if m.Service == ([KeyLen]byte{}) || intake != (m.Intake != [KeyLen]byte{}) {
		return nil, nil, ErrMalformed
	}
	svc = ed25519.PublicKey(append([]byte(nil), m.Service[:]...))
	if intake {
		intakeKey = ed25519.PublicKey(append([]byte(nil), m.Intake[:]...))
	}
	return svc, intakeKey, nil
}

// IntakeKey fetches the signed intake bundle of an intake service.
func IntakeKey(ctx context.Context, d Dialer, from, onionAddr string) ([]byte, error) {
	c, err := Dial(ctx, d, from, onionAddr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	m, err := c.roundTrip(&Msg{Op: OpIntakeKey}, OpBundle)
	if err != nil {
		return nil, err
	}
	return m.Bundle, nil
}

// Intake leaves a sealed contact request at an intake service; the reply
// will be collected with the token whose hash is tokenHash.
func Intake(ctx context.Context, d Dialer, from, onionAddr string, tokenHash [KeyLen]byte, blob []byte) error {
	c, err := Dial(ctx, d, from, onionAddr)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.roundTrip(&Msg{Op: OpIntake, TokenHash: tokenHash, Blob: blob}, OpOK)
	return err
}
