package format

import (
	"bytes"
	"encoding/binary"
	"slices"

	"golang.org/x/crypto/cryptobyte"
)

// Record is one small record of a shard.
type Record struct {
	Kind  string
	Key   string
	Value []byte
}

// Shard is the plaintext of a record shard file: the records whose
// (kind, key) hash to shard Index, sorted by kind then key. Version counts
// the writes of the file (see [Manifest]); Legacy marks a version 1
// encoding, which has no counter (Version is then 0).
type Shard struct {
	Index   uint16
	Version uint64
	Legacy  bool
	Records []Record
}

// Entry is one entry of a conversation log.
type Entry struct {
	ID    string
	Value []byte
}

// Segment is the plaintext of a log segment file: a run of entries of log
// Log, in append order. Seq is the segment's position in the log; it and the
// log's name bind the content to its file name. Version counts the writes of
// the file (see [Manifest]); Legacy marks a version 1 encoding, which has no
// counter (Version is then 0).
type Segment struct {
	Log     string
	Seq     uint32
	Version uint64
	Legacy  bool
	Entries []Entry
}

// LogMeta describes a conversation log; it is stored as a record value.
// Live lists the sequence numbers of the log's segments in increasing order,
// all below Next, the number the next new segment takes. Dropping marks a log
// whose segments are being destroyed; Merge, a merge under way.
type LogMeta struct {
	Next     uint32
	Dropping bool
	Live     []uint32
	Merge    *Merge
}

// Merge records a compaction under way: segment From's entries are being
// moved into segment Into (its live neighbour, either side, the entries
// staying in log order), which held IntoCount entries before. If Into holds
// another count, the move happened.
type Merge struct {
	From, Into, IntoCount uint32
}

const (
	flagDropping = 1 << iota
	flagMerge
)

// frame wraps body in magic, its length and zero padding.
func frame(magic string, body []byte) []byte {
	n := PaddedSize(8 + len(body))
	out := make([]byte, 8, n)
	copy(out, magic)
	out[4], out[5], out[6], out[7] = byte(len(body)>>24), byte(len(body)>>16), byte(len(body)>>8), byte(len(body))
	out = append(out, body...)
	return out[:n] // the tail of a fresh make is zero
}

// framed starts the padded encoding of a body of n bytes, in one
// allocation: out is the whole encoding (magic, length, then n bytes of
// body and zero padding), b its first 8 bytes to append the body to, in
// place (a shard or segment is marshalled on every write of its file, a
// segment of up to 64 KiB on every append: one buffer instead of a
// builder's growing ones and children). checkFramed checks the body filled
// exactly n bytes.
func framed(magic string, n int) (out, b []byte, err error) {
	if 8+n > MaxPlaintext {
		return nil, nil, malformed("%d bytes is over the limit", 8+n)
	}
	out = make([]byte, PaddedSize(8+n)) // the padding is zero
	b = append(out[:0], magic...)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	return out, b, nil
}

// checkFramed reports an internal error if the body appended to framed's b
// is not the n bytes announced (b would then have moved off out).
func checkFramed(b []byte, n int) error {
	if len(b) != 8+n {
		return malformed("internal error: encoded %d bytes, sized %d", len(b)-8, n)
	}
	return nil
}

// unframe checks magic, length and padding and returns the body.
func unframe(magic string, b []byte) ([]byte, error) {
	if len(b) > MaxPlaintext {
		return nil, malformed("%d bytes is over the limit", len(b))
	}
	s := cryptobyte.String(b)
	var m []byte
	var n uint32
	if !s.ReadBytes(&m, 4) || string(m) != magic {
		return nil, malformed("not a %s record", magic)
	}
	if !s.ReadUint32(&n) || int64(n) > int64(len(s)) {
		return nil, malformed("bad length")
	}
	body := []byte(s[:n])
	pad := s[n:]
	if len(b) != PaddedSize(8+int(n)) {
		return nil, malformed("bad padding length")
	}
	for _, c := range pad {
		if c != 0 {
			return nil, malformed("non-zero padding")
		}
	}
	return body, nil
}

