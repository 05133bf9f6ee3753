package ratchet

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"errors"
	"io"

	"golang.org/x/crypto/cryptobyte"
)

// The asynchronous first handshake (docs/PROTOCOL.md §3.11): a Noise
// IK-shaped pattern with an X-Wing encapsulation on each side, for a first
// contact whose responder is offline when the initiator writes. The
// initiator knows the responder's identity and its intake X-Wing key (from
// a signed intake bundle); it seals its identity and a payload (a contact
// request with a first text) in message 1, which a mailbox holds. Whenever
// the responder's owner accepts, message 2 answers it, and both sides start
// the double ratchet of an epoch derived as the live handshake's are.
//
//	<- s, xs
//	...
//	-> e, xw, es, xs1, s, ss   (payload)
//	<- e, ee, se, xw2          (B0)
//
// Both halves keep state between the messages, for days: it serialises
// (MarshalBinary) so that the caller can keep it in its vault.

// Protocol constants of the asynchronous handshake.
const (
	asyncProtocolName = "Sotto-v2 IK-async-hybrid X25519 MLKEM768X25519 ChaCha20Poly1305 SHA256"
	labelAsyncXWing   = "sotto v2 async x-wing"
	labelAsyncExport  = "sotto v2 async x-wing secret"

	// AsyncMsg1Overhead is the size of message 1 without its payload:
	// version(1) || e_I(32) || xw_I(1216) || enc1(1120) || enc(s_I)(32+16) || tag(16).
	AsyncMsg1Overhead = 1 + PublicKeySize + xwingPublicKeySize + xwingCiphertextSize + PublicKeySize + 2*tagSize
	// AsyncMsg2Size: e_R(32) || enc2(1120) || enc(B0)(32+16).
	AsyncMsg2Size = PublicKeySize + xwingCiphertextSize + PublicKeySize + tagSize
	// MaxAsyncPayload bounds the payload of message 1.
	MaxAsyncPayload = 20000
	// IntakeKeySize is the size of an intake public key (X-Wing).
	IntakeKeySize = xwingPublicKeySize
	// IntakeSeedSize is the size of an intake private key's seed.
	IntakeSeedSize = xwingSeedSize

	asyncStateVersion = 1
)

// ErrAsyncState is returned for a serialised asynchronous handshake state
// that does not decode.
var ErrAsyncState = errors.New("ratchet: damaged asynchronous handshake state")

// IntakePublicKey returns the X-Wing public key of an intake seed.
func IntakePublicKey(seed *[IntakeSeedSize]byte) ([]byte, error) {
	k, err := hpke.MLKEM768X25519().NewPrivateKey(seed[:])
	if err != nil {
		return nil, err
	}
	return k.PublicKey().Bytes(), nil
}

func asyncPrologue(sym *symmetric, responder, intakeKey []byte) {
	sym.h = sha256.Sum256([]byte(asyncProtocolName))
	sym.ck = sym.h
	sym.mixHash([]byte{Version})
	sym.mixHash(responder)
	sym.mixHash(intakeKey)
}

func mixDH(sym *symmetric, priv, pub *[KeySize]byte) bool {
	var dh [KeySize]byte
	defer wipe(dh[:])
	if !x25519(&dh, priv, pub) {
		return false
	}
	sym.mixKey(dh[:])
	return true
}

// AsyncInitiator is the initiator's half, between message 1 and message 2.
type AsyncInitiator struct {
	sym       symmetric
	local     [PublicKeySize]byte
	peer      [PublicKeySize]byte
	e         keyPair
	xwingSeed [xwingSeedSize]byte
	done      bool
}

