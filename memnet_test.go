package sotto

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/sottochat/sotto/onion"
)

// memNet is an in-memory stand-in for the Tor network: onion services are
// channels of net.Pipe ends, and restricted discovery is enforced the way tor
// does it (a dialer must have registered a client-auth key the service
// authorised).
type memNet struct {
	mu   sync.Mutex
	svcs map[string]*memService
	tap  func(to string, conn net.Conn, sent []byte) // records what dialers write, if set
}

func newMemNet() *memNet { return &memNet{svcs: map[string]*memService{}} }

var errNeedAuth = errors.New("memnet: client authorization required")
var errUnreachable = errors.New("memnet: unreachable")

// errNoDescriptor is what tor says of a service that is not published.
var errNoDescriptor = fmt.Errorf("%w: %w: %w", errUnreachable, onion.ErrUnreachable, onion.ErrNoDescriptor)

type memTor struct {
	n     *memNet
	mu    sync.Mutex
	auth  map[string][32]byte // onion -> our client-auth public key registered for it
	onion map[string]bool     // our own services
	// stall, if set, makes Dial to an address it returns true for hang
	// until the dial's context ends, as tor does while it tries a stale
	// descriptor's introduction points.
	stall func(to string) bool
	// dialed, if set, is called as a Dial starts; the func it returns, if
	// not nil, as it ends.
	dialed func(to string) func()
}

func (n *memNet) tor() *memTor {
	return &memTor{n: n, auth: map[string][32]byte{}, onion: map[string]bool{}}
}

type memService struct {
	n    *memNet
	addr string
	open bool
	mu   sync.Mutex
	keys map[[32]byte]bool
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (t *memTor) Publish(ctx context.Context, keys func(use func(seed *[32]byte) error) error, clientAuth [][32]byte, open bool) (service, error) {
	var addr string
	err := keys(func(seed *[32]byte) error {
		addr = onionFromSeed(seed[:])
		return nil
	})
	if err != nil {
		return nil, err
	}
	s := &memService{n: t.n, addr: addr, open: open, ch: make(chan net.Conn), done: make(chan struct{}), keys: map[[32]byte]bool{}}
	for _, k := range clientAuth {
		s.keys[k] = true
	}
	t.n.mu.Lock()
	t.n.svcs[addr] = s
	t.n.mu.Unlock()
	return s, nil
}

func (t *memTor) Authorize(ctx context.Context, to string, priv func(use func(priv *[32]byte) error) error) error {
	return priv(func(p *[32]byte) error {
		k, err := clientAuthPublic(p[:])
		if err != nil {
			return err
		}
		t.mu.Lock()
		t.auth[to] = k
		t.mu.Unlock()
		return nil
	})
}

func (t *memTor) Deauthorize(ctx context.Context, to string) error {
	t.mu.Lock()
	delete(t.auth, to)
	t.mu.Unlock()
	return nil
}

func (t *memTor) Dial(ctx context.Context, from, to string) (net.Conn, error) {
	t.mu.Lock()
	stall, dialed := t.stall, t.dialed
	t.mu.Unlock()
	if dialed != nil {
		if done := dialed(to); done != nil {
			defer done()
		}
	}
	if stall != nil && stall(to) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	t.n.mu.Lock()
	s := t.n.svcs[to]
	t.n.mu.Unlock()
	if s == nil {
		return nil, errNoDescriptor
	}
	if !s.open {
		t.mu.Lock()
		k, ok := t.auth[to]
		t.mu.Unlock()
		s.mu.Lock()
		allowed := ok && s.keys[k]
		s.mu.Unlock()
		if !allowed {
			return nil, errNeedAuth
		}
	}
	a, b := net.Pipe()
	t.n.mu.Lock()
	tap := t.n.tap
	t.n.mu.Unlock()
	var conn net.Conn = a
	if tap != nil {
		tc := &tapConn{Conn: a}
		tc.f = func(p []byte) { tap(to, tc, p) }
		conn = tc
	}
	select {
	case s.ch <- b:
		return conn, nil
	case <-s.done:
		return nil, errUnreachable
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dialRaw connects without any client authorization check (a malicious
// client that somehow has the address and the descriptor).
func (n *memNet) dialRaw(to string) (net.Conn, error) {
	n.mu.Lock()
	s := n.svcs[to]
	n.mu.Unlock()
	if s == nil {
		return nil, errUnreachable
	}
	a, b := net.Pipe()
	select {
	case s.ch <- b:
		return a, nil
	case <-s.done:
		return nil, errUnreachable
	}
}

func (s *memService) Accept() (net.Conn, error) {
	select {
	case c := <-s.ch:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

func (s *memService) SetClientAuth(ctx context.Context, keys [][32]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = map[[32]byte]bool{}
	for _, k := range keys {
		s.keys[k] = true
	}
	return nil
}

func (s *memService) Online() bool { return true }

func (s *memService) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.n.mu.Lock()
		if s.n.svcs[s.addr] == s {
			delete(s.n.svcs, s.addr)
		}
		s.n.mu.Unlock()
	})
	return nil
}

type tapConn struct {
	net.Conn
	f func([]byte)
}

func (c *tapConn) Write(p []byte) (int, error) {
	c.f(append([]byte(nil), p...))
	return c.Conn.Write(p)
}
