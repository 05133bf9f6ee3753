package mailbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/cryptobyte"
)

// Protocol constants (docs/PROTOCOL.md Part 3).
const (
	// Version is the mailbox protocol version carried in the preamble.
	Version = 1
	// PreambleLen is the size of the preamble: "sotto" 0x01 then the
	// version as a big-endian uint16 (Part 2's preamble has 0x00 there).
	PreambleLen = 8
	// MaxFrame is the largest frame body (the largest bucket), as in Part 2.
	MaxFrame = 32768
	// frameInner is the op byte and the 4-byte content length at the start
	// of every frame body.
	frameInner = 1 + 4
	// MaxContent is the largest frame content.
	MaxContent = MaxFrame - frameInner

	// TokenLen is the size of a bearer token (owner, contact, reply).
	TokenLen = 32
	// KeyLen is the size of a public key (Ed25519 service key, x25519
	// client-auth key) or a SHA-256 token hash.
	KeyLen = 32
	// RelLen is the size of a relation ID.
	RelLen = 16
	// ItemLen is the size of an item ID (one stored blob).
	ItemLen = 8
	// SecretLen is the size of a pairing code's secret.
	SecretLen = 16
	// MaxIDs is the most item IDs one delete may name.
	MaxIDs = 256
	// MaxCollect is the most items one collect returns.
	MaxCollect = 1024
	// MaxIntakeBundle is the largest signed intake bundle.
	MaxIntakeBundle = 2048
)

// BlobSizes are the only sizes a blob may have: a depositor pads every blob
// to one of them (see Pad), so that the mailbox learns a size bucket, never a
// message's length. Each is a Part 2 frame bucket less 64 bytes, which leaves
// room for the fields around a blob in a frame.
var BlobSizes = [...]int{192, 960, 4032, 16320, 32704}

// MaxBlob is the largest blob.
const MaxBlob = 32704

func isBlobSize(n int) bool {
	for _, s := range BlobSizes {
		if n == s {
			return true
		}
	}
	return false
}

// buckets are the frame body sizes, as in Part 2.
var buckets = [...]int{256, 1024, 4096, 16384, MaxFrame}

func bucket(n int) int {
	for _, b := range buckets {
		if n+frameInner <= b {
			return b
		}
	}
	return -1
}

func isBucket(n int) bool {
	for _, b := range buckets {
		if n == b {
			return true
		}
	}
	return false
}

// ErrMalformed is returned for any frame or message that does not follow the
// protocol. The stream that carried it is closed.
var ErrMalformed = errors.New("mailbox: malformed")

// ErrVersion is returned for a preamble of another protocol version.
var ErrVersion = errors.New("mailbox: unsupported protocol version")

// Preamble is what each side writes first.
func Preamble() []byte {
	return []byte{'s', 'o', 't', 't', 'o', 0x01, 0x00, Version}
}

// ReadPreamble reads and checks the peer's preamble.
func ReadPreamble(r io.Reader) error {
	var b [PreambleLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return err
	}
	if string(b[:6]) != "sotto\x01" {
		return ErrMalformed
	}
	if binary.BigEndian.Uint16(b[6:]) != Version {
		return ErrVersion
	}
	return nil
}

// Op is the type byte of a frame: an operation (client to mailbox) or a
// reply (mailbox to client).
type Op uint8

// Operations, client to mailbox.
const (
	OpPair      Op = 1  // pairing code secret, owner keys: create an identity's mailbox service
	OpHello     Op = 2  // role and token: authenticates the stream
	OpAdd       Op = 3  // owner: add a relation (contact queue pair)
	OpRemove    Op = 4  // owner: remove a relation, its queues and its key
	OpDeposit   Op = 5  // leave a blob for the other side of a relation
	OpCollect   Op = 6  // take blobs waiting for the caller
	OpDelete    Op = 7  // delete collected items
	OpWatch     Op = 8  // ask for a notify when something arrives for the caller
	OpStatus    Op = 9  // counts of what waits
	OpUnpair    Op = 10 // owner: wipe the identity's mailbox service
	OpSetIntake Op = 11 // owner: the signed intake bundle strangers fetch
	OpIntakeKey Op = 12 // stranger: fetch the intake bundle
	OpIntake    Op = 13 // stranger: leave a sealed contact request
	OpPing      Op = 14 // keeps a watching stream alive
)

// Replies, mailbox to client.
const (
	OpOK      Op = 32 // success; Value is op-specific
	OpError   Op = 33 // failure; Code says which
	OpItem    Op = 34 // one collected item
	OpDone    Op = 35 // end of a collect; Value: items still waiting
	OpNotify  Op = 36 // something arrived in the relation Rel
	OpCounts  Op = 37 // the reply to status
	OpBundle  Op = 38 // the reply to intake_key
	OpPaired  Op = 39 // the reply to pair
	OpPong    Op = 40 // the reply to ping
	opMaxSend Op = OpPing
)

