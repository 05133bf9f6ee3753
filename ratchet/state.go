package ratchet

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/sottochat/sotto/internal/erase"
)

// ErrDecrypt is the one error of a message that does not decrypt: forged,
// corrupt, replayed (already decrypted once), too old (its key expired), or
// from an epoch this State no longer holds. The State is unchanged.
var ErrDecrypt = errors.New("ratchet: message failed to decrypt")

// ErrTooManySkipped is returned for an authentic header that would make the
// State skip more than MaxSkip message keys in a chain or hold more than
// MaxSkippedKeys in all. The State is unchanged.
var ErrTooManySkipped = errors.New("ratchet: too many skipped messages")

var errRandom = errors.New("ratchet: random source failed")

// errCorrupt is returned by Encrypt for a State that cannot be used to send
// (only reachable through a State unmarshalled from crafted bytes).
var errCorrupt = errors.New("ratchet: corrupt state")

// State is the double ratchet session between two identities: up to
// MaxEpochs epochs, one per completed handshake, newest first. Encrypt uses
// the newest epoch; Decrypt accepts a message from any epoch still held.
//
// A State is created by a Handshake and changed only by Encrypt, Decrypt and
// Expire, each of which either succeeds and commits or fails and leaves the
// State exactly as it was. The caller persists the State (MarshalBinary)
// after each successful call and before it shows a message or acknowledges
// it. A State is not safe for concurrent use.
//
// # Keeping a State at rest in locked memory
//
// A caller that must not keep keys in ordinary memory between messages
// keeps the State serialised in a buffer of its own (locked memory) and,
// for each message (or batch of messages), parses it, uses it and
// serialises it back: UnmarshalBinary(buf); Encrypt or Decrypt;
// AppendBinary(buf[:0]) when cap(buf) >= MarshalSize() (else a larger
// locked buffer); Wipe. Parsing and serialising do no cryptography (no
// point decoding, no key derivation): they copy the State's fields, about
// 1 µs for one epoch and 1.5 µs for four (BenchmarkMarshal), and parsing
// allocates two objects whatever the number of epochs (the epochs, each
// with room for its post-quantum buffers, and their pointers;
// TestUnmarshalAllocations). Everything the
// parsed State holds lives in memory allocated inside runtime/secret.Do and
// is wiped by Wipe. Keeping the parsed State between messages would save
// that microsecond at the price of keys in ordinary memory for the life of
// a session, which is the caller's choice to make, not this package's.
type State struct {
	local  [PublicKeySize]byte
	peer   [PublicKeySize]byte
	epochs []*epoch
}

// Local returns our Ed25519 identity.
func (s *State) Local() ed25519.PublicKey { return append(ed25519.PublicKey(nil), s.local[:]...) }

// Peer returns the peer's Ed25519 identity.
func (s *State) Peer() ed25519.PublicKey { return append(ed25519.PublicKey(nil), s.peer[:]...) }

// Clone returns a deep copy of s.
func (s *State) Clone() (c *State) {
	erase.Do(func() { c = s.clone() })
	return c
}

func (s *State) clone() *State {
	c := &State{local: s.local, peer: s.peer, epochs: make([]*epoch, len(s.epochs))}
	for i, e := range s.epochs {
		c.epochs[i] = e.clone()
	}
	return c
}

// Wipe zeroes every key in s and empties it. Go cannot guarantee that no
// other copy exists (the runtime may have copied memory); Wipe destroys the
// copies this package holds.
func (s *State) Wipe() {
	for _, e := range s.epochs {
		e.wipe()
	}
	s.epochs = nil
}

func (s *State) cloneOrNew(local, peer [PublicKeySize]byte) *State {
	if s == nil {
		return &State{local: local, peer: peer}
	}
	return s.clone()
}

// addEpoch adds e as the newest epoch and, past MaxEpochs, drops one: the
// oldest unconfirmed epoch other than e, or if every other epoch is
// confirmed the oldest one, but never the newest confirmed epoch (the
// newest one the peer is known to hold). A lost message 4 leaves the
// responder with an epoch the initiator never got; however many are lost,
// they cannot push out the epoch both sides hold, which the next handshake
// needs for continuity and which rollback detection is anchored on
// (docs/PROTOCOL.md, section 1.3).
func (s *State) addEpoch(e *epoch) {
	s.epochs = append([]*epoch{e}, s.epochs...)
	for len(s.epochs) > MaxEpochs {
		anchor := -1
		for i, x := range s.epochs {
			if x.confirmed {
				anchor = i
				break
			}
		}
		drop := -1
		for i := len(s.epochs) - 1; i > 0 && drop < 0; i-- {
			if i != anchor && !s.epochs[i].confirmed {
				drop = i
			}
		}
		for i := len(s.epochs) - 1; i > 0 && drop < 0; i-- {
			if i != anchor {
				drop = i
			}
		}
		s.epochs[drop].wipe()
		s.epochs = append(s.epochs[:drop], s.epochs[drop+1:]...)
	}
}

func (s *State) epochByID(id [epochIDSize]byte) *epoch {
	if s == nil {
		return nil
	}
	for _, e := range s.epochs {
		if e.id == id {
			return e
		}
	}
	return nil
}

func (s *State) skippedCount() int {
	n := 0
	for _, e := range s.epochs {
		n += e.skippedCount()
	}
	return n
}

// Adopt adds to s the epochs of from that are newer than every epoch both
// hold, keeping their order (the newest becomes s's sending epoch), and
// marks confirmed the epochs of s that from knows the peer holds. It lets a
// caller commit a handshake that started from an older copy of the State
// into the current one, without undoing what the current one did meanwhile
// (message keys used, chains advanced): st, _ := h.Finish(m4);
// current.Adopt(st). The two States must be between the same identities;
// from is not modified.
func (s *State) Adopt(from *State) (err error) {
	erase.Do(func() { err = s.adopt(from) })
	return err
}

func (s *State) adopt(from *State) error {
	if from == nil || from.local != s.local || from.peer != s.peer {
		return ErrStateMismatch
	}
	for _, e := range from.epochs {
		if x := s.epochByID(e.id); x != nil && e.confirmed {
			x.confirmed = true
		}
	}
	k := 0
	for k < len(from.epochs) && s.epochByID(from.epochs[k].id) == nil {
		k++
	}
	for i := k - 1; i >= 0; i-- {
		s.addEpoch(from.epochs[i].clone())
	}
	return nil
}

// String describes the State without any secret, so that printing one by
// mistake (a log line, %v) leaks nothing.
func (s *State) String() string {
	return fmt.Sprintf("ratchet.State{epochs: %d}", len(s.epochs))
}

// GoString is String, for %#v.
func (s *State) GoString() string { return s.String() }
