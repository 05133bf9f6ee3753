package onion

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/sottochat/sotto/onion/socks"
)

// Dial retry policy for transient failures: "descriptor not found" (SOCKS
// 0xF0, the contact has not published yet) and failed introductions or
// rendezvous (a stale descriptor after the contact's tor restarted).
//
// Written for the real Tor network's timings: a service has about 8
// responsible HSDirs, and after a failed fetch tor asks each of them at most
// once per 15 minutes; every new SOCKS request for a missing descriptor
// makes tor ask one more. So one Dial asks for the descriptor at most
// dialMaxDescMisses times (enough to cover a contact that publishes right
// now; on this test network tor re-asks an HSDir after seconds) and leaves
// HSDirs for later attempts: it returns ErrNoDescriptor (with
// ErrUnreachable) and the caller retries with its own, slower backoff (or
// at once when the contact connects to us). A caller with its own schedule
// for that case (the core's dialer, which must not hold one of its few dial
// slots while Dial sleeps between misses) sets DialOptions.NoDescRetry: the
// first miss returns at once.
const (
	dialRetryFirst    = 1 * time.Second
	dialRetryMax      = 4 * time.Second
	dialRetryWindow   = 15 * time.Second
	dialMaxAttempts   = 5
	dialMaxDescMisses = 3
	maxFromLen        = 256
	isolationLabel    = "sotto socks isolation v1"
	dialMaxStalls     = 2
)

// dialStallTimeout bounds one SOCKS request that tor leaves unanswered.
// When a contact's tor dies without its circuits being torn down at once
// (kill -9 here; a lost network in real life), relays keep its old circuits
// for a while: our tor may attach a new stream to the old rendezvous circuit
// it still holds as joined, or an old introduction point still ACKs our
// INTRODUCE1 and no RENDEZVOUS2 ever comes. Either way tor waits for its
// SocksTimeout (120 s), and a retry with the same credentials lands on the
// same circuits. Seen in onion's TestKillRestart (one run in six hung until
// its 90 s deadline; tor's info log shows both cases). Past this timeout Dial
// abandons the request, has tor fetch the descriptor again (HSFETCH: the
// contact's new introduction points) and retries with new isolation
// credentials for the pair, so that tor builds new circuits. A healthy first
// connection over the real network takes seconds; one slower than this is
// retried on new circuits, which costs little. A variable for tests.
var dialStallTimeout = 30 * time.Second

// Dial opens a stream to the onion service to (an onion address, with or
// without ".onion") on behalf of the local identity from. The stream goes
// through tor's SOCKS port with the host name (nothing is resolved here),
// with SOCKS credentials derived from (from, to) by a keyed hash, so tor
// isolates it on circuits no other (identity, contact) pair uses and no
// address appears in tor's memory as a credential. A request tor leaves
// unanswered for dialStallTimeout is retried on new circuits. ctx bounds the
// whole dial, retries included; the returned conn is not bound to ctx.
func (t *Tor) Dial(ctx context.Context, from, to string) (net.Conn, error) {
	return t.DialWith(ctx, from, to, DialOptions{})
}

// DialOptions changes how DialWith retries.
type DialOptions struct {
	// NoDescRetry: at tor's first "descriptor not found" return
	// ErrNoDescriptor at once, instead of asking again (up to
	// dialMaxDescMisses times, 1 s and 2 s apart) for a contact that may be
	// publishing right now. For a caller that schedules those retries
	// itself.
	NoDescRetry bool
}

