package ratchet

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/subtle"
	"errors"
	"io"

	"github.com/sottochat/sotto/internal/erase"
	"golang.org/x/crypto/cryptobyte"
)

// ErrHandshake is the one error of a handshake that failed to authenticate:
// a wrong or unknown identity, a replayed, reflected, truncated or tampered
// message, a transcript mismatch. It deliberately says no more.
var ErrHandshake = errors.New("ratchet: handshake failed")

// ErrStateMismatch is returned when the State passed to a handshake belongs to
// another pair of identities.
var ErrStateMismatch = errors.New("ratchet: state belongs to another contact")

// errHandshakeOrder is returned for a step called out of order.
var errHandshakeOrder = errors.New("ratchet: handshake step out of order")

// Sizes of the four handshake messages (all fixed).
const (
	// Msg1Size: version(1) || e_I(32) || xwing_pk_I(1216) || tag(16).
	Msg1Size = 1 + PublicKeySize + xwingPublicKeySize + tagSize
	// Msg2Size: e_R(32) || xwing_enc(1120) || tag(16).
	Msg2Size = PublicKeySize + xwingCiphertextSize + tagSize
	// Msg3Size: enc(s_I)(32+16) || enc(payload3)(1+4*(16+16) + 16).
	Msg3Size = PublicKeySize + tagSize + payload3Size + tagSize
	// Msg4Size: enc(payload4)(16+32+16 + 16).
	Msg4Size = payload4Size + tagSize

	payload3Size = 1 + MaxEpochs*(epochIDSize+proofSize)
	payload4Size = epochIDSize + PublicKeySize + proofSize
)

// HandshakeState is the step a Handshake is at.
//
//	initiator:                                 responder:
//	InitiatorStart                             ResponderStart
//	  | Hello() -> msg1 ----------------------->  | Reply(msg1, seed) -> msg2
//	InitiatorSentHello                         ResponderSentReply
//	  | Authenticate(msg2, seed) -> msg3 <------  |
//	InitiatorSentAuth ------------------------->  | ReadAuth(msg3) -> peer identity
//	  |                                        ResponderPeerKnown (caller decides)
//	  | Finish(msg4) -> *State <--------------->  | Accept(prior) -> msg4, *State
//	Done                                       Done
//
// Any error moves the handshake to Failed, which is final; its secrets are
// wiped.
type HandshakeState uint8

const (
	InitiatorStart HandshakeState = iota
	InitiatorSentHello
	InitiatorSentAuth
	ResponderStart
	ResponderSentReply
	ResponderPeerKnown
	Done
	Failed
)

func (s HandshakeState) String() string {
	switch s {
	case InitiatorStart:
		return "InitiatorStart"
	case InitiatorSentHello:
		return "InitiatorSentHello"
	case InitiatorSentAuth:
		return "InitiatorSentAuth"
	case ResponderStart:
		return "ResponderStart"
	case ResponderSentReply:
		return "ResponderSentReply"
	case ResponderPeerKnown:
		return "ResponderPeerKnown"
	case Done:
		return "Done"
	case Failed:
		return "Failed"
	}
	return "HandshakeState(?)"
}

// Handshake is one run of the Sotto handshake (docs/PROTOCOL.md, Part 1): a
// Noise-XK-shaped exchange of four messages between an initiator, who knows
// the responder's identity, and a responder, who learns and authenticates the
// initiator's identity from message 3. Its key agreement mixes X25519 (es,
// ee, se) and an ephemeral MLKEM768-X25519 (X-Wing) encapsulation from
// crypto/hpke. Key continuity with earlier epochs is proven, not claimed:
// each side proves it holds the continuity secret of the epochs it names.
// A Handshake is not safe for concurrent use.
type Handshake struct {
	state HandshakeState
	rand  io.Reader
	sym   symmetric

	local [PublicKeySize]byte // our Ed25519 identity
	peer  [PublicKeySize]byte // the peer's Ed25519 identity (responder: known after ReadAuth)
	peerX [KeySize]byte       // initiator: the X25519 form of peer

	e      keyPair         // our ephemeral X25519 key
	re     [KeySize]byte   // the peer's ephemeral X25519 public key
	xwing  hpke.PrivateKey // initiator: ephemeral X-Wing key until message 2
	prior  *State          // initiator: the state passed to NewInitiator
	offers []offer         // the epochs listed in message 3
	h3     [32]byte        // responder: the transcript hash the initiator's proofs are bound to

	continued      bool
	peerRolledBack bool
}

