// Package wire implements the framing and the message bodies of Sotto's
// transport over an onion stream, as docs/PROTOCOL.md Part 2 specifies:
// a preamble with the protocol version, length-prefixed frames padded to fixed
// size buckets with a hard maximum size, and the messages (text, timer change,
// acknowledgement, contact request, close, keep-alive, hello) that travel
// encrypted inside data frames.
//
// Everything here is pure: no I/O beyond the io.Reader/io.Writer it is given,
// no clocks, no keys. Every decoder rejects trailing bytes, non-zero padding
// and out-of-range values, so that parse then marshal gives back the same
// bytes.
package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
)

// Protocol constants (docs/PROTOCOL.md Part 2).
const (
	// Version is the transport protocol version carried in the preamble.
	// Version 2 goes with version 2 of the ratchet (Part 1); a peer of
	// another version is refused (docs/PROTOCOL.md, section 1.10).
	Version = 2
	// PreambleLen is the size of the preamble: "sotto" 0x00 0x00 then a
	// one-byte version... see Preamble.
	PreambleLen = 8
	// FrameHeaderLen is the 4-byte big-endian length that precedes a frame.
	FrameHeaderLen = 4
	// FrameTypeLen + ContentLenLen: the type byte and 4-byte content length
	// at the start of every frame body.
	frameInnerHeader = 1 + 4
	// MaxFrame is the hard maximum size of a frame body (the largest bucket).
	MaxFrame = 32768
	// IDLen is the size of a message ID.
	IDLen = 16
	// AuthKeyLen is the size of an x25519 client-auth public key.
	AuthKeyLen = 32
	// MaxText is the largest text (UTF-8 bytes) a text message or contact
	// request may carry.
	MaxText = 16384
	// MaxAcks is the largest number of IDs in one acknowledgement.
	MaxAcks = 64
	// MaxTimer is the largest disappearing timer in seconds (4 weeks).
	MaxTimer = 28 * 24 * 3600
	// MinTimer is the smallest non-zero disappearing timer in seconds.
	MinTimer = 30
)

// Buckets are the only frame body sizes allowed on the wire. A frame is padded
// with zeros to the smallest bucket its content fits in. The two smallest
// fill one and two Tor relay cells exactly (498 bytes of stream data each,
// with the 4-byte size): every ratchet message carries a fixed 343 bytes of
// overhead, so a short message (up to 146 bytes of plaintext) costs one
// cell on the wire, and one of up to 644 bytes two.
var buckets = [...]int{CellBucket, 2*CellBucket + FrameHeaderLen, 4096, 16384, MaxFrame}

// CellBucket is the smallest bucket: with its 4-byte size, a frame of this
// bucket is exactly one Tor relay cell's payload (498 bytes).
const CellBucket = 498 - FrameHeaderLen

// Bucket returns the body size a frame whose content has n bytes is padded
// to, or -1 if it is too large.
func Bucket(n int) int {
	for _, b := range buckets {
		if n+frameInnerHeader <= b {
			return b
		}
	}
	return -1
}

// MaxContent is the largest frame content.
const MaxContent = MaxFrame - frameInnerHeader

func isBucket(n int) bool {
	for _, b := range buckets {
		if n == b {
			return true
		}
	}
	return false
}

// Preamble is what each side writes first: "sotto" 0x00 then the version as a
// big-endian uint16.
func Preamble() []byte {
	b := []byte("sotto\x00\x00\x00")
	binary.BigEndian.PutUint16(b[6:], Version)
	return b
}

// ErrMalformed is returned for any frame or message that does not follow the
// protocol. The connection that carried it is dropped.
var ErrMalformed = errors.New("wire: malformed")

// ErrVersion is returned for a preamble of another protocol version.
var ErrVersion = errors.New("wire: unsupported protocol version")

// ReadPreamble reads and checks the peer's preamble.
func ReadPreamble(r io.Reader) error {
	var b [PreambleLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return err
	}
	if string(b[:6]) != "sotto\x00" {
		return ErrMalformed
	}
	if binary.BigEndian.Uint16(b[6:]) != Version {
		return ErrVersion
	}
	return nil
}

// FrameType is the type byte of a frame.
type FrameType uint8

const (
	// FrameHandshake carries a message of the ratchet handshake.
	FrameHandshake FrameType = 1
	// FrameData carries a ratchet ciphertext whose plaintext is a Message.
	FrameData FrameType = 2
)

func (t FrameType) String() string {
	switch t {
	case FrameHandshake:
		return "handshake"
	case FrameData:
		return "data"
	}
	return fmt.Sprintf("frame(%d)", uint8(t))
}

// AppendFrame appends the wire form of a frame (length prefix, type, content
// length, content, zero padding) to dst.
func AppendFrame(dst []byte, t FrameType, content []byte) ([]byte, error) {
	size := Bucket(len(content))
	if size < 0 {
		return dst, fmt.Errorf("wire: frame content of %d bytes is over the maximum %d", len(content), MaxContent)
	}
	// One allocation for the whole frame (the appends below would grow dst
	// three or four times; the engine builds every frame inside
	// runtime/secret.Do, where each allocation costs more).
	dst = slices.Grow(dst, FrameHeaderLen+size)
	dst = binary.BigEndian.AppendUint32(dst, uint32(size))
	dst = append(dst, byte(t))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(content)))
	dst = append(dst, content...)
	return append(dst, make([]byte, size-frameInnerHeader-len(content))...), nil
}

