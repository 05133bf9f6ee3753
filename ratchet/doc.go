// Package ratchet implements Sotto's end-to-end cryptography: a handshake run
// at the start of every connection between two contacts, and the double
// ratchet that protects their messages. It is pure cryptography over bytes:
// no I/O, no clock and no randomness it did not receive from its caller.
//
// The wire format and key schedule are specified byte for byte in
// docs/PROTOCOL.md, Part 1, with known-answer vectors in ratchet/testdata.
// The ratchet follows the [Double Ratchet] specification with header
// encryption.
//
// # Handshake
//
// A [Handshake] is four messages over a fresh connection. The initiator knows
// the responder's identity (the Ed25519 key of its onion address); the
// responder learns the initiator's identity from message 3, encrypted, and
// the caller decides whether to accept it:
//
//	initiator                                  responder
//	h, _ := NewInitiator(rand, peer, prior)    h, _ := NewResponder(rand)
//	m1, _ := h.Hello()              ---m1-->   m2, _ := h.Reply(m1, seed)
//	m3, _ := h.Authenticate(m2, seed) <-m2--
//	                                ---m3-->   peer, _ := h.ReadAuth(m3)
//	                                           // known contact? open mode?
//	st, _ := h.Finish(m4)           <--m4---   m4, st, _ := h.Accept(prior)
//
// The key agreement is Noise-XK-shaped: X25519 between ephemeral keys and
// the X25519 forms of the two identity keys (es, ee, se), and an ephemeral
// MLKEM768-X25519 (X-Wing) encapsulation from crypto/hpke, all mixed into one
// chaining key with HKDF-SHA-256 and bound to a transcript hash of the
// version, the responder's identity and every value exchanged. Messages 2, 3
// and 4 carry AEAD tags under keys derived from that transcript, so each
// side explicitly confirms the other's keys. Any failure returns the single
// error [ErrHandshake].
//
// The handshake is deniable: no signature is made, and every value a side
// sends could have been computed by the other, so a transcript proves nothing
// to a third party. For a source talking to a journalist this matters more
// than the non-repudiation a signature would give.
//
// The identity seed (the 32-byte Ed25519 private key of the onion service)
// is passed only to the step that needs it ([Handshake.Reply],
// [Handshake.Authenticate]) and is not kept; the caller keeps it in locked
// memory and wipes what it passed.
//
// # Sessions and epochs
//
// The first handshake between two contacts creates their [State]. Every
// later handshake adds a new epoch: a fresh double ratchet whose root key
// mixes the handshake's fresh hybrid secret with the continuity secret of the
// newest earlier epoch that both sides still hold (the initiator lists its
// epochs in message 3, the responder names its choice in message 4, each
// with a proof, bound to the transcript, that it holds that secret, so that
// [Handshake.Continued] is key-confirmed on both sides). Because
// an epoch is created whole by a handshake and never changes the older ones,
// a connection that breaks with messages in flight cannot desynchronise the
// two sides: a message encrypted in any epoch the receiver holds decrypts,
// and the messages the caller re-encrypts on the next connection use the new
// epoch. A State keeps [MaxEpochs] epochs; when it drops one, it drops an
// epoch the peer is not known to hold before one it is, and never the newest
// epoch the peer is known to hold, so that lost handshake messages can
// neither break continuity nor raise a false rollback alarm.
//
// A handshake returns a copy of the State it was given with the new epoch
// added. A caller that kept using the State during the handshake (another
// connection still delivering) commits with [State.Adopt], which adds the
// new epoch to the current State instead of replacing it.
//
// # Double ratchet
//
// [State.Encrypt] and [State.Decrypt] implement the Double Ratchet with
// header encryption (KDF_RK: HKDF-SHA-256; KDF_CK: HMAC-SHA-256; bodies and
// headers sealed with XChaCha20-Poly1305, bodies under single-use message
// keys). Alongside the DH steps, rounds of ML-KEM-768 run inside the
// encrypted headers, one fixed-size chunk per message (the initiator's
// encapsulation key, then the responder's ciphertext), and each round's
// shared secret is mixed into the root key, so that a quantum-capable
// recorder who learns a state loses it again. Every header has the same
// size: a message is always len(plaintext) + [Overhead] bytes, and its
// size says nothing of the ratchet's schedule.
//
// Decrypt works on a copy and commits only after the message authenticates;
// on any failure it returns [ErrDecrypt] (or [ErrTooManySkipped] for an
// authentic header that skips too far) and the State is unchanged. A message
// decrypts at most once, and its key is destroyed. Skipped message keys are
// bounded ([MaxSkip], [MaxSkippedKeys]) and expire after [MaxSkippedAge],
// measured with the time the caller passes.
//
// A State restored from an old copy (rollback) is made harmless: every
// message is sealed with a fresh random 24-byte nonce, so re-using a chain
// never repeats a key and nonce; the peer rejects such messages without
// changing its State, and the next handshake starts a fresh epoch. It is
// also detected at the epoch level: a responder reports
// [Handshake.PeerRolledBack] when the initiator no longer holds an epoch it
// had used, and a side that lost all its epochs shows as
// [Handshake.Continued] false. Neither is ever raised between honest sides
// with intact states, whatever messages were lost. See docs/PROTOCOL.md,
// sections 1.3 and 1.6.
//
// Package [github.com/sottochat/sotto/ratchet/wire] holds the byte encodings
// of ratchet messages, and [github.com/sottochat/sotto/ratchet/ratchettest]
// helpers for tests.
//
// [Double Ratchet]: https://signal.org/docs/specifications/doubleratchet/
package ratchet