// offer is an epoch the initiator names in message 3, with its proof that it
// holds the epoch's continuity secret.
type offer struct {
	id    [epochIDSize]byte
	proof [proofSize]byte
}

// NewInitiator starts a handshake to the identity peer (an Ed25519 public
// key: the contact's onion address). prior is the State shared with this
// contact, or nil if there is none yet (the first handshake seeds one).
// rand is used for every key the handshake generates.
func NewInitiator(rand io.Reader, peer ed25519.PublicKey, prior *State) (*Handshake, error) {
	if rand == nil {
		return nil, errors.New("ratchet: nil random source")
	}
	peerX, err := identityX25519(peer)
	if err != nil {
		return nil, err
	}
	h := &Handshake{state: InitiatorStart, rand: rand, peerX: peerX}
	copy(h.peer[:], peer)
	if prior != nil {
		if prior.peer != h.peer {
			return nil, ErrStateMismatch
		}
		h.prior = prior
	}
	return h, nil
}

// NewResponder starts the responder side of a handshake on an inbound
// connection. rand is used for every key the handshake generates.
func NewResponder(rand io.Reader) (*Handshake, error) {
	if rand == nil {
		return nil, errors.New("ratchet: nil random source")
	}
	return &Handshake{state: ResponderStart, rand: rand}, nil
}

// State returns the step the handshake is at.
func (h *Handshake) State() HandshakeState { return h.state }

// Peer returns the peer's identity: known from the start for the initiator,
// after ReadAuth for the responder; nil before.
func (h *Handshake) Peer() ed25519.PublicKey {
	if h.state == ResponderStart || h.state == ResponderSentReply || h.state == Failed {
		return nil
	}
	return append(ed25519.PublicKey(nil), h.peer[:]...)
}

// PeerRolledBack reports, once Done, on the responder, whether the initiator
// failed to prove that it holds the newest epoch it is known to hold (it
// proved so before: in an earlier message 3, by a message sent in it, or by
// receiving message 4 for it): its state was restored from an old copy or
// lost, or it is not the initiator at all but someone who holds its stolen
// identity key. The handshake still succeeds (the new epoch is fresh); the
// caller should warn. It is never true for an honest peer with intact
// state, whatever messages were lost (docs/PROTOCOL.md, section 1.6).
func (h *Handshake) PeerRolledBack() bool { return h.state == Done && h.peerRolledBack }

// Continued reports, once Done, whether the new epoch was chained to an
// earlier epoch both sides hold (key continuity), each side having proven
// it holds that epoch's continuity secret. False on the first handshake
// between two contacts, and when one side lost its state (restored from an
// old copy, a new device) or the peer is someone holding its stolen
// identity key but not its state: the caller may warn.
func (h *Handshake) Continued() bool { return h.state == Done && h.continued }

func (h *Handshake) fail(err error) error {
	h.Clear()
	h.state = Failed
	return err
}

// Clear wipes the handshake's secrets. A finished or failed handshake has
// already cleared itself.
func (h *Handshake) Clear() {
	h.sym.clear()
	h.e.wipe()
	h.re = [KeySize]byte{}
	h.xwing = nil
	h.prior = nil
	h.offers = nil
	h.h3 = [32]byte{}
}

// prologue initialises the transcript with the version and the responder's
// identity, which the initiator knows in advance.
func (h *Handshake) prologue(responder []byte) {
	h.sym.init()
	h.sym.mixHash([]byte{Version})
	h.sym.mixHash(responder)
}

func (h *Handshake) newEphemeral() (keyPair, error) {
	var b [KeySize]byte
	defer wipe(b[:])
	if err := readSecret(h.rand, b[:]); err != nil {
		return keyPair{}, err
	}
	return newKeyPair(&b), nil
}