// WriteFrame writes one frame in a single Write call.
func WriteFrame(w io.Writer, t FrameType, content []byte) error {
	b, err := AppendFrame(nil, t, content)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// ReadFrameHeader reads the 4-byte length prefix and checks that it is a
// bucket size, before any of the body is read: an oversized or odd length is
// refused without reading further.
func ReadFrameHeader(r io.Reader) (int, error) {
	var h [FrameHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if n > MaxFrame || !isBucket(int(n)) {
		return 0, ErrMalformed
	}
	return int(n), nil
}

// ReadFrame reads one frame. buf is reused if it is large enough. The
// returned content aliases the buffer.
func ReadFrame(r io.Reader, buf []byte) (FrameType, []byte, error) {
	n, err := ReadFrameHeader(r)
	if err != nil {
		return 0, nil, err
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	t, content, err := ParseFrameBody(buf)
	return t, content, err
}

// ParseFrameBody parses a frame body (what follows the length prefix).
func ParseFrameBody(body []byte) (FrameType, []byte, error) {
	if !isBucket(len(body)) {
		return 0, nil, ErrMalformed
	}
	s := cryptobyte.String(body)
	var t uint8
	var n uint32
	if !s.ReadUint8(&t) || !s.ReadUint32(&n) || n > uint32(len(s)) {
		return 0, nil, ErrMalformed
	}
	ft := FrameType(t)
	if ft != FrameHandshake && ft != FrameData {
		return 0, nil, ErrMalformed
	}
	var content []byte
	if !s.ReadBytes(&content, int(n)) {
		return 0, nil, ErrMalformed
	}
	// The padding is all zeros, and the frame is the smallest bucket that fits.
	if !allZero(s) || Bucket(int(n)) != len(body) {
		return 0, nil, ErrMalformed
	}
	return ft, content, nil
}

func allZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}

// Kind is the type of a message carried in a data frame.
type Kind uint8

const (
	KindText      Kind = 1 // a text written by a person
	KindTimer     Kind = 2 // a change of the disappearing timer
	KindAck       Kind = 3 // acknowledgement of stored messages
	KindRequest   Kind = 4 // a contact request to an open-mode identity
	KindClose     Kind = 5 // the sender closes the connection
	KindKeepalive Kind = 6 // nothing; keeps the stream and its idle timer alive
	KindHello     Kind = 7 // the responder's first message: what the session is for
)

func (k Kind) String() string {
	switch k {
	case KindText:
		return "text"
	case KindTimer:
		return "timer"
	case KindAck:
		return "ack"
	case KindRequest:
		return "request"
	case KindClose:
		return "close"
	case KindKeepalive:
		return "keepalive"
	case KindHello:
		return "hello"
	}
	if isFileKind(k) {
		return fileKindString(k)
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Hello statuses.
const (
	HelloContact = 0 // the initiator is a contact: the session is open
	HelloRequest = 1 // the initiator is unknown to an open-mode identity: send one Request
)

// Close reasons.
const (
	CloseNormal   = 0 // the sender is going away
	ClosePending  = 1 // the contact request is stored and awaits approval
	CloseRejected = 2 // the contact request was refused (rate limit or cap)
)

// Message is a decoded message. Only the fields of its Kind are set.
type Message struct {
	Kind  Kind
	ID    [IDLen]byte // Text, Timer; Request with HasFirst
	At    uint64      // Text, Timer, Request with HasFirst: unix seconds, sender's clock
	Timer uint32      // Text: the sender's timer for it; Timer: the new timer (seconds, 0 = off)
	Text  string      // Text; Request with HasFirst

	Acks [][IDLen]byte // Ack

	AuthKey  [AuthKeyLen]byte // Request: the requester's client-auth public key
	HasFirst bool             // Request: it carries a first message (ID, At, Text)

	Status uint8 // Hello: HelloContact or HelloRequest; Close, FileReject, FileCancel: the reason

	MB *Mailbox // the mailbox kinds 16..19 (mailbox.go)

	// File messages (file.go); ID is the transfer's ID.
	Size   uint64   // FileOffer: the file's size
	Hash   [32]byte // FileOffer: its SHA-256
	Name   string   // FileOffer: its name (checked by the receiver, not here)
	Offset uint64   // FileAccept, FileAck, FileChunk
	Data   []byte   // FileChunk
}

func validTimer(t uint32) bool { return t == 0 || t >= MinTimer && t <= MaxTimer }

func validText(s string) bool { return len(s) <= MaxText && utf8.ValidString(s) }

// addText adds a text checked by validText with its 16-bit length: the
// encoding of AddUint16LengthPrefixed without the child builder it
// allocates.
func addText(b *cryptobyte.Builder, s string) {
	b.AddUint16(uint16(len(s))) // validText: at most MaxText < 1<<16
	b.AddBytes([]byte(s))
}

// Marshal returns the encoding of m, or an error if a field is out of range.
func (m *Message) Marshal() ([]byte, error) {
	// Sized for the kinds the engine sends with every message (texts,
	// acknowledgements) so that the encoding is one allocation: it is
	// built inside runtime/secret.Do, where each one costs more.
	b := cryptobyte.NewBuilder(make([]byte, 0, 64+len(m.Text)+len(m.Acks)*IDLen))
	b.AddUint8(uint8(m.Kind))
	switch m.Kind {
	case KindText:
		if !validTimer(m.Timer) || !validText(m.Text) || m.Text == "" {
			return nil, ErrMalformed
		}
		b.AddBytes(m.ID[:])
		b.AddUint64(m.At)
		b.AddUint32(m.Timer)
		addText(b, m.Text)
	case KindTimer:
		if !validTimer(m.Timer) {
			return nil, ErrMalformed
		}
		b.AddBytes(m.ID[:])
		b.AddUint64(m.At)
		b.AddUint32(m.Timer)
	case KindAck:
		if len(m.Acks) == 0 || len(m.Acks) > MaxAcks {
			return nil, ErrMalformed
		}
		b.AddUint16(uint16(len(m.Acks)))
		for _, id := range m.Acks {
			b.AddBytes(id[:])
		}
	case KindRequest:
		b.AddBytes(m.AuthKey[:])
		if m.HasFirst {
			if !validText(m.Text) || m.Text == "" {
				return nil, ErrMalformed
			}
			b.AddUint8(1)
			b.AddBytes(m.ID[:])
			b.AddUint64(m.At)
			addText(b, m.Text)
		} else {
			b.AddUint8(0)
		}
	case KindClose:
		if m.Status > CloseRejected {
			return nil, ErrMalformed
		}
		b.AddUint8(m.Status)
	case KindKeepalive:
	case KindHello:
		if m.Status > HelloRequest {
			return nil, ErrMalformed
		}
		b.AddUint8(m.Status)
	default:
		switch {
		case isMailboxKind(m.Kind):
			if !m.marshalMailbox(b) {
				return nil, ErrMalformed
			}
		case isFileKind(m.Kind):
			if !marshalFile(b, m) {
				return nil, ErrMalformed
			}
		default:
			return nil, ErrMalformed
		}
	}
	out, err := b.Bytes()
	if err == nil && m.Kind == KindBundle && len(out)-1 > MaxBundleBytes {
		return nil, ErrMalformed
	}
	return out, err
}

// ParseMessage decodes a message; any deviation from the encoding (unknown
// kind, short or trailing bytes, out-of-range value, invalid UTF-8) is
// ErrMalformed.
func ParseMessage(p []byte) (*Message, error) {
	s := cryptobyte.String(p)
	var k uint8
	if !s.ReadUint8(&k) {
		return nil, ErrMalformed
	}
	m := &Message{Kind: Kind(k)}
	ok := true
	readText := func() bool {
		var t cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&t) || len(t) == 0 || !validText(string(t)) {
			return false
		}
		m.Text = string(t)
		return true
	}
	switch m.Kind {
	case KindText:
		ok = s.CopyBytes(m.ID[:]) && s.ReadUint64(&m.At) && s.ReadUint32(&m.Timer) &&
			validTimer(m.Timer) && readText()
	case KindTimer:
		ok = s.CopyBytes(m.ID[:]) && s.ReadUint64(&m.At) && s.ReadUint32(&m.Timer) && validTimer(m.Timer)
	case KindAck:
		var n uint16
		ok = s.ReadUint16(&n) && n > 0 && n <= MaxAcks && len(s) == int(n)*IDLen
		if ok {
			m.Acks = make([][IDLen]byte, 0, n) // n is bounded and its bytes are there
		}
		for i := 0; ok && i < int(n); i++ {
			var id [IDLen]byte
			ok = s.CopyBytes(id[:])
			m.Acks = append(m.Acks, id)
		}
	case KindRequest:
		var has uint8
		ok = s.CopyBytes(m.AuthKey[:]) && s.ReadUint8(&has) && has <= 1
		if ok && has == 1 {
			m.HasFirst = true
			ok = s.CopyBytes(m.ID[:]) && s.ReadUint64(&m.At) && readText()
		}
	case KindClose:
		ok = s.ReadUint8(&m.Status) && m.Status <= CloseRejected
	case KindKeepalive:
	case KindHello:
		ok = s.ReadUint8(&m.Status) && m.Status <= HelloRequest
	default:
		ok = isMailboxKind(m.Kind) && parseMailbox(m, &s) || isFileKind(m.Kind) && parseFile(&s, m)
	}
	if !ok || !s.Empty() {
		return nil, ErrMalformed
	}
	return m, nil
}

// Equal reports whether two encodings are the same (for tests and fuzzing).
func Equal(a, b []byte) bool { return bytes.Equal(a, b) }
