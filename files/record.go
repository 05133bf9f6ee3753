package files

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Protocol sizes and limits (docs/PROTOCOL.md Part 4).
const (
	// ChunkSize is the number of file bytes in every chunk but a file's
	// last: a chunk with its header and the ratchet's largest overhead
	// fits the largest frame.
	ChunkSize = 29 * 1024
	// MaxSize is the largest file the protocol carries (1 TiB); each side
	// also applies its user's own limit.
	MaxSize = 1 << 40
	// SegmentSize is the number of file bytes per stored segment, and so
	// the granularity of acknowledgements and of resuming: each costs the
	// receiver two fsyncs for the segment and two for its record.
	SegmentSize = 4 << 20
	// Window is how many unacknowledged bytes a sender may have in
	// flight: several segments, so that the sender keeps sending while the
	// receiver commits one.
	Window = 16 << 20
	// IDLen is the size of a transfer ID.
	IDLen = 16
	// HashLen is the size of a SHA-256.
	HashLen = 32
)

// Transfer states.
const (
	Offered   = 0 // out: offered, not answered; in: waiting for the user
	Accepted  = 1 // accepted: bytes are moving (or will, on the next connection)
	Complete  = 2 // out: the receiver verified and stored it; in: verified and stored
	Refused   = 3 // the receiver said no
	Cancelled = 4 // the sender withdrew it
	Failed    = 5 // a check failed (size, hash, name, storage): Err says which
)

// Directions.
const (
	Out = 0
	In  = 1
)

// RecordVersion is the version of the transfer record.
const RecordVersion = 1

// ErrRecord is wrapped by every decoding error.
var ErrRecord = errors.New("files: damaged transfer record")

// Record is one transfer as stored (JSON, decoded strictly).
type Record struct {
	V         int      `json:"v"`
	ID        []byte   `json:"id"`
	Dir       int      `json:"dir"`
	Name      string   `json:"name"`
	Size      uint64   `json:"size"`
	Hash      []byte   `json:"hash"`
	State     int      `json:"state"`
	Offset    uint64   `json:"off,omitempty"`     // in: bytes durably stored
	HashState []byte   `json:"hs,omitempty"`      // in: SHA-256 state after Offset bytes
	At        int64    `json:"at"`                // when it was offered (sender's clock)
	Timer     int64    `json:"timer,omitempty"`   // disappearing timer, seconds
	Err       string   `json:"err,omitempty"`     // why it failed, for the user
	Removed   []string `json:"removed,omitempty"` // out: what scrubbing removed
	Method    string   `json:"method,omitempty"`  // out: how it was cleaned ("native", "mat2", "none", "kept")
	Notify    bool     `json:"notify,omitempty"`  // a state change the peer has not been told yet
}

// Validate checks ranges.
func (r *Record) Validate() error {
	switch {
	case r.V != RecordVersion:
		return fmt.Errorf("%w: version", ErrRecord)
	case len(r.ID) != IDLen || len(r.Hash) != HashLen:
		return fmt.Errorf("%w: id or hash", ErrRecord)
	case r.Dir != In && r.Dir != Out:
		return fmt.Errorf("%w: direction", ErrRecord)
	case Check(r.Name) != nil:
		return fmt.Errorf("%w: name", ErrRecord)
	case r.Size == 0 || r.Size > MaxSize || r.Offset > r.Size:
		return fmt.Errorf("%w: size", ErrRecord)
	case r.State < Offered || r.State > Failed:
		return fmt.Errorf("%w: state", ErrRecord)
	case len(r.HashState) > 256 || len(r.Err) > 1024 || len(r.Removed) > 64 || len(r.Method) > 16:
		return fmt.Errorf("%w: field too long", ErrRecord)
	case r.Timer < 0 || r.Timer > 28*24*3600:
		return fmt.Errorf("%w: timer", ErrRecord)
	}
	return nil
}

// Marshal encodes a valid record.
func (r *Record) Marshal() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(r)
}

// ParseRecord decodes a record strictly: unknown fields, trailing data or
// an out-of-range value are errors.
func ParseRecord(b []byte) (*Record, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var r Record
	if err := d.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRecord, err)
	}
	if _, err := d.Token(); err == nil {
		return nil, fmt.Errorf("%w: trailing data", ErrRecord)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	// "removed":[] and "hs":"" are the same record as none: Marshal omits
	// them, so a round trip must not tell them apart.
	if len(r.Removed) == 0 {
		r.Removed = nil
	}
	if len(r.HashState) == 0 {
		r.HashState = nil
	}
	return &r, nil
}
