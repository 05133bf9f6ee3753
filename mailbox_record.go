package sotto

import (
	"encoding/hex"
	"errors"
	"strings"

	"golang.org/x/crypto/cryptobyte"

	"github.com/sottochat/sotto/internal/record"
)

// The messenger's mailbox records (docs/PROTOCOL.md Part 3), each a fixed
// binary layout so that the tokens and keys in them go from the vault's
// buffer into a secretBox without decoder copies. All live in the
// identity's store (memory only for an ephemeral identity).

const (
	kindMbOwn  = "mb.own"  // key: identity key; the identity's own mailbox
	kindMbRel  = "mb.rel"  // key: contact key; our relation for the contact on our mailbox
	kindMbPeer = "mb.peer" // key: contact key; the contact's offer to us
	kindMbSeq  = "mb.seq"  // key: contact key; bundle counters
	kindMbGone = "mb.gone" // key: identity key "." relation hex; a relation to remove at the mailbox
	mbRecV     = 1
)

var errMbRecord = errors.New("sotto: damaged mailbox record")

// mbOwnRec is an identity's own mailbox. Its secrets (AuthPriv, Token) go
// into ownMailbox.keys.
type mbOwnRec struct {
	Paired   bool
	Serial   uint32 // the last serial given to an offer or a mailbox_off
	MaxAge   uint32 // seconds
	Service  [32]byte
	Intake   [32]byte // zero: none
	AuthPriv [32]byte // the owner's client-auth private key for the service
	Token    [32]byte // the owner token

	// The tip line (open identities with an intake): the intake key's
	// X-Wing seed, the previous one (for requests sealed to it), and when
	// the bundle that signs the current one expires.
	IntakeSeed [32]byte
	PrevSeed   [32]byte
	BundleExp  int64
}

func (r *mbOwnRec) marshal() []byte {
	var b cryptobyte.Builder
	b.AddUint8(mbRecV)
	var f uint8
	if r.Paired {
		f = 1
	}
	b.AddUint8(f)
	b.AddUint32(r.Serial)
	b.AddUint32(r.MaxAge)
	b.AddBytes(r.Service[:])
	b.AddBytes(r.Intake[:])
	b.AddBytes(r.AuthPriv[:])
	b.AddBytes(r.Token[:])
	b.AddBytes(r.IntakeSeed[:])
	b.AddBytes(r.PrevSeed[:])
	b.AddUint64(uint64(r.BundleExp))
	return b.BytesOrPanic()
}

func parseMbOwn(p []byte) (*mbOwnRec, error) {
	s := cryptobyte.String(p)
	r := &mbOwnRec{}
	var v, f uint8
	var exp uint64
	if !s.ReadUint8(&v) || v != mbRecV || !s.ReadUint8(&f) || f > 1 || !s.ReadUint32(&r.Serial) ||
		!s.ReadUint32(&r.MaxAge) || !s.CopyBytes(r.Service[:]) || !s.CopyBytes(r.Intake[:]) ||
		!s.CopyBytes(r.AuthPriv[:]) || !s.CopyBytes(r.Token[:]) || !s.CopyBytes(r.IntakeSeed[:]) ||
		!s.CopyBytes(r.PrevSeed[:]) || !s.ReadUint64(&exp) || exp > 1<<62 || !s.Empty() {
		r.wipe()
		return nil, errMbRecord
	}
	r.Paired = f == 1
	r.BundleExp = int64(exp)
	return r, nil
}

func (r *mbOwnRec) wipe() {
	clear(r.AuthPriv[:])
	clear(r.Token[:])
	clear(r.IntakeSeed[:])
	clear(r.PrevSeed[:])
}

// mbRelRec is our relation for one contact on our own mailbox.
type mbRelRec struct {
	Added     bool // the mailbox has it
	Confirmed bool // the contact answered mailbox_ok with Serial
	Off       bool // unpaired: the contact is to be told mailbox_off(Serial)
	Serial    uint32
	ID        [16]byte
	Token     [32]byte // the contact token (secret)
	AuthPriv  [32]byte // the contact's client-auth private key for the service (secret)
}

func (r *mbRelRec) marshal() []byte {
	var b cryptobyte.Builder
	b.AddUint8(mbRecV)
	var f uint8
	if r.Added {
		f |= 1
	}
	if r.Confirmed {
		f |= 2
	}
	if r.Off {
		f |= 4
	}
	b.AddUint8(f)
	b.AddUint32(r.Serial)
	b.AddBytes(r.ID[:])
	b.AddBytes(r.Token[:])
	b.AddBytes(r.AuthPriv[:])
	return b.BytesOrPanic()
}

