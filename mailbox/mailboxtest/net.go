// Package mailboxtest provides an in-memory stand-in for Tor for tests of
// package mailbox and its users: onion services are channels of net.Pipe
// ends, and restricted discovery is enforced the way tor does it (a dialer
// must have registered a client-auth key that the service authorised).
package mailboxtest

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"sync"

	"golang.org/x/crypto/curve25519"

	"github.com/sottochat/sotto/mailbox"
	"github.com/sottochat/sotto/onion"
)

// Net is an in-memory network of onion services.
type Net struct {
	mu   sync.Mutex
	svcs map[string]*Service
}

// New returns an empty network.
func New() *Net { return &Net{svcs: map[string]*Service{}} }

// Errors of Dial.
var (
	ErrNeedAuth    = errors.New("mailboxtest: client authorization required")
	ErrUnreachable = errors.New("mailboxtest: unreachable")
)

// Service is a published service.
type Service struct {
	n    *Net
	Addr string
	open bool
	mu   sync.Mutex
	keys map[[32]byte]bool
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

var _ mailbox.Network = (*Net)(nil)

// Publish implements mailbox.Network.
func (n *Net) Publish(ctx context.Context, key mailbox.KeyFunc, clientAuth [][32]byte, open bool) (mailbox.Service, error) {
	var addr string
	if err := key(func(seed *[32]byte) error {
		priv := ed25519.NewKeyFromSeed(seed[:])
		addr = onion.AddressFromPublicKey(priv.Public().(ed25519.PublicKey))
		clear(priv)
		return nil
	}); err != nil {
		return nil, err
	}
	s := &Service{n: n, Addr: addr, open: open, ch: make(chan net.Conn), done: make(chan struct{}), keys: map[[32]byte]bool{}}
	for _, k := range clientAuth {
		s.keys[k] = true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if old := n.svcs[addr]; old != nil {
		return nil, errors.New("mailboxtest: already published")
	}
	n.svcs[addr] = s
	return s, nil
}

// Published reports whether addr is online.
func (n *Net) Published(addr string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.svcs[addr] != nil
}

// Accept implements mailbox.Service.
func (s *Service) Accept() (net.Conn, error) {
	select {
	case c := <-s.ch:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

// SetClientAuth implements mailbox.Service.
func (s *Service) SetClientAuth(ctx context.Context, keys [][32]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = map[[32]byte]bool{}
	for _, k := range keys {
		s.keys[k] = true
	}
	return nil
}

// Close implements mailbox.Service.
func (s *Service) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.n.mu.Lock()
		if s.n.svcs[s.Addr] == s {
			delete(s.n.svcs, s.Addr)
		}
		s.n.mu.Unlock()
	})
	return nil
}

// Dialer is one client's tor: its own client-auth registrations.
type Dialer struct {
	n    *Net
	mu   sync.Mutex
	auth map[string][32]byte
}

// Dialer returns a new client of the network.
func (n *Net) Dialer() *Dialer { return &Dialer{n: n, auth: map[string][32]byte{}} }

var _ mailbox.Dialer = (*Dialer)(nil)

// Authorize implements mailbox.Dialer.
func (d *Dialer) Authorize(ctx context.Context, to string, priv mailbox.KeyFunc) error {
	return priv(func(p *[32]byte) error {
		pub, err := curve25519.X25519(p[:], curve25519.Basepoint)
		if err != nil {
			return err
		}
		d.mu.Lock()
		d.auth[to] = [32]byte(pub)
		d.mu.Unlock()
		return nil
	})
}

// Dial implements mailbox.Dialer.
func (d *Dialer) Dial(ctx context.Context, from, to string) (net.Conn, error) {
	d.n.mu.Lock()
	s := d.n.svcs[to]
	d.n.mu.Unlock()
	if s == nil {
		return nil, ErrUnreachable
	}
	if !s.open {
		d.mu.Lock()
		k, ok := d.auth[to]
		d.mu.Unlock()
		s.mu.Lock()
		allowed := ok && s.keys[k]
		s.mu.Unlock()
		if !allowed {
			return nil, ErrNeedAuth
		}
	}
	return s.connect(ctx)
}

// DialRaw connects without a client-auth check (an attacker that somehow
// has the descriptor).
func (n *Net) DialRaw(ctx context.Context, to string) (net.Conn, error) {
	n.mu.Lock()
	s := n.svcs[to]
	n.mu.Unlock()
	if s == nil {
		return nil, ErrUnreachable
	}
	return s.connect(ctx)
}

func (s *Service) connect(ctx context.Context) (net.Conn, error) {
	a, b := net.Pipe()
	select {
	case s.ch <- b:
		return a, nil
	case <-s.done:
		return nil, ErrUnreachable
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