// mixDH mixes X25519(priv, pub) into the chaining key; a zero result (a
// small-order point from the peer) fails the handshake.
func (h *Handshake) mixDH(priv, pub *[KeySize]byte) bool {
	var dh [KeySize]byte
	defer wipe(dh[:])
	if !x25519(&dh, priv, pub) {
		return false
	}
	h.sym.mixKey(dh[:])
	return true
}

// Hello writes message 1: version || e_I || xwing_pk_I || tag.
// Transcript: MixHash(e_I), MixHash(xwing_pk_I), MixKey(DH(e_I, S_R)),
// EncryptAndHash("").
func (h *Handshake) Hello() (msg []byte, err error) {
	erase.Do(func() { msg, err = h.hello() })
	return msg, err
}

func (h *Handshake) hello() ([]byte, error) {
	if h.state != InitiatorStart || h.rand == nil {
		return nil, errHandshakeOrder // also a zero Handshake: use NewInitiator
	}
	h.prologue(h.peer[:])
	var err error
	if h.e, err = h.newEphemeral(); err != nil {
		return nil, h.fail(err)
	}
	var seed [xwingSeedSize]byte
	defer wipe(seed[:])
	if err := readSecret(h.rand, seed[:]); err != nil {
		return nil, h.fail(err)
	}
	if h.xwing, err = newXWingKey(&seed); err != nil {
		return nil, h.fail(err)
	}
	xpub := h.xwing.PublicKey().Bytes()
	h.sym.mixHash(h.e.pub[:])
	h.sym.mixHash(xpub)
	if !h.mixDH(&h.e.priv, &h.peerX) {
		return nil, h.fail(ErrHandshake)
	}
	msg := make([]byte, 0, Msg1Size)
	msg = append(msg, Version)
	msg = append(msg, h.e.pub[:]...)
	msg = append(msg, xpub...)
	msg = append(msg, h.sym.encryptAndHash(nil)...)
	h.state = InitiatorSentHello
	return msg, nil
}

// Reply reads message 1 as the identity whose Ed25519 seed is given (read
// during the call only; the caller wipes its copy) and writes message 2:
// e_R || xwing_enc || tag. Transcript after message 1: MixHash(e_R),
// MixKey(DH(e_R, e_I)), MixHash(xwing_enc), MixKey(xwing_secret),
// EncryptAndHash("").
func (h *Handshake) Reply(msg1 []byte, seed *[32]byte) (msg []byte, err error) {
	erase.Do(func() { msg, err = h.reply(msg1, seed) })
	return msg, err
}

func (h *Handshake) reply(msg1 []byte, seed *[32]byte) ([]byte, error) {
	if h.state != ResponderStart {
		return nil, errHandshakeOrder
	}
	if len(msg1) != Msg1Size || msg1[0] != Version {
		return nil, h.fail(ErrHandshake)
	}
	pub, sR, err := identityKeys(seed)
	defer wipe(sR[:])
	if err != nil {
		return nil, h.fail(err)
	}
	h.local = pub
	h.prologue(h.local[:])

	s := cryptobyte.String(msg1[1:])
	var epub, xpub, tag []byte
	s.ReadBytes(&epub, PublicKeySize)
	s.ReadBytes(&xpub, xwingPublicKeySize)
	s.ReadBytes(&tag, tagSize)
	copy(h.re[:], epub)
	xw, err := hpke.MLKEM768X25519().NewPublicKey(xpub)
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	h.sym.mixHash(epub)
	h.sym.mixHash(xpub)
	if !h.mixDH(&sR, &h.re) {
		return nil, h.fail(ErrHandshake)
	}
	if _, err := h.sym.decryptAndHash(tag); err != nil {
		return nil, h.fail(ErrHandshake)
	}

	if h.e, err = h.newEphemeral(); err != nil {
		return nil, h.fail(err)
	}
	h.sym.mixHash(h.e.pub[:])
	if !h.mixDH(&h.e.priv, &h.re) {
		return nil, h.fail(ErrHandshake)
	}
	enc, sender, err := hpke.NewSender(xw, hpke.HKDFSHA256(), hpke.ExportOnly(), []byte(labelXWingInfo))
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	pq, err := sender.Export(labelXWingExport, KeySize)
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	h.sym.mixHash(enc)
	h.sym.mixKey(pq)
	wipe(pq)
	msg := make([]byte, 0, Msg2Size)
	msg = append(msg, h.e.pub[:]...)
	msg = append(msg, enc...)
	msg = append(msg, h.sym.encryptAndHash(nil)...)
	h.state = ResponderSentReply
	return msg, nil
}

