// Package format implements the plaintext encodings inside Sotto's vault
// files: the key file, record shards, conversation-log segments and log
// metadata.
//
// Every encoding here is the plaintext of an [age] file; age provides
// confidentiality and integrity, this package provides structure. Each decoder
// is strict: lengths are bounded, padding must be zero, lists must be in
// canonical order, so that parsing then marshalling gives back the same bytes
// (the fuzz targets under fuzz/vault check that property).
//
// [age]: https://age-encryption.org/v1
package format

import (
	"errors"
	"fmt"
	"math/bits"
)

// Limits on what a file may hold. They bound memory when decoding a hostile
// file; the vault package enforces the same limits on what callers store.
const (
	MaxKind       = 64       // bytes in a record kind
	MaxKey        = 1024     // bytes in a record key
	MaxValue      = 1 << 20  // bytes in a record value or log entry value
	MaxLogName    = 255      // bytes in a conversation log's name
	MaxID         = 255      // bytes in a log entry ID
	MaxRecords    = 1 << 16  // records in one shard
	MaxEntries    = 1 << 16  // entries in one segment
	MaxSegments   = 1 << 24  // live segments in one log
	MaxPlaintext  = 64 << 20 // bytes of plaintext in one vault file
	SegmentTarget = 64 << 10 // a segment is closed once it would grow past this
)

// Padding buckets: sizes up to [SegmentTarget] are rounded up to a power of
// two of at least MinBucket bytes; larger ones to a multiple of
// SegmentTarget.
const MinBucket = 1024

// Magic numbers opening each padded encoding (they double as the version).
// Version 2 of shards and segments adds the file's write counter (see
// [Manifest]); version 1 files, written before it, still parse (as
// Legacy, counter 0) and marshal back to the same bytes.
const (
	shardMagic     = "SVR2" // a record shard
	segmentMagic   = "SVS2" // a conversation-log segment
	shardMagicV1   = "SVR1" // a record shard without a write counter
	segmentMagicV1 = "SVS1" // a segment without a write counter
	metaMagic      = "SVM1" // a conversation log's metadata (a record value)
	manifestMagic  = "SVF1" // the manifest: every file's write counter
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed vault data")

func malformed(what string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(what, args...))
}

// PaddedSize is the size a plaintext of n bytes is padded to.
func PaddedSize(n int) int {
	switch {
	case n <= MinBucket:
		return MinBucket
	case n <= SegmentTarget:
		return 1 << bits.Len(uint(n-1))
	default:
		return (n + SegmentTarget - 1) / SegmentTarget * SegmentTarget
	}
}
