package wire

import (
	"golang.org/x/crypto/cryptobyte"

	"github.com/sottochat/sotto/files"
)

// File transfer messages (docs/PROTOCOL.md Part 4): kinds 8 to 15.
const (
	KindFileOffer  Kind = 8  // the sender offers a file
	KindFileAccept Kind = 9  // the receiver accepts, or resumes, from an offset
	KindFileReject Kind = 10 // the receiver refuses (or confirms a cancel)
	KindFileChunk  Kind = 11 // file bytes at an offset
	KindFileAck    Kind = 12 // the receiver has durably stored the bytes before an offset
	KindFileDone   Kind = 13 // the receiver verified and stored the whole file
	KindFileCancel Kind = 14 // the sender withdraws the file
)

// Reasons of file_reject.
const (
	RejectDeclined  = 0 // the receiver's user declined it
	RejectTooLarge  = 1 // over the receiver's size limit
	RejectBusy      = 2 // too many transfers from this contact at once
	RejectName      = 3 // its name breaks the rules of files.Check
	RejectBadData   = 4 // a check failed: size, chunking, hash, or a decompression bomb
	RejectStorage   = 5 // the receiver could not store it
	RejectCancelled = 6 // confirms the sender's cancel
	maxReject       = RejectCancelled
)

// Reasons of file_cancel.
const (
	CancelUser    = 0 // the sender's user cancelled
	CancelExpired = 1 // its disappearing timer ran out, or it was deleted
	CancelStalled = 2 // the receiver stopped acknowledging
	CancelFailed  = 3 // the sender's stored copy failed
	maxCancel     = CancelFailed
)

func isFileKind(k Kind) bool { return k >= KindFileOffer && k <= KindFileCancel }

func fileKindString(k Kind) string {
	return [...]string{"file_offer", "file_accept", "file_reject", "file_chunk", "file_ack", "file_done", "file_cancel"}[k-KindFileOffer]
}

func marshalFile(b *cryptobyte.Builder, m *Message) bool {
	b.AddBytes(m.ID[:])
	switch m.Kind {
	case KindFileOffer:
		if !validTimer(m.Timer) || m.Size == 0 || m.Size > files.MaxSize || len(m.Name) == 0 || len(m.Name) > files.MaxName {
			return false
		}
		b.AddUint64(m.At)
		b.AddUint32(m.Timer)
		b.AddUint64(m.Size)
		b.AddBytes(m.Hash[:])
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(m.Name)) })
	case KindFileAccept, KindFileAck:
		if m.Offset > files.MaxSize {
			return false
		}
		b.AddUint64(m.Offset)
	case KindFileReject:
		if m.Status > maxReject {
			return false
		}
		b.AddUint8(m.Status)
	case KindFileCancel:
		if m.Status > maxCancel {
			return false
		}
		b.AddUint8(m.Status)
	case KindFileChunk:
		if len(m.Data) == 0 || len(m.Data) > files.ChunkSize || m.Offset > files.MaxSize-uint64(len(m.Data)) {
			return false
		}
		b.AddUint64(m.Offset)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.Data) })
	case KindFileDone:
	}
	return true
}

func parseFile(s *cryptobyte.String, m *Message) bool {
	if !s.CopyBytes(m.ID[:]) {
		return false
	}
	switch m.Kind {
	case KindFileOffer:
		var name cryptobyte.String
		if !s.ReadUint64(&m.At) || !s.ReadUint32(&m.Timer) || !validTimer(m.Timer) || !s.ReadUint64(&m.Size) ||
			m.Size == 0 || m.Size > files.MaxSize || !s.CopyBytes(m.Hash[:]) || !s.ReadUint8LengthPrefixed(&name) || len(name) == 0 {
			return false
		}
		m.Name = string(name)
	case KindFileAccept, KindFileAck:
		return s.ReadUint64(&m.Offset) && m.Offset <= files.MaxSize
	case KindFileReject:
		return s.ReadUint8(&m.Status) && m.Status <= maxReject
	case KindFileCancel:
		return s.ReadUint8(&m.Status) && m.Status <= maxCancel
	case KindFileChunk:
		var data cryptobyte.String
		if !s.ReadUint64(&m.Offset) || !s.ReadUint16LengthPrefixed(&data) || len(data) == 0 ||
			len(data) > files.ChunkSize || m.Offset > files.MaxSize-uint64(len(data)) {
			return false
		}
		m.Data = append([]byte(nil), data...)
	}
	return true
}