// DialWith is Dial with options.
func (t *Tor) DialWith(ctx context.Context, from, to string, o DialOptions) (net.Conn, error) {
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil context", ErrBadConfig)
	}
	if from == "" || len(from) > maxFromLen {
		return nil, fmt.Errorf("%w: bad local identity for dialing", ErrBadConfig)
	}
	addr, err := normAddress(to)
	if err != nil {
		return nil, err
	}
	pair := from + "\x00" + addr
	t.mu.Lock()
	gen := t.isoGen[pair]
	t.mu.Unlock()
	user, pass := t.isolation(from, addr, gen)
	start := time.Now()
	backoff := dialRetryFirst
	refetched := false
	misses, stalls := 0, 0
	windowRefreshed := false
	// attempt counts the requests since start.
	attempt := 0
	// freshCircuits fetches the descriptor again (the contact's tor may have
	// published new introduction points) and moves the pair to new
	// credentials: new circuits, now and for later dials. The retry window
	// starts again (a stalled request's 30 s must not use up the window of
	// the transient errors that may follow on the new circuits).
	freshCircuits := func() {
		t.refetch(ctx, addr)
		t.mu.Lock()
		t.isoGen[pair]++
		gen = t.isoGen[pair]
		t.mu.Unlock()
		user, pass = t.isolation(from, addr, gen)
		start, backoff, attempt = time.Now(), dialRetryFirst, 0
	}
	for {
		if ctx.Err() != nil {
			if stalls > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				// Say what used the time up: tor took the requests and
				// never answered (a tor cut off from its network), which
				// is not a tor that cannot be reached.
				return nil, fmt.Errorf("%w: %s: tor did not answer %d requests before the time for the dial ran out", ErrUnreachable, Abbrev(addr), stalls)
			}
			return nil, t.dialError(ctx, addr, ctx.Err())
		}
		attempt++
		actx, acancel := context.WithTimeout(ctx, dialStallTimeout)
		c, err := t.dialOnce(actx, user, pass, addr)
		stalled := err != nil && ctx.Err() == nil && actx.Err() != nil
		acancel()
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				stalls++ // unanswered until the dial's own deadline
			}
			continue // the loop's head reports it
		}
		if stalled {
			if stalls++; stalls > dialMaxStalls {
				return nil, t.dialError(ctx, addr, fmt.Errorf("tor did not answer within %v, %d times", dialStallTimeout, stalls))
			}
			freshCircuits()
			continue
		}
		var re *socks.ReplyError
		if !errors.As(err, &re) {
			return nil, t.dialError(ctx, addr, err)
		}
		switch {
		case re.Code == socks.OnionMissingAuth || re.Code == socks.OnionWrongAuth:
			if refetched {
				return nil, t.dialError(ctx, addr, err)
			}
			// Our key may have been lost with a tor restart (register it
			// again), or the cached descriptor may predate the contact
			// adding us (fetch it again); then retry once.
			refetched = true
			t.mu.Lock()
			priv := t.clientAuth[addr]
			t.mu.Unlock()
			if g, err := t.current(); err == nil && priv != nil {
				_ = addClientAuth(ctx, g.c, addr, priv)
			}
			t.refetch(ctx, addr)
			continue
		case re.Code == socks.OnionDescNotFound && o.NoDescRetry, !transient(re.Code):
			return nil, t.dialError(ctx, addr, err)
		case time.Since(start)+backoff >= dialRetryWindow || attempt >= dialMaxAttempts:
			// Introductions or rendezvous kept failing for a whole window:
			// as after a stall, the circuits or the cached descriptor may
			// be stale (a contact's tor that died and came back). One more
			// window on fresh ones, once per Dial: a contact that is simply
			// offline costs one HSFETCH per Dial, not more.
			if re.Code == socks.OnionDescNotFound || windowRefreshed {
				return nil, t.dialError(ctx, addr, err)
			}
			windowRefreshed = true
			freshCircuits()
			continue
		case re.Code == socks.OnionDescNotFound:
			if misses++; misses >= dialMaxDescMisses {
				return nil, t.dialError(ctx, addr, err)
			}
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, t.dialError(ctx, addr, ctx.Err())
		}
		backoff = min(backoff*2, dialRetryMax)
	}
}

