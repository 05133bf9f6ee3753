package mailboxtest

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/sottochat/sotto/mailbox"
	"github.com/sottochat/sotto/onion"
)

// Unix is a network of onion services that are unix sockets in one
// directory, for tests that run a mailbox in another process (and kill it):
// a service's socket is named after its onion address, so a client in
// another process finds it. It stands in for tor's transport only: it does
// not enforce restricted discovery (Net does, in one process).
type Unix struct {
	Dir     string
	Timeout time.Duration // if set, a dialled stream's deadline
}

var (
	_ mailbox.Network = Unix{}
	_ mailbox.Dialer  = Unix{}
)

// path is the socket of addr (short: a unix socket path is at most 107
// bytes).
func (u Unix) path(addr string) string { return filepath.Join(u.Dir, addr[:16]+".s") }

// Publish implements mailbox.Network. A socket left by a killed process is
// replaced.
func (u Unix) Publish(ctx context.Context, key mailbox.KeyFunc, clientAuth [][32]byte, open bool) (mailbox.Service, error) {
	var addr string
	if err := key(func(seed *[32]byte) error {
		priv := ed25519.NewKeyFromSeed(seed[:])
		addr = onion.AddressFromPublicKey(priv.Public().(ed25519.PublicKey))
		clear(priv)
		return nil
	}); err != nil {
		return nil, err
	}
	p := u.path(addr)
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	l, err := net.Listen("unix", p)
	if err != nil {
		return nil, err
	}
	return unixService{l}, nil
}

type unixService struct{ net.Listener }

func (s unixService) SetClientAuth(context.Context, [][32]byte) error { return nil }

// Authorize implements mailbox.Dialer (nothing to register).
func (u Unix) Authorize(context.Context, string, mailbox.KeyFunc) error { return nil }

// Dial implements mailbox.Dialer.
func (u Unix) Dial(ctx context.Context, from, to string) (net.Conn, error) {
	if len(to) < 16 {
		return nil, ErrUnreachable
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", u.path(to))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	if u.Timeout > 0 {
		c.SetDeadline(time.Now().Add(u.Timeout))
	}
	return c, nil
}