func parseMbRel(p []byte) (*mbRelRec, error) {
	s := cryptobyte.String(p)
	r := &mbRelRec{}
	var v, f uint8
	if !s.ReadUint8(&v) || v != mbRecV || !s.ReadUint8(&f) || f > 7 || !s.ReadUint32(&r.Serial) ||
		!s.CopyBytes(r.ID[:]) || !s.CopyBytes(r.Token[:]) || !s.CopyBytes(r.AuthPriv[:]) || !s.Empty() {
		r.wipe()
		return nil, errMbRecord
	}
	r.Added, r.Confirmed, r.Off = f&1 != 0, f&2 != 0, f&4 != 0
	return r, nil
}

func (r *mbRelRec) wipe() {
	clear(r.Token[:])
	clear(r.AuthPriv[:])
}

// mbPeerRec is a contact's offer: where we leave messages for it.
type mbPeerRec struct {
	Serial   uint32
	MaxAge   uint32
	Service  [32]byte
	AuthPriv [32]byte // secret
	Token    [32]byte // secret
}

func (r *mbPeerRec) marshal() []byte {
	var b cryptobyte.Builder
	b.AddUint8(mbRecV)
	b.AddUint32(r.Serial)
	b.AddUint32(r.MaxAge)
	b.AddBytes(r.Service[:])
	b.AddBytes(r.AuthPriv[:])
	b.AddBytes(r.Token[:])
	return b.BytesOrPanic()
}

func parseMbPeer(p []byte) (*mbPeerRec, error) {
	s := cryptobyte.String(p)
	r := &mbPeerRec{}
	var v uint8
	if !s.ReadUint8(&v) || v != mbRecV || !s.ReadUint32(&r.Serial) || !s.ReadUint32(&r.MaxAge) ||
		!s.CopyBytes(r.Service[:]) || !s.CopyBytes(r.AuthPriv[:]) || !s.CopyBytes(r.Token[:]) || !s.Empty() {
		r.wipe()
		return nil, errMbRecord
	}
	return r, nil
}

func (r *mbPeerRec) wipe() {
	clear(r.AuthPriv[:])
	clear(r.Token[:])
}

func marshalSeq(out, in uint64) []byte {
	var b cryptobyte.Builder
	b.AddUint8(mbRecV)
	b.AddUint64(out)
	b.AddUint64(in)
	return b.BytesOrPanic()
}

func parseSeq(p []byte) (out, in uint64, err error) {
	s := cryptobyte.String(p)
	var v uint8
	if !s.ReadUint8(&v) || v != mbRecV || !s.ReadUint64(&out) || !s.ReadUint64(&in) || !s.Empty() {
		return 0, 0, errMbRecord
	}
	return out, in, nil
}

// A deposit record, one entry of the contact's log "mbdep.<key>" per
// deposited bundle: when, where, and the IDs of the outbox entries it
// carried. It is dropped once none of them is in the outbox any more.
type mbDepositRec struct {
	At     int64
	Target uint8 // targetPeer or targetOwn
	Serial uint32
	IDs    []MessageID
}

func (r *mbDepositRec) marshal() []byte {
	var b cryptobyte.Builder
	b.AddUint8(mbRecV)
	b.AddUint64(uint64(r.At))
	b.AddUint8(r.Target)
	b.AddUint32(r.Serial)
	b.AddUint8(uint8(len(r.IDs)))
	for _, id := range r.IDs {
		b.AddBytes(id[:])
	}
	return b.BytesOrPanic()
}

func parseMbDeposit(p []byte) (*mbDepositRec, error) {
	s := cryptobyte.String(p)
	r := &mbDepositRec{}
	var v, n uint8
	var at uint64
	if !s.ReadUint8(&v) || v != mbRecV || !s.ReadUint64(&at) || !s.ReadUint8(&r.Target) ||
		r.Target < targetPeer || r.Target > targetReply || !s.ReadUint32(&r.Serial) || !s.ReadUint8(&n) ||
		len(s) != int(n)*record.IDLen || at > 1<<62 {
		return nil, errMbRecord
	}
	r.At = int64(at)
	for range n {
		var id MessageID
		s.CopyBytes(id[:])
		r.IDs = append(r.IDs, id)
	}
	return r, nil
}

func (c *contact) logDeposits() string { return "mbdep." + c.key }

// goneKey is the record key of a relation to remove at the mailbox.
func goneKey(id *identity, rel [16]byte) string { return id.key + "." + hex.EncodeToString(rel[:]) }

func parseGoneKey(id *identity, k string) ([16]byte, bool) {
	var rel [16]byte
	rest, ok := strings.CutPrefix(k, id.key+".")
	if !ok {
		return rel, false
	}
	raw, err := hex.DecodeString(rest)
	if err != nil || len(raw) != 16 {
		return rel, false
	}
	return [16]byte(raw), true
}