// transient reports whether a SOCKS error may go away by itself within
// seconds: a descriptor not uploaded yet, or a stale one whose introduction
// points are gone (tor fetches a new one when they fail).
func transient(code byte) bool {
	switch code {
	case socks.OnionDescNotFound, socks.OnionIntroFailed, socks.OnionRendFailed,
		socks.OnionIntroTimedOut, socks.HostUnreachable, socks.TTLExpired, socks.GeneralFailure:
		return true
	}
	return false
}

// isolation derives the SOCKS username and password for (from, to) and the
// pair's generation (0 until a dial moved the pair to new circuits; see
// dialStallTimeout).
func (t *Tor) isolation(from, to string, gen uint32) (user, pass []byte) {
	m := hmac.New(sha256.New, t.isoKey[:])
	m.Write([]byte(isolationLabel))
	m.Write([]byte{byte(len(from))})
	m.Write([]byte(from))
	m.Write([]byte(to))
	if gen != 0 {
		m.Write([]byte{byte(gen >> 24), byte(gen >> 16), byte(gen >> 8), byte(gen)})
	}
	sum := m.Sum(nil)
	h := hex.EncodeToString(sum)
	return []byte(h[:32]), []byte(h[32:])
}

func (t *Tor) dialOnce(ctx context.Context, user, pass []byte, addr string) (net.Conn, error) {
	g, err := t.current()
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, g.socksNet, g.socksAddr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err() // the time ran out, the port may be fine
		}
		return nil, fmt.Errorf("%w: cannot reach tor's SOCKS port: %v", ErrTorUnavailable, scrubNetErr(err))
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	err = socks.Connect(c, user, pass, addr+onionSuffix, VirtualPort)
	if !stop() {
		c.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// dialError maps a failure to the package's errors; only an abbreviation of
// the contact's address appears.
func (t *Tor) dialError(ctx context.Context, addr string, err error) error {
	who := Abbrev(addr)
	var re *socks.ReplyError
	switch {
	case errors.Is(err, ErrTorUnavailable), errors.Is(err, ErrClosed):
		return err
	case ctx.Err() != nil:
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, who, ctx.Err())
	case errors.As(err, &re):
		switch re.Code {
		case socks.OnionMissingAuth:
			return fmt.Errorf("%w (%s)", ErrNeedClientAuth, who)
		case socks.OnionWrongAuth:
			return fmt.Errorf("%w (%s)", ErrBadClientAuth, who)
		case socks.OnionInvalidAddress:
			return fmt.Errorf("%w: tor rejected the address", ErrBadAddress)
		case socks.NotAllowed:
			return fmt.Errorf("%w: tor refused the stream", ErrTorUnavailable)
		case socks.OnionDescNotFound:
			return fmt.Errorf("%w: %s: %w", ErrUnreachable, who, ErrNoDescriptor)
		}
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, who, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrUnreachable, who, scrubNetErr(err))
}

// refetchTimeout bounds the wait for a descriptor HSFETCH asked for.
const refetchTimeout = 15 * time.Second

// refetch asks tor to fetch addr's descriptor again (HSFETCH; tor picks an
// HSDir it has not asked recently) and reports whether one was received.
func (t *Tor) refetch(ctx context.Context, addr string) bool {
	g, err := t.current()
	if err != nil {
		return false
	}
	w := make(chan string, 8)
	t.mu.Lock()
	t.descWait[addr] = append(t.descWait[addr], w)
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		ws := t.descWait[addr]
		for i := range ws {
			if ws[i] == w {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(t.descWait, addr)
		} else {
			t.descWait[addr] = ws
		}
		t.mu.Unlock()
	}()
	if _, err := g.c.do(ctx, []byte(cmdHSFetch(addr))); err != nil {
		return false
	}
	timer := time.NewTimer(refetchTimeout)
	defer timer.Stop()
	select {
	case action := <-w:
		return action == "RECEIVED"
	case <-timer.C:
	case <-ctx.Done():
	case <-g.down:
	}
	return false
}