func less(a, b *Record) bool {
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	return a.Key < b.Key
}

// CheckRecord reports whether kind, key and value are within the limits.
func CheckRecord(kind, key string, value []byte) error {
	switch {
	case kind == "" || len(kind) > MaxKind:
		return malformed("a record kind is 1 to %d bytes", MaxKind)
	case len(key) > MaxKey:
		return malformed("a record key is at most %d bytes", MaxKey)
	case len(value) > MaxValue:
		return malformed("a record value is at most %d bytes", MaxValue)
	}
	return nil
}

// Marshal encodes s, padded. The records must be sorted and unique.
func (s *Shard) Marshal() ([]byte, error) {
	if len(s.Records) > MaxRecords {
		return nil, malformed("too many records in one shard")
	}
	if s.Legacy && s.Version != 0 {
		return nil, malformed("a version 1 shard has no write counter")
	}
	n := 2 + 4
	if !s.Legacy {
		n += 8
	}
	for i := range s.Records {
		r := &s.Records[i]
		if err := CheckRecord(r.Kind, r.Key, r.Value); err != nil {
			return nil, err
		}
		if i > 0 && !less(&s.Records[i-1], r) {
			return nil, malformed("records out of order")
		}
		n += 1 + len(r.Kind) + 2 + len(r.Key) + 4 + len(r.Value)
	}
	magic := shardMagic
	if s.Legacy {
		magic = shardMagicV1
	}
	out, b, err := framed(magic, n)
	if err != nil {
		return nil, err
	}
	b = binary.BigEndian.AppendUint16(b, s.Index)
	if !s.Legacy {
		b = binary.BigEndian.AppendUint64(b, s.Version)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Records)))
	for i := range s.Records {
		r := &s.Records[i]
		b = append(append(b, byte(len(r.Kind))), r.Kind...)
		b = append(binary.BigEndian.AppendUint16(b, uint16(len(r.Key))), r.Key...)
		b = append(binary.BigEndian.AppendUint32(b, uint32(len(r.Value))), r.Value...)
	}
	if err := checkFramed(b, n); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseShard decodes a shard, version 2 or 1. The returned values alias b.
func ParseShard(b []byte) (*Shard, error) {
	sh := &Shard{}
	body, err := unframe(shardMagic, b)
	if err != nil && len(b) >= 4 && string(b[:4]) == shardMagicV1 {
		sh.Legacy = true
		body, err = unframe(shardMagicV1, b)
	}
	if err != nil {
		return nil, err
	}
	s := cryptobyte.String(body)
	var n uint32
	if !s.ReadUint16(&sh.Index) || (!sh.Legacy && !s.ReadUint64(&sh.Version)) ||
		!s.ReadUint32(&n) || n > MaxRecords || int64(n)*7 > int64(len(s)) {
		return nil, malformed("bad shard header")
	}
	sh.Records = make([]Record, 0, n)
	for i := uint32(0); i < n; i++ {
		var kind, key, value cryptobyte.String
		if !s.ReadUint8LengthPrefixed(&kind) || !s.ReadUint16LengthPrefixed(&key) || !readUint32Prefixed(&s, &value) {
			return nil, malformed("truncated record")
		}
		r := Record{Kind: string(kind), Key: string(key), Value: []byte(value)}
		if err := CheckRecord(r.Kind, r.Key, r.Value); err != nil {
			return nil, err
		}
		if i > 0 && !less(&sh.Records[i-1], &r) {
			return nil, malformed("records out of order")
		}
		sh.Records = append(sh.Records, r)
	}
	if !s.Empty() {
		return nil, malformed("trailing bytes in shard")
	}
	return sh, nil
}