var opNames = map[Op]string{
	OpPair: "pair", OpHello: "hello", OpAdd: "add", OpRemove: "remove", OpDeposit: "deposit",
	OpCollect: "collect", OpDelete: "delete", OpWatch: "watch", OpStatus: "status", OpUnpair: "unpair",
	OpSetIntake: "set_intake", OpIntakeKey: "intake_key", OpIntake: "intake", OpPing: "ping",
	OpOK: "ok", OpError: "error", OpItem: "item", OpDone: "done", OpNotify: "notify", OpCounts: "counts",
	OpBundle: "bundle", OpPaired: "paired", OpPong: "pong",
}

func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Role is who a hello authenticates as.
type Role uint8

const (
	RoleOwner   Role = 1 // the identity that paired the service
	RoleContact Role = 2 // the contact of a relation, or a stranger collecting its reply
)

// Code is an error reply's reason. Every failure to authenticate is the one
// code CodeDenied, whatever failed.
type Code uint8

const (
	CodeMalformed Code = 1 // the request broke the protocol
	CodeDenied    Code = 2 // no such token, code, relation for the caller, or not allowed
	CodeFull      Code = 3 // a quota is reached: try again after the recipient collects
	CodeStorage   Code = 4 // the mailbox could not store (its disk is full or failing)
	CodeBusy      Code = 5 // a rate limit or connection limit: try again later
	CodeConflict  Code = 6 // add: the relation exists with other credentials
	CodeGone      Code = 7 // the service was unpaired
	codeMax       Code = CodeGone
)

func (c Code) String() string {
	switch c {
	case CodeMalformed:
		return "malformed request"
	case CodeDenied:
		return "denied"
	case CodeFull:
		return "mailbox full"
	case CodeStorage:
		return "storage failure at the mailbox"
	case CodeBusy:
		return "busy"
	case CodeConflict:
		return "conflicting relation"
	case CodeGone:
		return "gone"
	}
	return fmt.Sprintf("code(%d)", uint8(c))
}

// Item kinds.
const (
	ItemBlob    = 0 // a deposited blob
	ItemExpired = 1 // Count blobs were deleted unread at their delete-by time
)

// Msg is one decoded frame. Only the fields of its Op are set; the table in
// docs/PROTOCOL.md §3.4 lists them.
type Msg struct {
	Op Op

	Secret    [SecretLen]byte // Pair
	Auth      [KeyLen]byte    // Pair: the owner's client-auth public key; Add: the contact's (zero: none)
	Token     [TokenLen]byte  // Pair: the owner token; Hello: the token
	TokenHash [KeyLen]byte    // Add, Intake: SHA-256 of the token that will collect
	Role      Role            // Hello
	Flags     uint8           // Pair: bit 0 asks for an intake service
	Rel       [RelLen]byte    // Add, Remove, Deposit, Collect, Delete (zero for a contact), Item, Notify
	TTL       uint32          // Deposit: seconds until the delete-by time, 0 = none
	Blob      []byte          // Deposit, Intake, Item (ItemBlob)
	Max       uint16          // Collect: at most this many items (1..MaxCollect)
	IDs       [][ItemLen]byte // Delete

	Code     Code          // Error
	Value    uint32        // OK, Done
	Item     [ItemLen]byte // Item; OK of a deposit: the new item
	Kind     uint8         // Item: ItemBlob or ItemExpired
	Count    uint32        // Item (ItemExpired)
	Service  [KeyLen]byte  // Paired: the identity's mailbox service key
	Intake   [KeyLen]byte  // Paired: its intake service key (zero: none)
	Bundle   []byte        // SetIntake, Bundle (zero length: intake off)
	Counts   Counts        // Counts
	Sequence uint32        // Ping, Pong
}

// Counts is the reply to status: what waits at the mailbox for the caller's
// relations (the owner's: all of the service's relations).
type Counts struct {
	Relations uint32 // relations (1 for a contact)
	In        uint32 // items waiting for the caller
	Out       uint32 // items the caller deposited that the other side has not collected
	Bytes     uint64 // bytes of those items
	MaxAge    uint32 // seconds a blob may wait before the mailbox deletes it
}

func validTTL(t uint32) bool { return t <= maxTTL }

// maxTTL is the largest delete-by delay a deposit may ask for: four weeks,
// the longest disappearing timer.
const maxTTL = 28 * 24 * 3600

