package ratchet

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"

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
	// Msg3Size: enc(s_I)(32+16) || enc(payload3)(1+4*16 + 16).
	Msg3Size = PublicKeySize + tagSize + payload3Size + tagSize
	// Msg4Size: enc(payload4)(16+32 + 16).
	Msg4Size = payload4Size + tagSize

	payload3Size = 1 + MaxEpochs*epochIDSize
	payload4Size = epochIDSize + PublicKeySize
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
// crypto/hpke. A Handshake is not safe for concurrent use.
type Handshake struct {
	state HandshakeState
	rand  io.Reader
	sym   symmetric

	local [PublicKeySize]byte // our Ed25519 identity
	peer  [PublicKeySize]byte // the peer's Ed25519 identity (responder: known after ReadAuth)
	peerX *ecdh.PublicKey     // initiator: the X25519 form of peer

	e      *ecdh.PrivateKey // our ephemeral X25519 key
	re     *ecdh.PublicKey  // the peer's ephemeral X25519 key
	xwing  hpke.PrivateKey  // initiator: ephemeral X-Wing key until message 2
	prior  *State           // initiator: the state passed to NewInitiator
	offers [][epochIDSize]byte

	continued      bool
	peerRolledBack bool
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
// no longer holds an epoch that it had used with us (it sent a message in
// it): its state was restored from an old copy, or lost. The handshake
// still succeeds (the new epoch is fresh); the caller should warn, because
// the peer may show messages again or have lost some. It is never true for
// an honest peer with intact state.
func (h *Handshake) PeerRolledBack() bool { return h.state == Done && h.peerRolledBack }

// Continued reports, once Done, whether the new epoch was chained to an
// earlier epoch both sides held (key continuity). False on the first
// handshake between two contacts, and also when one side lost its state
// (restored from an old copy, or a new device): the caller may warn.
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
	h.e = nil
	h.re = nil
	h.xwing = nil
	h.prior = nil
	h.offers = nil
}

// prologue initialises the transcript with the version and the responder's
// identity, which the initiator knows in advance.
func (h *Handshake) prologue(responder []byte) {
	h.sym.init()
	h.sym.mixHash([]byte{Version})
	h.sym.mixHash(responder)
}

func (h *Handshake) newEphemeral() (*ecdh.PrivateKey, error) {
	var b [KeySize]byte
	defer wipe(b[:])
	if _, err := io.ReadFull(h.rand, b[:]); err != nil {
		return nil, errors.New("ratchet: random source failed")
	}
	return ecdh.X25519().NewPrivateKey(b[:])
}

