package wire

import (
	"golang.org/x/crypto/cryptobyte"
)

// Messages about mailboxes (docs/PROTOCOL.md Part 3 §3.7): kinds 16 to 23
// are the mailbox's; 20 to 23 are reserved.
const (
	KindMailbox    Kind = 16 // an offer: leave messages for me at this mailbox service
	KindMailboxOK  Kind = 17 // the offer with this serial is stored
	KindMailboxOff Kind = 18 // stop using my offers up to this serial
	KindBundle     Kind = 19 // the messages of one mailbox blob
)

// Bundle limits.
const (
	// MaxBundle is the most messages one bundle carries.
	MaxBundle = 64
	// MaxBundleBytes bounds a bundle's encoding, so that its ratchet
	// message fits the largest blob.
	MaxBundleBytes = 30000
)

// Mailbox holds the fields of the mailbox kinds.
type Mailbox struct {
	Serial  uint32   // Mailbox, MailboxOK, MailboxOff
	Service [32]byte // Mailbox: the identity service's Ed25519 key
	Auth    [32]byte // Mailbox: the x25519 client-auth private key for it (secret)
	Token   [32]byte // Mailbox: the contact token (secret)
	MaxAge  uint32   // Mailbox: the mailbox's maximum age in seconds
	Seq     uint64   // Bundle: the sender's bundle counter for this contact
	Inner   []*Message
}

// Wipe clears the secrets of an offer.
func (mb *Mailbox) Wipe() {
	if mb != nil {
		clear(mb.Auth[:])
		clear(mb.Token[:])
	}
}

func isMailboxKind(k Kind) bool { return k >= KindMailbox && k <= KindBundle }

// inBundle reports whether a kind may travel inside a bundle.
func inBundle(k Kind) bool {
	switch k {
	case KindText, KindTimer, KindAck, KindMailbox, KindMailboxOK, KindMailboxOff:
		return true
	}
	return false
}

func (m *Message) marshalMailbox(b *cryptobyte.Builder) bool {
	mb := m.MB
	if mb == nil {
		return false
	}
	switch m.Kind {
	case KindMailbox:
		b.AddUint32(mb.Serial)
		b.AddBytes(mb.Service[:])
		b.AddBytes(mb.Auth[:])
		b.AddBytes(mb.Token[:])
		b.AddUint32(mb.MaxAge)
	case KindMailboxOK, KindMailboxOff:
		b.AddUint32(mb.Serial)
	case KindBundle:
		if len(mb.Inner) == 0 || len(mb.Inner) > MaxBundle {
			return false
		}
		b.AddUint64(mb.Seq)
		b.AddUint8(uint8(len(mb.Inner)))
		for _, in := range mb.Inner {
			if !inBundle(in.Kind) {
				return false
			}
			p, err := in.Marshal()
			if err != nil {
				return false
			}
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(p) })
			clear(p)
		}
	default:
		return false
	}
	return true
}

func parseMailbox(m *Message, s *cryptobyte.String) bool {
	mb := &Mailbox{}
	m.MB = mb
	switch m.Kind {
	case KindMailbox:
		return s.ReadUint32(&mb.Serial) && s.CopyBytes(mb.Service[:]) && s.CopyBytes(mb.Auth[:]) &&
			s.CopyBytes(mb.Token[:]) && s.ReadUint32(&mb.MaxAge)
	case KindMailboxOK, KindMailboxOff:
		return s.ReadUint32(&mb.Serial)
	case KindBundle:
		var n uint8
		if len(*s) > MaxBundleBytes || !s.ReadUint64(&mb.Seq) || !s.ReadUint8(&n) || n == 0 || n > MaxBundle {
			return false
		}
		for range n {
			var p cryptobyte.String
			if !s.ReadUint16LengthPrefixed(&p) || len(p) == 0 || !inBundle(Kind(p[0])) {
				return false
			}
			in, err := ParseMessage(p)
			if err != nil {
				return false
			}
			mb.Inner = append(mb.Inner, in)
		}
		return true
	}
	return false
}