// CheckEntry reports whether a log name, entry ID and value are within the
// limits.
func CheckEntry(log, id string, value []byte) error {
	switch {
	case log == "" || len(log) > MaxLogName:
		return malformed("a log name is 1 to %d bytes", MaxLogName)
	case id == "" || len(id) > MaxID:
		return malformed("an entry ID is 1 to %d bytes", MaxID)
	case len(value) > MaxValue:
		return malformed("an entry value is at most %d bytes", MaxValue)
	}
	return nil
}

// EntrySize is what an entry adds to a segment's encoding.
func EntrySize(id string, value []byte) int { return 1 + len(id) + 4 + len(value) }

// HeaderSize is the size of a segment's encoding before its entries.
func HeaderSize(log string) int { return 8 + 2 + len(log) + 4 + 8 + 4 }

// Marshal encodes s, padded.
func (s *Segment) Marshal() ([]byte, error) {
	if len(s.Entries) > MaxEntries {
		return nil, malformed("too many entries in one segment")
	}
	if s.Legacy && s.Version != 0 {
		return nil, malformed("a version 1 segment has no write counter")
	}
	if s.Log == "" || len(s.Log) > MaxLogName {
		return nil, malformed("bad log name")
	}
	n := 2 + len(s.Log) + 4 + 4
	if !s.Legacy {
		n += 8
	}
	for i := range s.Entries {
		e := &s.Entries[i]
		if err := CheckEntry(s.Log, e.ID, e.Value); err != nil {
			return nil, err
		}
		n += EntrySize(e.ID, e.Value)
	}
	magic := segmentMagic
	if s.Legacy {
		magic = segmentMagicV1
	}
	out, b, err := framed(magic, n)
	if err != nil {
		return nil, err
	}
	b = append(binary.BigEndian.AppendUint16(b, uint16(len(s.Log))), s.Log...)
	b = binary.BigEndian.AppendUint32(b, s.Seq)
	if !s.Legacy {
		b = binary.BigEndian.AppendUint64(b, s.Version)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Entries)))
	for i := range s.Entries {
		e := &s.Entries[i]
		b = append(append(b, byte(len(e.ID))), e.ID...)
		b = append(binary.BigEndian.AppendUint32(b, uint32(len(e.Value))), e.Value...)
	}
	if err := checkFramed(b, n); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseSegment decodes a segment, version 2 or 1. The returned values alias
// b.
func ParseSegment(b []byte) (*Segment, error) {
	seg := &Segment{}
	body, err := unframe(segmentMagic, b)
	if err != nil && len(b) >= 4 && string(b[:4]) == segmentMagicV1 {
		seg.Legacy = true
		body, err = unframe(segmentMagicV1, b)
	}
	if err != nil {
		return nil, err
	}
	s := cryptobyte.String(body)
	var log cryptobyte.String
	var n uint32
	if !s.ReadUint16LengthPrefixed(&log) || len(log) == 0 || len(log) > MaxLogName ||
		!s.ReadUint32(&seg.Seq) || (!seg.Legacy && !s.ReadUint64(&seg.Version)) ||
		!s.ReadUint32(&n) || n > MaxEntries || int64(n)*6 > int64(len(s)) {
		return nil, malformed("bad segment header")
	}
	seg.Log = string(log)
	seg.Entries = make([]Entry, 0, n)
	for i := uint32(0); i < n; i++ {
		var id, value cryptobyte.String
		if !s.ReadUint8LengthPrefixed(&id) || !readUint32Prefixed(&s, &value) {
			return nil, malformed("truncated entry")
		}
		e := Entry{ID: string(id), Value: []byte(value)}
		if err := CheckEntry(seg.Log, e.ID, e.Value); err != nil {
			return nil, err
		}
		seg.Entries = append(seg.Entries, e)
	}
	if !s.Empty() {
		return nil, malformed("trailing bytes in segment")
	}
	return seg, nil
}

func (m *LogMeta) check() error {
	for i, q := range m.Live {
		if q >= m.Next || (i > 0 && q <= m.Live[i-1]) {
			return malformed("segment list out of order")
		}
	}
	if g := m.Merge; g != nil {
		i, j := slices.Index(m.Live, g.From), slices.Index(m.Live, g.Into)
		if i < 0 || j < 0 || (i-j != 1 && j-i != 1) || g.IntoCount > MaxEntries {
			return malformed("bad merge record")
		}
	}
	return nil
}