// Marshal returns the frame content of m (without the frame header).
func (m *Msg) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	switch m.Op {
	case OpPair:
		if m.Flags > 1 {
			return nil, ErrMalformed
		}
		b.AddBytes(m.Secret[:])
		b.AddBytes(m.Auth[:])
		b.AddBytes(m.Token[:])
		b.AddUint8(m.Flags)
	case OpHello:
		if m.Role != RoleOwner && m.Role != RoleContact {
			return nil, ErrMalformed
		}
		b.AddUint8(uint8(m.Role))
		b.AddBytes(m.Token[:])
	case OpAdd:
		b.AddBytes(m.Rel[:])
		b.AddBytes(m.TokenHash[:])
		b.AddBytes(m.Auth[:])
	case OpRemove:
		b.AddBytes(m.Rel[:])
	case OpDeposit:
		if !validTTL(m.TTL) || !isBlobSize(len(m.Blob)) {
			return nil, ErrMalformed
		}
		b.AddBytes(m.Rel[:])
		b.AddUint32(m.TTL)
		b.AddBytes(m.Blob)
	case OpCollect:
		if m.Max == 0 || m.Max > MaxCollect {
			return nil, ErrMalformed
		}
		b.AddBytes(m.Rel[:])
		b.AddUint16(m.Max)
	case OpDelete:
		if len(m.IDs) == 0 || len(m.IDs) > MaxIDs {
			return nil, ErrMalformed
		}
		b.AddBytes(m.Rel[:])
		b.AddUint16(uint16(len(m.IDs)))
		for _, id := range m.IDs {
			b.AddBytes(id[:])
		}
	case OpWatch, OpStatus, OpUnpair, OpIntakeKey:
	case OpSetIntake:
		if len(m.Bundle) > MaxIntakeBundle {
			return nil, ErrMalformed
		}
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.Bundle) })
	case OpIntake:
		if !isBlobSize(len(m.Blob)) {
			return nil, ErrMalformed
		}
		b.AddBytes(m.TokenHash[:])
		b.AddBytes(m.Blob)
	case OpPing, OpPong:
		b.AddUint32(m.Sequence)
	case OpOK, OpDone:
		b.AddUint32(m.Value)
		b.AddBytes(m.Item[:])
	case OpError:
		if m.Code == 0 || m.Code > codeMax {
			return nil, ErrMalformed
		}
		b.AddUint8(uint8(m.Code))
	case OpItem:
		b.AddBytes(m.Rel[:])
		b.AddBytes(m.Item[:])
		b.AddUint8(m.Kind)
		switch m.Kind {
		case ItemBlob:
			if !isBlobSize(len(m.Blob)) {
				return nil, ErrMalformed
			}
			b.AddBytes(m.Blob)
		case ItemExpired:
			if m.Count == 0 {
				return nil, ErrMalformed
			}
			b.AddUint32(m.Count)
		default:
			return nil, ErrMalformed
		}
	case OpNotify:
		b.AddBytes(m.Rel[:])
	case OpCounts:
		b.AddUint32(m.Counts.Relations)
		b.AddUint32(m.Counts.In)
		b.AddUint32(m.Counts.Out)
		b.AddUint64(m.Counts.Bytes)
		b.AddUint32(m.Counts.MaxAge)
	case OpBundle:
		if len(m.Bundle) > MaxIntakeBundle {
			return nil, ErrMalformed
		}
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.Bundle) })
	case OpPaired:
		b.AddBytes(m.Service[:])
		b.AddBytes(m.Intake[:])
	default:
		return nil, ErrMalformed
	}
	return b.Bytes()
}