// Authenticate reads message 2, which proves the responder holds its identity
// key, and writes message 3 as the identity whose Ed25519 seed is given (read
// during the call only; the caller wipes its copy): EncryptAndHash(s_I),
// MixKey(DH(S_I, e_R)), EncryptAndHash(payload3), where payload3 lists the
// epochs of the prior State, newest first, each with the proof that we hold
// its continuity secret.
func (h *Handshake) Authenticate(msg2 []byte, seed *[32]byte) (msg []byte, err error) {
	erase.Do(func() { msg, err = h.authenticate(msg2, seed) })
	return msg, err
}

func (h *Handshake) authenticate(msg2 []byte, seed *[32]byte) ([]byte, error) {
	if h.state != InitiatorSentHello {
		return nil, errHandshakeOrder
	}
	if len(msg2) != Msg2Size {
		return nil, h.fail(ErrHandshake)
	}
	s := cryptobyte.String(msg2)
	var repub, enc, tag []byte
	s.ReadBytes(&repub, PublicKeySize)
	s.ReadBytes(&enc, xwingCiphertextSize)
	s.ReadBytes(&tag, tagSize)
	copy(h.re[:], repub)
	h.sym.mixHash(repub)
	if !h.mixDH(&h.e.priv, &h.re) {
		return nil, h.fail(ErrHandshake)
	}
	rcpt, err := hpke.NewRecipient(enc, h.xwing, hpke.HKDFSHA256(), hpke.ExportOnly(), []byte(labelXWingInfo))
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	pq, err := rcpt.Export(labelXWingExport, KeySize)
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	h.xwing = nil
	h.sym.mixHash(enc)
	h.sym.mixKey(pq)
	wipe(pq)
	if _, err := h.sym.decryptAndHash(tag); err != nil {
		return nil, h.fail(ErrHandshake)
	}

	pub, sI, err := identityKeys(seed)
	defer wipe(sI[:])
	if err != nil {
		return nil, h.fail(err)
	}
	if subtle.ConstantTimeCompare(pub[:], h.peer[:]) == 1 {
		return nil, h.fail(ErrHandshake) // talking to ourselves: refuse
	}
	if h.prior != nil && h.prior.local != pub {
		return nil, h.fail(ErrStateMismatch)
	}
	h.local = pub
	msg := make([]byte, 0, Msg3Size)
	msg = append(msg, h.sym.encryptAndHash(pub[:])...)
	if !h.mixDH(&sI, &h.re) {
		return nil, h.fail(ErrHandshake)
	}

	var payload [payload3Size]byte
	if h.prior != nil {
		payload[0] = byte(len(h.prior.epochs))
		at := 1
		for _, e := range h.prior.epochs {
			o := offer{id: e.id, proof: continuityProof(&e.resume, labelProofInitiator, &h.sym.h)}
			at += copy(payload[at:], o.id[:])
			at += copy(payload[at:], o.proof[:])
			h.offers = append(h.offers, o)
		}
	}
	msg = append(msg, h.sym.encryptAndHash(payload[:])...)
	wipe(payload[:])
	h.state = InitiatorSentAuth
	return msg, nil
}

// ReadAuth reads message 3, authenticates the initiator and returns its
// identity. The caller decides whether to accept it (a known contact, or a
// contact request in open mode) and then calls Accept, or drops the
// connection.
func (h *Handshake) ReadAuth(msg3 []byte) (peer ed25519.PublicKey, err error) {
	erase.Do(func() { peer, err = h.readAuth(msg3) })
	return peer, err
}