// Marshal encodes m (unpadded: it lives inside a shard).
func (m *LogMeta) Marshal() ([]byte, error) {
	if len(m.Live) > MaxSegments {
		return nil, malformed("too many segments")
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddBytes([]byte(metaMagic))
	b.AddUint32(m.Next)
	var flags uint8
	if m.Dropping {
		flags |= flagDropping
	}
	if m.Merge != nil {
		flags |= flagMerge
	}
	b.AddUint8(flags)
	if m.Merge != nil {
		b.AddUint32(m.Merge.From)
		b.AddUint32(m.Merge.Into)
		b.AddUint32(m.Merge.IntoCount)
	}
	b.AddUint32(uint32(len(m.Live)))
	for _, q := range m.Live {
		b.AddUint32(q)
	}
	return b.Bytes()
}

// ParseLogMeta decodes a log's metadata.
func ParseLogMeta(b []byte) (*LogMeta, error) {
	s := cryptobyte.String(b)
	var magic []byte
	m := &LogMeta{}
	var flags uint8
	var n uint32
	if !s.ReadBytes(&magic, 4) || string(magic) != metaMagic || !s.ReadUint32(&m.Next) ||
		!s.ReadUint8(&flags) || flags > flagDropping|flagMerge {
		return nil, malformed("bad log metadata")
	}
	m.Dropping = flags&flagDropping != 0
	if flags&flagMerge != 0 {
		m.Merge = &Merge{}
		if !s.ReadUint32(&m.Merge.From) || !s.ReadUint32(&m.Merge.Into) || !s.ReadUint32(&m.Merge.IntoCount) {
			return nil, malformed("bad log metadata")
		}
	}
	if !s.ReadUint32(&n) || n > MaxSegments || int64(n)*4 != int64(len(s)) {
		return nil, malformed("bad log metadata")
	}
	m.Live = make([]uint32, n)
	for i := range m.Live {
		s.ReadUint32(&m.Live[i])
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

// Key file: the plaintext of the passphrase-encrypted key file is an age
// identity file holding the vault's one identity, so that the age tool can
// use it directly.
const (
	keyFileHeader  = "# sotto vault key v1\n"
	identityPrefix = "AGE-SECRET-KEY-PQ-1"
	maxIdentity    = 256
)

// MarshalKeyFile returns the key file plaintext for an age identity string.
// The caller wipes the result.
func MarshalKeyFile(identity []byte) ([]byte, error) {
	if err := checkIdentity(identity); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(keyFileHeader)+len(identity)+1)
	out = append(out, keyFileHeader...)
	out = append(out, identity...)
	return append(out, '\n'), nil
}

// ParseKeyFile returns the identity in a key file plaintext, as a sub-slice
// of b (so that it stays wherever b is, such as locked memory).
func ParseKeyFile(b []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(b, []byte(keyFileHeader))
	if !ok || len(rest) < 2 || rest[len(rest)-1] != '\n' {
		return nil, malformed("not a vault key file")
	}
	id := rest[:len(rest)-1]
	if err := checkIdentity(id); err != nil {
		return nil, err
	}
	return id, nil
}

func checkIdentity(id []byte) error {
	if len(id) > maxIdentity || !bytes.HasPrefix(id, []byte(identityPrefix)) || len(id) == len(identityPrefix) {
		return malformed("not a post-quantum age identity")
	}
	for _, c := range id {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return malformed("not a post-quantum age identity")
		}
	}
	return nil
}

// readUint32Prefixed reads a uint32 length and that many bytes.
func readUint32Prefixed(s *cryptobyte.String, out *cryptobyte.String) bool {
	var n uint32
	if !s.ReadUint32(&n) || int64(n) > int64(len(*s)) {
		return false
	}
	return s.ReadBytes((*[]byte)(out), int(n))
}
