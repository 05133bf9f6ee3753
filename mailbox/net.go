package mailbox

import (
	"context"
	"crypto/ed25519"
	"net"

	"github.com/sottochat/sotto/onion"
)

// KeyFunc lends a 32-byte secret (an Ed25519 seed, or an x25519 private key)
// for the duration of use, as onion.KeyFunc does.
type KeyFunc = func(use func(seed *[32]byte) error) error

// Network is what the mailbox server needs from Tor: publishing onion
// services. [OnionNetwork] is the real one; tests pass in-memory ones.
type Network interface {
	// Publish puts an onion service online with restricted discovery for
	// clientAuth, or open (with tor's proof-of-work defence).
	Publish(ctx context.Context, key KeyFunc, clientAuth [][32]byte, open bool) (Service, error)
}

// Service is one published onion service.
type Service interface {
	Accept() (net.Conn, error)
	SetClientAuth(ctx context.Context, keys [][32]byte) error
	Close() error
}

// Dialer is what a mailbox client needs from Tor: authorising its
// client-auth key for a mailbox's onion and opening streams to it.
type Dialer interface {
	// Authorize registers our x25519 client-auth private key for onion
	// (never on disk).
	Authorize(ctx context.Context, onion string, priv KeyFunc) error
	// Dial opens a stream to onion, isolated by the label from (streams of
	// different labels never share a circuit).
	Dial(ctx context.Context, from, onion string) (net.Conn, error)
}

// OnionNetwork publishes services through a running onion.Tor.
type OnionNetwork struct{ Tor *onion.Tor }

// Publish implements Network.
func (n OnionNetwork) Publish(ctx context.Context, key KeyFunc, clientAuth [][32]byte, open bool) (Service, error) {
	s, err := n.Tor.Publish(ctx, onion.ServiceConfig{Key: key, ClientAuth: clientAuth, Open: open, PoW: open})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Authorize implements Dialer.
func (n OnionNetwork) Authorize(ctx context.Context, to string, priv KeyFunc) error {
	return n.Tor.AddClientAuth(ctx, to, priv)
}

// Dial implements Dialer.
func (n OnionNetwork) Dial(ctx context.Context, from, to string) (net.Conn, error) {
	return n.Tor.Dial(ctx, from, to)
}

// onionOf is the onion address of a service key.
func onionOf(pub ed25519.PublicKey) string { return onion.AddressFromPublicKey(pub) }

// OnionOf is the onion address of a mailbox service key.
func OnionOf(pub ed25519.PublicKey) string { return onionOf(pub) }