func (h *Handshake) readAuth(msg3 []byte) (ed25519.PublicKey, error) {
	if h.state != ResponderSentReply {
		return nil, errHandshakeOrder
	}
	if len(msg3) != Msg3Size {
		return nil, h.fail(ErrHandshake)
	}
	encS := msg3[:PublicKeySize+tagSize]
	encP := msg3[PublicKeySize+tagSize:]
	sIpub, err := h.sym.decryptAndHash(encS)
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	if subtle.ConstantTimeCompare(sIpub, h.local[:]) == 1 {
		return nil, h.fail(ErrHandshake) // reflection of our own identity
	}
	sI, err := identityX25519(sIpub)
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	if !h.mixDH(&h.e.priv, &sI) {
		return nil, h.fail(ErrHandshake)
	}
	h.h3 = h.sym.h
	payload, err := h.sym.decryptAndHash(encP)
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	n := int(payload[0])
	if n > MaxEpochs {
		return nil, h.fail(ErrHandshake)
	}
	end := 1 + n*(epochIDSize+proofSize)
	for _, b := range payload[end:] {
		if b != 0 {
			return nil, h.fail(ErrHandshake)
		}
	}
	h.offers = make([]offer, n)
	for i := range h.offers {
		at := 1 + i*(epochIDSize+proofSize)
		copy(h.offers[i].id[:], payload[at:])
		copy(h.offers[i].proof[:], payload[at+epochIDSize:])
		for _, o := range h.offers[:i] {
			if o.id == h.offers[i].id {
				return nil, h.fail(ErrHandshake) // an honest initiator lists each epoch once
			}
		}
	}
	wipe(payload)
	copy(h.peer[:], sIpub)
	h.state = ResponderPeerKnown
	return append(ed25519.PublicKey(nil), sIpub...), nil
}

// Accept accepts the authenticated initiator, writes message 4 (explicit key
// confirmation, the epoch chosen for key continuity with our proof that we
// hold its secret, and the responder's first ratchet public key) and
// returns the new State: prior (the State shared with this contact, or nil
// for a new contact) with a new epoch added. prior is not modified; the
// caller stores the returned State in its place.
//
// The initiator's list is checked against prior: an epoch counts as held by
// the initiator only if prior holds it too and the initiator's proof for it
// verifies. Key continuity uses the first such epoch in the initiator's
// list; every such epoch is now known to be held by the initiator
// (confirmed); and if the newest epoch prior had confirmed is not among
// them, PeerRolledBack reports it.
func (h *Handshake) Accept(prior *State) (msg []byte, st *State, err error) {
	erase.Do(func() { msg, st, err = h.accept(prior) })
	return msg, st, err
}

func (h *Handshake) accept(prior *State) ([]byte, *State, error) {
	if h.state != ResponderPeerKnown {
		return nil, nil, errHandshakeOrder
	}
	if prior != nil && (prior.peer != h.peer || prior.local != h.local) {
		return nil, nil, h.fail(ErrStateMismatch)
	}
	st := prior.cloneOrNew(h.local, h.peer)
	var anchor *epoch // our newest epoch known to be held by the initiator
	for _, e := range st.epochs {
		if e.confirmed {
			anchor = e
			break
		}
	}
	var chosen *epoch
	rolledBack := anchor != nil
	for _, o := range h.offers {
		e := st.epochByID(o.id)
		if e == nil {
			continue
		}
		p := continuityProof(&e.resume, labelProofInitiator, &h.h3)
		if subtle.ConstantTimeCompare(p[:], o.proof[:]) != 1 {
			continue // not proven: as if not listed
		}
		e.confirmed = true
		if chosen == nil {
			chosen = e
		}
		if e == anchor {
			rolledBack = false
		}
	}
	ratchetKey, err := h.newEphemeral()
	if err != nil {
		st.Wipe()
		return nil, nil, h.fail(err)
	}
	var payload [payload4Size]byte
	if chosen != nil {
		copy(payload[:], chosen.id[:])
		p := continuityProof(&chosen.resume, labelProofResponder, &h.sym.h)
		copy(payload[epochIDSize+PublicKeySize:], p[:])
	}
	copy(payload[epochIDSize:], ratchetKey.pub[:])
	msg := h.sym.encryptAndHash(payload[:])
	wipe(payload[:])

	keys := h.epochKeys(chosen)
	ep := newResponderEpoch(&keys, &ratchetKey)
	keys.clear()
	ratchetKey.wipe()
	st.addEpoch(ep)
	h.continued = chosen != nil
	h.peerRolledBack = rolledBack
	h.Clear()
	h.state = Done
	return msg, st, nil
}