// SealFirst writes message 1 from the identity whose Ed25519 seed is given
// (read during the call only) to the responder peer, whose intake X-Wing
// public key is intakeKey, carrying payload. It returns the message and
// the initiator's state, to keep until the answer comes (FinishFirst).
func SealFirst(rand io.Reader, seed *[32]byte, peer ed25519.PublicKey, intakeKey, payload []byte) ([]byte, *AsyncInitiator, error) {
	if len(payload) > MaxAsyncPayload {
		return nil, nil, errors.New("ratchet: payload too large")
	}
	peerX, err := identityX25519(peer)
	if err != nil {
		return nil, nil, err
	}
	intake, err := hpke.MLKEM768X25519().NewPublicKey(intakeKey)
	if err != nil {
		return nil, nil, ErrHandshake
	}
	pub, sI, err := identityKeys(seed)
	defer wipe(sI[:])
	if err != nil {
		return nil, nil, err
	}
	if string(pub[:]) == string(peer) {
		return nil, nil, ErrHandshake
	}
	a := &AsyncInitiator{local: pub}
	copy(a.peer[:], peer)
	var eb [KeySize]byte
	if err := readSecret(rand, eb[:]); err != nil {
		return nil, nil, err
	}
	a.e = newKeyPair(&eb)
	wipe(eb[:])
	if err := readSecret(rand, a.xwingSeed[:]); err != nil {
		return nil, nil, err
	}
	xw, err := hpke.MLKEM768X25519().NewPrivateKey(a.xwingSeed[:])
	if err != nil {
		a.Wipe()
		return nil, nil, err
	}
	xpub := xw.PublicKey().Bytes()
	asyncPrologue(&a.sym, a.peer[:], intakeKey)
	a.sym.mixHash(a.e.pub[:])
	a.sym.mixHash(xpub)
	if !mixDH(&a.sym, &a.e.priv, &peerX) { // es
		a.Wipe()
		return nil, nil, ErrHandshake
	}
	enc, sender, err := hpke.NewSender(intake, hpke.HKDFSHA256(), hpke.ExportOnly(), []byte(labelAsyncXWing))
	if err != nil {
		a.Wipe()
		return nil, nil, ErrHandshake
	}
	xs, err := sender.Export(labelAsyncExport, KeySize)
	if err != nil {
		a.Wipe()
		return nil, nil, ErrHandshake
	}
	a.sym.mixHash(enc)
	a.sym.mixKey(xs) // xs1
	wipe(xs)
	msg := make([]byte, 0, AsyncMsg1Overhead+len(payload))
	msg = append(msg, Version)
	msg = append(msg, a.e.pub[:]...)
	msg = append(msg, xpub...)
	msg = append(msg, enc...)
	msg = append(msg, a.sym.encryptAndHash(a.local[:])...) // s
	if !mixDH(&a.sym, &sI, &peerX) {                       // ss
		a.Wipe()
		return nil, nil, ErrHandshake
	}
	msg = append(msg, a.sym.encryptAndHash(payload)...)
	return msg, a, nil
}

// Peer is the responder's identity.
func (a *AsyncInitiator) Peer() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), a.peer[:]...)
}

// FinishFirst reads message 2 with the identity's seed (read during the
// call only) and returns the new State. A failure leaves the initiator as
// it was: a forged or damaged answer can be followed by the real one.
func (a *AsyncInitiator) FinishFirst(msg2 []byte, seed *[32]byte) (*State, error) {
	if a.done {
		return nil, errHandshakeOrder
	}
	if len(msg2) != AsyncMsg2Size {
		return nil, ErrHandshake
	}
	pub, sI, err := identityKeys(seed)
	defer wipe(sI[:])
	if err != nil || pub != a.local {
		return nil, ErrHandshake
	}
	sym := a.sym // a working copy: a on success only
	defer sym.clear()
	s := cryptobyte.String(msg2)
	var reb, enc, ct []byte
	s.ReadBytes(&reb, PublicKeySize)
	s.ReadBytes(&enc, xwingCiphertextSize)
	s.ReadBytes(&ct, PublicKeySize+tagSize)
	var re [KeySize]byte
	copy(re[:], reb)
	sym.mixHash(re[:])
	if !mixDH(&sym, &a.e.priv, &re) || !mixDH(&sym, &sI, &re) { // ee, se
		return nil, ErrHandshake
	}
	xw, err := hpke.MLKEM768X25519().NewPrivateKey(a.xwingSeed[:])
	if err != nil {
		return nil, ErrHandshake
	}
	recv, err := hpke.NewRecipient(enc, xw, hpke.HKDFSHA256(), hpke.ExportOnly(), []byte(labelAsyncXWing))
	if err != nil {
		return nil, ErrHandshake
	}
	xs, err := recv.Export(labelAsyncExport, KeySize)
	if err != nil {
		return nil, ErrHandshake
	}
	sym.mixHash(enc)
	sym.mixKey(xs) // xw2
	wipe(xs)
	b0, err := sym.decryptAndHash(ct)
	if err != nil {
		return nil, ErrHandshake
	}
	var rk [KeySize]byte
	copy(rk[:], b0)
	wipe(b0)
	keys := symEpochKeys(&sym)
	ep := newInitiatorEpoch(&keys, &rk)
	keys.clear()
	st := &State{local: a.local, peer: a.peer}
	st.addEpoch(ep)
	a.Wipe()
	a.done = true
	return st, nil
}

// Wipe clears the initiator's secrets.
func (a *AsyncInitiator) Wipe() {
	a.sym.clear()
	a.e.wipe()
	clear(a.xwingSeed[:])
}

// MarshalBinary serialises the initiator's state (secret: the caller keeps
// it in its vault and wipes the bytes):
//
//	version u8 || local (32) || peer (32) || ck (32) || h (32) || k (32) || n u64
//	|| e priv (32) || xwing seed (32)
func (a *AsyncInitiator) MarshalBinary() ([]byte, error) {
	if a.done {
		return nil, errHandshakeOrder
	}
	b := make([]byte, 0, 1+6*32+8+32)
	b = append(b, asyncStateVersion)
	b = append(b, a.local[:]...)
	b = append(b, a.peer[:]...)
	b = appendSym(b, &a.sym)
	b = append(b, a.e.priv[:]...)
	b = append(b, a.xwingSeed[:]...)
	return b, nil
}