// ParseMsg decodes the content of a frame of type op. Any deviation (short
// or trailing bytes, an out-of-range value, a blob that is not of a
// BlobSizes size) is ErrMalformed.
func ParseMsg(op Op, p []byte) (*Msg, error) {
	s := cryptobyte.String(p)
	m := &Msg{Op: op}
	ok := true
	switch op {
	case OpPair:
		ok = s.CopyBytes(m.Secret[:]) && s.CopyBytes(m.Auth[:]) && s.CopyBytes(m.Token[:]) &&
			s.ReadUint8(&m.Flags) && m.Flags <= 1
	case OpHello:
		var r uint8
		ok = s.ReadUint8(&r) && (Role(r) == RoleOwner || Role(r) == RoleContact) && s.CopyBytes(m.Token[:])
		m.Role = Role(r)
	case OpAdd:
		ok = s.CopyBytes(m.Rel[:]) && s.CopyBytes(m.TokenHash[:]) && s.CopyBytes(m.Auth[:])
	case OpRemove, OpNotify:
		ok = s.CopyBytes(m.Rel[:])
	case OpDeposit:
		ok = s.CopyBytes(m.Rel[:]) && s.ReadUint32(&m.TTL) && validTTL(m.TTL) && isBlobSize(len(s))
		if ok {
			m.Blob = append([]byte(nil), s...)
			s = s[len(s):]
		}
	case OpCollect:
		ok = s.CopyBytes(m.Rel[:]) && s.ReadUint16(&m.Max) && m.Max > 0 && m.Max <= MaxCollect
	case OpDelete:
		var n uint16
		ok = s.CopyBytes(m.Rel[:]) && s.ReadUint16(&n) && n > 0 && n <= MaxIDs && len(s) == int(n)*ItemLen
		for i := 0; ok && i < int(n); i++ {
			var id [ItemLen]byte
			ok = s.CopyBytes(id[:])
			m.IDs = append(m.IDs, id)
		}
	case OpWatch, OpStatus, OpUnpair, OpIntakeKey:
	case OpSetIntake, OpBundle:
		var v cryptobyte.String
		ok = s.ReadUint16LengthPrefixed(&v) && len(v) <= MaxIntakeBundle
		if ok {
			m.Bundle = append([]byte{}, v...)
		}
	case OpIntake:
		ok = s.CopyBytes(m.TokenHash[:]) && isBlobSize(len(s))
		if ok {
			m.Blob = append([]byte(nil), s...)
			s = s[len(s):]
		}
	case OpPing, OpPong:
		ok = s.ReadUint32(&m.Sequence)
	case OpOK, OpDone:
		ok = s.ReadUint32(&m.Value) && s.CopyBytes(m.Item[:])
	case OpError:
		var c uint8
		ok = s.ReadUint8(&c) && c != 0 && Code(c) <= codeMax
		m.Code = Code(c)
	case OpItem:
		ok = s.CopyBytes(m.Rel[:]) && s.CopyBytes(m.Item[:]) && s.ReadUint8(&m.Kind)
		if ok {
			switch m.Kind {
			case ItemBlob:
				ok = isBlobSize(len(s))
				if ok {
					m.Blob = append([]byte(nil), s...)
					s = s[len(s):]
				}
			case ItemExpired:
				ok = s.ReadUint32(&m.Count) && m.Count > 0
			default:
				ok = false
			}
		}
	case OpCounts:
		ok = s.ReadUint32(&m.Counts.Relations) && s.ReadUint32(&m.Counts.In) && s.ReadUint32(&m.Counts.Out) &&
			s.ReadUint64(&m.Counts.Bytes) && s.ReadUint32(&m.Counts.MaxAge)
	case OpPaired:
		ok = s.CopyBytes(m.Service[:]) && s.CopyBytes(m.Intake[:])
	default:
		ok = false
	}
	if !ok || !s.Empty() {
		return nil, ErrMalformed
	}
	return m, nil
}

// isRequest reports whether op is sent by clients.
func isRequest(op Op) bool { return op >= OpPair && op <= opMaxSend }

// AppendFrame appends a frame carrying m to dst: the bucket size, the op,
// the content length, the content and zero padding (Part 2's framing with
// the op in the type byte).
func AppendFrame(dst []byte, m *Msg) ([]byte, error) {
	content, err := m.Marshal()
	if err != nil {
		return dst, err
	}
	size := bucket(len(content))
	if size < 0 {
		return dst, fmt.Errorf("mailbox: frame content of %d bytes is over the maximum %d", len(content), MaxContent)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(size))
	dst = append(dst, byte(m.Op))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(content)))
	dst = append(dst, content...)
	return append(dst, make([]byte, size-frameInner-len(content))...), nil
}

// ReadFrame reads one frame and decodes it. buf is reused when large
// enough. A length prefix that is not a bucket size is refused before
// anything more is read.
func ReadFrame(r io.Reader, buf []byte) (*Msg, []byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, buf, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if n > MaxFrame || !isBucket(int(n)) {
		return nil, buf, ErrMalformed
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	body := buf[:n]
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, buf, err
	}
	m, err := ParseFrame(body)
	return m, buf, err
}

// ParseFrame decodes a frame body (what follows the length prefix).
func ParseFrame(body []byte) (*Msg, error) {
	if !isBucket(len(body)) {
		return nil, ErrMalformed
	}
	s := cryptobyte.String(body)
	var op uint8
	var n uint32
	if !s.ReadUint8(&op) || !s.ReadUint32(&n) || n > uint32(len(s)) {
		return nil, ErrMalformed
	}
	var content []byte
	if !s.ReadBytes(&content, int(n)) {
		return nil, ErrMalformed
	}
	if !allZero(s) || bucket(int(n)) != len(body) {
		return nil, ErrMalformed
	}
	return ParseMsg(Op(op), content)
}

func allZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}
