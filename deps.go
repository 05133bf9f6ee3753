package sotto

import (
	"context"
	"crypto/ed25519"
	"net"
)

// The engine reaches its dependencies through these small interfaces, so
// that the delivery and protocol logic can be tested over in-memory pipes and
// so that no type of onion, ratchet or vault leaks into the engine's state.

// secretBox holds a secret in protected memory (vault.Secret); Open gives a
// read-only view for the duration of fn.
type secretBox interface {
	Open(fn func(b []byte) error) error
	Destroy()
}

// network is what the engine needs from Tor.
type network interface {
	// Publish puts an identity's onion service online. keys opens the
	// identity's 32-byte Ed25519 seed briefly.
	Publish(ctx context.Context, keys func(use func(seed *[32]byte) error) error, clientAuth [][32]byte, open bool) (service, error)
	// Authorize registers our x25519 client-auth private key for a
	// contact's onion service (never on disk).
	Authorize(ctx context.Context, to string, priv func(use func(priv *[32]byte) error) error) error
	// Deauthorize removes that registration.
	Deauthorize(ctx context.Context, to string) error
	// Dial opens a stream from one of our identities to a contact's onion,
	// isolated per (from, to).
	Dial(ctx context.Context, from, to string) (net.Conn, error)
}

// service is one identity's onion service.
type service interface {
	Accept() (net.Conn, error)
	SetClientAuth(ctx context.Context, keys [][32]byte) error
	Online() bool
	Close() error
}

// suite is the handshake and double ratchet (package ratchet).
type suite interface {
	// Initiate starts a handshake to peer. state is the serialized
	// conversation with peer from an earlier handshake, or nil.
	Initiate(self *localKeys, peer ed25519.PublicKey, state []byte) (handshake, error)
	// Respond starts the responder's side. Once the initiator's identity is
	// known, lookup returns the serialized conversation state with it (nil
	// if none) or an error to refuse it.
	Respond(self *localKeys, lookup func(peer ed25519.PublicKey) ([]byte, error)) (handshake, error)
	// Load restores a conversation from its serialized state.
	Load(state []byte) (conversation, error)
}

// localKeys is what a handshake needs of the local identity.
type localKeys struct {
	Pub  ed25519.PublicKey
	Seed func(use func(seed *[32]byte) error) error
}

// handshake runs one side of the per-connection handshake.
type handshake interface {
	// Next consumes the peer's latest handshake message (nil for the
	// initiator's first call) and returns the message to send (nil if none)
	// and whether the handshake is complete.
	Next(in []byte) (out []byte, done bool, err error)
	// Peer is the authenticated identity of the peer, once known.
	Peer() ed25519.PublicKey
	// Conversation returns the conversation the handshake established.
	Conversation() (conversation, error)
	Wipe()
}

// conversation is a double ratchet with one contact.
type conversation interface {
	Encrypt(plaintext, ad []byte) ([]byte, error)
	Decrypt(ciphertext, ad []byte) ([]byte, error)
	MarshalBinary() ([]byte, error)
	Wipe()
}