// UnmarshalAsyncInitiator restores a state of MarshalBinary.
func UnmarshalAsyncInitiator(b []byte) (*AsyncInitiator, error) {
	s := cryptobyte.String(b)
	a := &AsyncInitiator{}
	var v uint8
	var priv [KeySize]byte
	defer wipe(priv[:])
	if !s.ReadUint8(&v) || v != asyncStateVersion || !s.CopyBytes(a.local[:]) || !s.CopyBytes(a.peer[:]) ||
		!readSym(&s, &a.sym) || !s.CopyBytes(priv[:]) || !s.CopyBytes(a.xwingSeed[:]) || !s.Empty() {
		a.Wipe()
		return nil, ErrAsyncState
	}
	a.e = newKeyPair(&priv)
	return a, nil
}

// AsyncResponder is the responder's half, between message 1 and the answer.
type AsyncResponder struct {
	sym   symmetric
	local [PublicKeySize]byte
	peer  [PublicKeySize]byte
	re    [KeySize]byte
	xwPub []byte // the initiator's X-Wing public key
	done  bool
}

// OpenFirst reads message 1 as the identity whose Ed25519 seed is given,
// with the intake key whose seed is intakeSeed (both read during the call
// only). It returns the initiator's authenticated identity, the payload and
// the responder's state, to keep until its owner answers (AnswerFirst).
// Every failure is ErrHandshake.
func OpenFirst(seed *[32]byte, intakeSeed *[IntakeSeedSize]byte, msg1 []byte) (ed25519.PublicKey, []byte, *AsyncResponder, error) {
	if len(msg1) < AsyncMsg1Overhead || len(msg1) > AsyncMsg1Overhead+MaxAsyncPayload || msg1[0] != Version {
		return nil, nil, nil, ErrHandshake
	}
	pub, sR, err := identityKeys(seed)
	defer wipe(sR[:])
	if err != nil {
		return nil, nil, nil, ErrHandshake
	}
	intake, err := hpke.MLKEM768X25519().NewPrivateKey(intakeSeed[:])
	if err != nil {
		return nil, nil, nil, ErrHandshake
	}
	r := &AsyncResponder{local: pub}
	fail := func() (ed25519.PublicKey, []byte, *AsyncResponder, error) {
		r.Wipe()
		return nil, nil, nil, ErrHandshake
	}
	s := cryptobyte.String(msg1[1:])
	var eb, xpub, enc, cs, cp []byte
	s.ReadBytes(&eb, PublicKeySize)
	s.ReadBytes(&xpub, xwingPublicKeySize)
	s.ReadBytes(&enc, xwingCiphertextSize)
	s.ReadBytes(&cs, PublicKeySize+tagSize)
	cp = s
	copy(r.re[:], eb)
	if _, err := hpke.MLKEM768X25519().NewPublicKey(xpub); err != nil {
		return fail()
	}
	r.xwPub = append([]byte(nil), xpub...)
	asyncPrologue(&r.sym, r.local[:], intake.PublicKey().Bytes())
	r.sym.mixHash(eb)
	r.sym.mixHash(xpub)
	if !mixDH(&r.sym, &sR, &r.re) { // es
		return fail()
	}
	recv, err := hpke.NewRecipient(enc, intake, hpke.HKDFSHA256(), hpke.ExportOnly(), []byte(labelAsyncXWing))
	if err != nil {
		return fail()
	}
	xs, err := recv.Export(labelAsyncExport, KeySize)
	if err != nil {
		return fail()
	}
	r.sym.mixHash(enc)
	r.sym.mixKey(xs)
	wipe(xs)
	sI, err := r.sym.decryptAndHash(cs)
	if err != nil || len(sI) != PublicKeySize || string(sI) == string(r.local[:]) {
		return fail()
	}
	peerX, err := identityX25519(sI)
	if err != nil {
		return fail()
	}
	copy(r.peer[:], sI)
	if !mixDH(&r.sym, &sR, &peerX) { // ss
		return fail()
	}
	payload, err := r.sym.decryptAndHash(cp)
	if err != nil {
		return fail()
	}
	return r.Peer(), payload, r, nil
}

// Peer is the initiator's authenticated identity.
func (r *AsyncResponder) Peer() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), r.peer[:]...)
}