// Hello writes message 1: version || e_I || xwing_pk_I || tag.
// Transcript: MixHash(e_I), MixHash(xwing_pk_I), MixKey(DH(e_I, S_R)),
// EncryptAndHash("").
func (h *Handshake) Hello() ([]byte, error) {
	if h.state != InitiatorStart || h.peerX == nil || h.rand == nil {
		return nil, errHandshakeOrder // also a zero Handshake: use NewInitiator
	}
	sR := h.peerX
	h.prologue(h.peer[:])
	var err error
	if h.e, err = h.newEphemeral(); err != nil {
		return nil, h.fail(err)
	}
	var seed [xwingSeedSize]byte
	defer wipe(seed[:])
	if _, err := io.ReadFull(h.rand, seed[:]); err != nil {
		return nil, h.fail(errors.New("ratchet: random source failed"))
	}
	if h.xwing, err = hpke.MLKEM768X25519().NewPrivateKey(seed[:]); err != nil {
		return nil, h.fail(err)
	}
	epub := h.e.PublicKey().Bytes()
	xpub := h.xwing.PublicKey().Bytes()
	h.sym.mixHash(epub)
	h.sym.mixHash(xpub)
	es, err := h.e.ECDH(sR)
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	h.sym.mixKey(es)
	wipe(es)
	msg := make([]byte, 0, Msg1Size)
	msg = append(msg, Version)
	msg = append(msg, epub...)
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
func (h *Handshake) Reply(msg1 []byte, seed *[32]byte) ([]byte, error) {
	if h.state != ResponderStart {
		return nil, errHandshakeOrder
	}
	if len(msg1) != Msg1Size || msg1[0] != Version {
		return nil, h.fail(ErrHandshake)
	}
	pub, sR, err := identityKeys(seed)
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
	if h.re, err = ecdh.X25519().NewPublicKey(epub); err != nil {
		return nil, h.fail(ErrHandshake)
	}
	xw, err := hpke.MLKEM768X25519().NewPublicKey(xpub)
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	h.sym.mixHash(epub)
	h.sym.mixHash(xpub)
	es, err := sR.ECDH(h.re)
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	h.sym.mixKey(es)
	wipe(es)
	if _, err := h.sym.decryptAndHash(tag); err != nil {
		return nil, h.fail(ErrHandshake)
	}

	if h.e, err = h.newEphemeral(); err != nil {
		return nil, h.fail(err)
	}
	repub := h.e.PublicKey().Bytes()
	h.sym.mixHash(repub)
	ee, err := h.e.ECDH(h.re)
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	h.sym.mixKey(ee)
	wipe(ee)
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
	msg = append(msg, repub...)
	msg = append(msg, enc...)
	msg = append(msg, h.sym.encryptAndHash(nil)...)
	h.state = ResponderSentReply
	return msg, nil
}

// Authenticate reads message 2, which proves the responder holds its identity
// key, and writes message 3 as the identity whose Ed25519 seed is given (read
// during the call only; the caller wipes its copy): EncryptAndHash(s_I),
// MixKey(DH(S_I, e_R)), EncryptAndHash(payload3), where payload3 lists the
// epochs of the prior State, newest first.
func (h *Handshake) Authenticate(msg2 []byte, seed *[32]byte) ([]byte, error) {
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
	var err error
	if h.re, err = ecdh.X25519().NewPublicKey(repub); err != nil {
		return nil, h.fail(ErrHandshake)
	}
	h.sym.mixHash(repub)
	ee, err := h.e.ECDH(h.re)
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	h.sym.mixKey(ee)
	wipe(ee)
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
	se, err := sI.ECDH(h.re)
	sI = nil
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	h.sym.mixKey(se)
	wipe(se)

	payload := make([]byte, payload3Size)
	if h.prior != nil {
		ids := h.prior.epochIDs()
		payload[0] = byte(len(ids))
		for i, id := range ids {
			copy(payload[1+i*epochIDSize:], id[:])
		}
		h.offers = ids
	}
	msg = append(msg, h.sym.encryptAndHash(payload)...)
	h.state = InitiatorSentAuth
	return msg, nil
}

// ReadAuth reads message 3, authenticates the initiator and returns its
// identity. The caller decides whether to accept it (a known contact, or a
// contact request in open mode) and then calls Accept, or drops the
// connection.
func (h *Handshake) ReadAuth(msg3 []byte) (ed25519.PublicKey, error) {
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
	se, err := h.e.ECDH(sI)
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	h.sym.mixKey(se)
	wipe(se)
	payload, err := h.sym.decryptAndHash(encP)
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	n := int(payload[0])
	if n > MaxEpochs {
		return nil, h.fail(ErrHandshake)
	}
	for i := 1 + n*epochIDSize; i < len(payload); i++ {
		if payload[i] != 0 {
			return nil, h.fail(ErrHandshake)
		}
	}
	h.offers = make([][epochIDSize]byte, n)
	for i := range h.offers {
		copy(h.offers[i][:], payload[1+i*epochIDSize:])
	}
	copy(h.peer[:], sIpub)
	h.state = ResponderPeerKnown
	return append(ed25519.PublicKey(nil), sIpub...), nil
}

// Accept accepts the authenticated initiator, writes message 4 (explicit key
// confirmation, the epoch chosen for key continuity and the responder's first
// ratchet public key) and returns the new State: prior (the State shared with
// this contact, or nil for a new contact) with a new epoch added. prior is
// not modified; the caller stores the returned State in its place.
func (h *Handshake) Accept(prior *State) ([]byte, *State, error) {
	if h.state != ResponderPeerKnown {
		return nil, nil, errHandshakeOrder
	}
	if prior != nil && (prior.peer != h.peer || prior.local != h.local) {
		return nil, nil, h.fail(ErrStateMismatch)
	}
	// Key continuity: the newest epoch in the initiator's list that we hold.
	var chosen *epoch
	if prior != nil {
		for _, id := range h.offers {
			if chosen = prior.epochByID(id); chosen != nil {
				break
			}
		}
	}
	// Rollback detection: our newest epoch that the initiator is known to
	// hold must be in its list. Every epoch the initiator holds, we hold
	// too, so if it had dropped that epoch for newer ones we would have as
	// well.
	rolledBack := false
	if prior != nil {
		for _, e := range prior.epochs {
			if !e.confirmed {
				continue
			}
			rolledBack = true
			for _, id := range h.offers {
				if id == e.id {
					rolledBack = false
				}
			}
			break
		}
	}
	ratchetKey, err := h.newEphemeral()
	if err != nil {
		return nil, nil, h.fail(err)
	}
	payload := make([]byte, 0, payload4Size)
	var zero [epochIDSize]byte
	if chosen != nil {
		payload = append(payload, chosen.id[:]...)
	} else {
		payload = append(payload, zero[:]...)
	}
	payload = append(payload, ratchetKey.PublicKey().Bytes()...)
	msg := h.sym.encryptAndHash(payload)

	keys := h.epochKeys(chosen)
	ep := newResponderEpoch(keys, ratchetKey)
	keys.clear()
	st := prior.cloneOrNew(h.local, h.peer)
	st.addEpoch(ep)
	h.continued = chosen != nil
	h.peerRolledBack = rolledBack
	h.Clear()
	h.state = Done
	return msg, st, nil
}

// Finish reads message 4, which confirms the responder derived the same keys,
// and returns the new State: the prior State passed to NewInitiator (not
// modified) with a new epoch added.
func (h *Handshake) Finish(msg4 []byte) (*State, error) {
	if h.state != InitiatorSentAuth {
		return nil, errHandshakeOrder
	}
	if len(msg4) != Msg4Size {
		return nil, h.fail(ErrHandshake)
	}
	payload, err := h.sym.decryptAndHash(msg4)
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	var id [epochIDSize]byte
	copy(id[:], payload[:epochIDSize])
	var chosen *epoch
	if id != ([epochIDSize]byte{}) {
		offered := false
		for _, o := range h.offers {
			offered = offered || o == id
		}
		if offered {
			chosen = h.prior.epochByID(id)
		}
		if chosen == nil {
			return nil, h.fail(ErrHandshake)
		}
	}
	rk, err := ecdh.X25519().NewPublicKey(payload[epochIDSize:])
	if err != nil {
		return nil, h.fail(ErrHandshake)
	}
	keys := h.epochKeys(chosen)
	ep := newInitiatorEpoch(keys, rk)
	keys.clear()
	st := h.prior.cloneOrNew(h.local, h.peer)
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
	secret := make([]byte, 0, 2*KeySize)
	secret = append(secret, h.sym.ck[:]...)
	secret = append(secret, h.sym.h[:]...)
	salt := make([]byte, KeySize)
	if chosen != nil {
		copy(salt, chosen.resume[:])
	}
	out, err := hkdf.Key(sha256.New, secret, salt, labelEpochKeys, 6*KeySize+epochIDSize)
	if err != nil {
		panic("ratchet: hkdf failed")
	}
	var k epochKeys
	for i, dst := range []*[KeySize]byte{&k.rk, &k.ckB0, &k.hkA, &k.hkB0, &k.nhkB, &k.resume} {
		copy(dst[:], out[i*KeySize:])
	}
	copy(k.id[:], out[6*KeySize:])
	wipe(out)
	wipe(secret)
	wipe(salt)
	return k
}

// String describes the handshake without any secret.
func (h *Handshake) String() string { return "ratchet.Handshake{" + h.state.String() + "}" }

// GoString is String, for %#v.
func (h *Handshake) GoString() string { return h.String() }
