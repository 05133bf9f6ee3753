package mailbox

import (
	"encoding/binary"

	"golang.org/x/crypto/cryptobyte"
)

// Blobs.
//
// A blob is what a depositor leaves and a collector takes; the mailbox
// stores it as it came and never looks inside. Its content is a sequence of
// records, each a type byte, a 4-byte length and the payload, followed by
// zero padding up to one of BlobSizes (docs/PROTOCOL.md §3.6):
//
//	blob   = record+ || zero padding
//	record = type u8 (1..3) || len u32 (1..) || payload

// Record types of a blob.
const (
	RecRatchet = 1 // a Part 1 ratchet message (its plaintext is a bundle, §3.7)
	RecAsync1  = 2 // the first message of the asynchronous handshake (a sealed contact request)
	RecAsync2  = 3 // the answer of the asynchronous handshake
	recMax     = RecAsync2
)

// MaxRecords bounds the records of one blob.
const MaxRecords = 4

// Record is one record of a blob.
type Record struct {
	Type    uint8
	Payload []byte
}

// PackCapacity is the most payload bytes a blob of the largest size holds
// in one record.
const PackCapacity = MaxBlob - 5

// Pack encodes records into a blob padded to the smallest BlobSizes size
// that holds them. It returns ErrMalformed if they do not fit in MaxBlob or
// a record is empty or of an unknown type.
func Pack(recs ...Record) ([]byte, error) {
	if len(recs) == 0 || len(recs) > MaxRecords {
		return nil, ErrMalformed
	}
	n := 0
	for _, r := range recs {
		if r.Type == 0 || r.Type > recMax || len(r.Payload) == 0 {
			return nil, ErrMalformed
		}
		n += 5 + len(r.Payload)
	}
	size := -1
	for _, s := range BlobSizes {
		if n <= s {
			size = s
			break
		}
	}
	if size < 0 {
		return nil, ErrMalformed
	}
	b := make([]byte, 0, size)
	for _, r := range recs {
		b = append(b, r.Type)
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.Payload)))
		b = append(b, r.Payload...)
	}
	return b[:size], nil
}

// Unpack decodes a blob. The padding must be all zero and the blob the
// smallest size that holds its records, so that Pack(Unpack(b)) == b; a
// mailbox cannot make a blob decode two ways. Payloads alias b.
func Unpack(b []byte) ([]Record, error) {
	if !isBlobSize(len(b)) {
		return nil, ErrMalformed
	}
	s := cryptobyte.String(b)
	var recs []Record
	used := 0
	for len(s) > 0 && s[0] != 0 {
		var t uint8
		var n uint32
		var p []byte
		if len(recs) == MaxRecords || !s.ReadUint8(&t) || t > recMax || !s.ReadUint32(&n) || n == 0 ||
			n > uint32(len(s)) || !s.ReadBytes(&p, int(n)) {
			return nil, ErrMalformed
		}
		recs = append(recs, Record{Type: t, Payload: p})
		used += 5 + int(n)
	}
	if len(recs) == 0 || !allZero(s) {
		return nil, ErrMalformed
	}
	for _, sz := range BlobSizes {
		if used <= sz {
			if sz != len(b) {
				return nil, ErrMalformed
			}
			break
		}
	}
	return recs, nil
}