// AnswerFirst writes message 2 and returns the new State (a new contact's:
// no earlier epoch). The responder's identity key is not needed: message 2
// proves nothing the first did not, and binds the answer to it.
func (r *AsyncResponder) AnswerFirst(rand io.Reader) ([]byte, *State, error) {
	if r.done {
		return nil, nil, errHandshakeOrder
	}
	peerX, err := identityX25519(r.peer[:])
	if err != nil {
		return nil, nil, ErrHandshake
	}
	xw, err := hpke.MLKEM768X25519().NewPublicKey(r.xwPub)
	if err != nil {
		return nil, nil, ErrHandshake
	}
	var b [KeySize]byte
	if err := readSecret(rand, b[:]); err != nil {
		return nil, nil, err
	}
	e := newKeyPair(&b)
	wipe(b[:])
	defer e.wipe()
	if err := readSecret(rand, b[:]); err != nil {
		return nil, nil, err
	}
	ratchetKey := newKeyPair(&b)
	wipe(b[:])
	defer ratchetKey.wipe()
	r.sym.mixHash(e.pub[:])
	if !mixDH(&r.sym, &e.priv, &r.re) || !mixDH(&r.sym, &e.priv, &peerX) { // ee, se
		r.Wipe()
		return nil, nil, ErrHandshake
	}
	enc, sender, err := hpke.NewSender(xw, hpke.HKDFSHA256(), hpke.ExportOnly(), []byte(labelAsyncXWing))
	if err != nil {
		r.Wipe()
		return nil, nil, ErrHandshake
	}
	xs, err := sender.Export(labelAsyncExport, KeySize)
	if err != nil {
		r.Wipe()
		return nil, nil, ErrHandshake
	}
	r.sym.mixHash(enc)
	r.sym.mixKey(xs) // xw2
	wipe(xs)
	msg := make([]byte, 0, AsyncMsg2Size)
	msg = append(msg, e.pub[:]...)
	msg = append(msg, enc...)
	msg = append(msg, r.sym.encryptAndHash(ratchetKey.pub[:])...)
	keys := symEpochKeys(&r.sym)
	ep := newResponderEpoch(&keys, &ratchetKey)
	keys.clear()
	st := &State{local: r.local, peer: r.peer}
	st.addEpoch(ep)
	r.Wipe()
	r.done = true
	return msg, st, nil
}

// Wipe clears the responder's secrets.
func (r *AsyncResponder) Wipe() {
	r.sym.clear()
	clear(r.re[:])
}

// MarshalBinary serialises the responder's state (secret):
//
//	version u8 || local (32) || peer (32) || ck (32) || h (32) || k (32) || n u64
//	|| e_I (32) || xw_I (1216)
func (r *AsyncResponder) MarshalBinary() ([]byte, error) {
	if r.done {
		return nil, errHandshakeOrder
	}
	b := make([]byte, 0, 1+6*32+8+xwingPublicKeySize)
	b = append(b, asyncStateVersion)
	b = append(b, r.local[:]...)
	b = append(b, r.peer[:]...)
	b = appendSym(b, &r.sym)
	b = append(b, r.re[:]...)
	b = append(b, r.xwPub...)
	return b, nil
}

// UnmarshalAsyncResponder restores a state of MarshalBinary.
func UnmarshalAsyncResponder(b []byte) (*AsyncResponder, error) {
	s := cryptobyte.String(b)
	r := &AsyncResponder{xwPub: make([]byte, xwingPublicKeySize)}
	var v uint8
	if !s.ReadUint8(&v) || v != asyncStateVersion || !s.CopyBytes(r.local[:]) || !s.CopyBytes(r.peer[:]) ||
		!readSym(&s, &r.sym) || !s.CopyBytes(r.re[:]) || !s.CopyBytes(r.xwPub) || !s.Empty() {
		r.Wipe()
		return nil, ErrAsyncState
	}
	if _, err := identityX25519(r.peer[:]); err != nil {
		r.Wipe()
		return nil, ErrAsyncState
	}
	return r, nil
}

func appendSym(b []byte, s *symmetric) []byte {
	b = append(b, s.ck[:]...)
	b = append(b, s.h[:]...)
	b = append(b, s.k[:]...)
	var n [8]byte
	for i := range 8 {
		n[i] = byte(s.n >> (56 - 8*i))
	}
	return append(b, n[:]...)
}

func readSym(s *cryptobyte.String, sym *symmetric) bool {
	var n uint64
	if !s.CopyBytes(sym.ck[:]) || !s.CopyBytes(sym.h[:]) || !s.CopyBytes(sym.k[:]) || !s.ReadUint64(&n) {
		return false
	}
	sym.n = n
	sym.hasK = true
	return true
}

// symEpochKeys derives an epoch's keys from a finished transcript, as
// Handshake.epochKeys does with no earlier epoch (salt: 32 zero bytes).
func symEpochKeys(sym *symmetric) epochKeys {
	h := Handshake{sym: *sym}
	k := h.epochKeys(nil)
	h.sym.clear()
	return k
}