// Finish reads message 4, which confirms the responder derived the same keys
// and, if it chose an epoch for continuity, proves it holds that epoch's
// secret, and returns the new State: the prior State passed to NewInitiator
// (not modified) with a new epoch added.
func (h *Handshake) Finish(msg4 []byte) (st *State, err error) {
	erase.Do(func() { st, err = h.finish(msg4) })
	return st, err
}

func (h *Handshake) finish(msg4 []byte) (*State, error) {
	if h.state != InitiatorSentAuth {
		return nil, errHandshakeOrder
	}
	if len(msg4) != Msg4Size {
		return nil, h.fail(ErrHandshake)
	}
	h4 := h.sym.h
	payload, err := h.sym.decryptAndHash(msg4)
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	defer wipe(payload)
	var id [epochIDSize]byte
	copy(id[:], payload[:epochIDSize])
	proof := payload[epochIDSize+PublicKeySize:]
	st := h.prior.cloneOrNew(h.local, h.peer)
	var chosen *epoch
	if id != ([epochIDSize]byte{}) {
		for _, o := range h.offers {
			if o.id == id {
				chosen = st.epochByID(id)
			}
		}
		if chosen == nil {
			st.Wipe()
			return nil, h.fail(ErrHandshake) // not an epoch we offered
		}
		p := continuityProof(&chosen.resume, labelProofResponder, &h4)
		if subtle.ConstantTimeCompare(p[:], proof) != 1 {
			st.Wipe()
			return nil, h.fail(ErrHandshake) // the responder does not hold it
		}
		chosen.confirmed = true
	} else {
		var zero [proofSize]byte
		if subtle.ConstantTimeCompare(proof, zero[:]) != 1 {
			st.Wipe()
			return nil, h.fail(ErrHandshake)
		}
	}
	var rk [KeySize]byte
	copy(rk[:], payload[epochIDSize:])
	keys := h.epochKeys(chosen)
	ep := newInitiatorEpoch(&keys, &rk)
	keys.clear()
	st.addEpoch(ep)
	h.continued = chosen != nil
	h.Clear()
	h.state = Done
	return st, nil
}

// epochKeys is the output of the handshake that seeds a ratchet epoch.
type epochKeys struct {
	rk, ckB0, hkA, hkB0, nhkB, resume [KeySize]byte
	id                                [epochIDSize]byte
}

func (k *epochKeys) clear() { *k = epochKeys{} }

// epochKeys derives the epoch's keys: HKDF-SHA-256 with secret ck || h, salt
// the continuity secret of the chosen earlier epoch (32 zero bytes if none),
// info labelEpochKeys, 6*32+16 bytes.
func (h *Handshake) epochKeys(chosen *epoch) epochKeys {
	var secret [2 * KeySize]byte
	copy(secret[:], h.sym.ck[:])
	copy(secret[KeySize:], h.sym.h[:])
	var salt [KeySize]byte
	if chosen != nil {
		salt = chosen.resume
	}
	var out [6*KeySize + epochIDSize]byte
	hkdfSHA256(out[:], &salt, secret[:], labelEpochKeys)
	var k epochKeys
	for i, dst := range []*[KeySize]byte{&k.rk, &k.ckB0, &k.hkA, &k.hkB0, &k.nhkB, &k.resume} {
		copy(dst[:], out[i*KeySize:])
	}
	copy(k.id[:], out[6*KeySize:])
	clear(out[:])
	clear(secret[:])
	clear(salt[:])
	return k
}

// String describes the handshake without any secret.
func (h *Handshake) String() string { return "ratchet.Handshake{" + h.state.String() + "}" }

// GoString is String, for %#v.
func (h *Handshake) GoString() string { return h.String() }
