// Package ratchettest provides helpers for tests of code built on package
// ratchet: identities and a complete in-memory handshake between two of
// them. It is for tests only.
package ratchettest

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/sottochat/sotto/ratchet"
)

// Identity is an Ed25519 identity as the onion layer holds it: the 32-byte
// seed and the public key.
type Identity struct {
	Seed   [32]byte
	Public ed25519.PublicKey
}

// NewIdentity returns a fresh random identity.
func NewIdentity(tb testing.TB) *Identity {
	tb.Helper()
	id := &Identity{}
	if _, err := rand.Read(id.Seed[:]); err != nil {
		tb.Fatal(err)
	}
	id.Public = ed25519.NewKeyFromSeed(id.Seed[:]).Public().(ed25519.PublicKey)
	return id
}

// Handshake runs a complete handshake in memory, initiator dialling
// responder, each with its prior State for the other (nil if none), and
// returns their new States. It fails tb on any error.
func Handshake(tb testing.TB, initiator, responder *Identity, priorI, priorR *ratchet.State) (si, sr *ratchet.State) {
	tb.Helper()
	hi, err := ratchet.NewInitiator(rand.Reader, responder.Public, priorI)
	if err != nil {
		tb.Fatal(err)
	}
	hr, err := ratchet.NewResponder(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	m1, err := hi.Hello()
	if err != nil {
		tb.Fatal(err)
	}
	m2, err := hr.Reply(m1, &responder.Seed)
	if err != nil {
		tb.Fatal(err)
	}
	m3, err := hi.Authenticate(m2, &initiator.Seed)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := hr.ReadAuth(m3); err != nil {
		tb.Fatal(err)
	}
	m4, sr, err := hr.Accept(priorR)
	if err != nil {
		tb.Fatal(err)
	}
	if si, err = hi.Finish(m4); err != nil {
		tb.Fatal(err)
	}
	return si, sr
}
