// Package files holds what Sotto's file transfers are made of, apart from
// the network: the rules for file names ([Clean], [Check]), the protocol's
// sizes and limits, the transfer record kept in the vault ([Record]), and
// the segmented storage of a file's bytes ([Writer], [Reader]) with its
// running SHA-256, which survives restarts so that a transfer continues
// where it stopped.
//
// The transfer protocol itself (offer, accept, chunks, acknowledgements,
// done, reject, cancel) is specified in docs/PROTOCOL.md Part 4 and run by
// the messenger core; its messages are encoded by internal/wire.
//
// # Storage
//
// A file's bytes are stored as a sequence of segments of [SegmentSize]
// bytes (the last one shorter, padded with zeros to a power of two of at
// least 1 KiB so that its size shows only a bucket), each one blob of a
// [Store]: in the vault, a standard age file. A [Writer] commits a segment
// (durably) each time one fills; only committed bytes are ever
// acknowledged to a sender, so a crash loses at most one segment, which
// the sender sends again.
package files
