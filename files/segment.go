package files

import (
	"crypto/sha256"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
)

// Store keeps a file's segments: the vault's blobs, or memory.
type Store interface {
	CreateBlob(name string) (BlobWriter, error)
	OpenBlob(name string) (io.ReadCloser, error)
	RemoveBlob(name string) error
}

// BlobWriter is one segment being written; Commit makes it durable.
type BlobWriter interface {
	io.Writer
	Commit() error
	Abort()
}

// SegmentName is the blob name of segment i of the file stored under key.
func SegmentName(key string, i uint64) string { return key + "/" + strconv.FormatUint(i, 10) }

// Segments is the number of segments of a file of size bytes.
func Segments(size uint64) uint64 { return (size + SegmentSize - 1) / SegmentSize }

// Remove deletes every segment of a file of size bytes.
func Remove(st Store, key string, size uint64) error {
	var first error
	for i := uint64(0); i < Segments(size); i++ {
		if err := st.RemoveBlob(SegmentName(key, i)); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// ErrTooMuch: more bytes than the file's declared size.
var ErrTooMuch = errors.New("files: more data than the declared size")

// Writer stores the bytes of one file of known size, in order, from a
// segment boundary, and hashes them. Each full segment (and the last) is
// committed as it completes; Durable says how many bytes survive a crash.
type Writer struct {
	st      Store
	key     string
	size    uint64
	off     uint64 // bytes written
	durable uint64 // bytes committed
	seg     BlobWriter
	segLen  int
	h       hash.Hash
	state   []byte // hash state at durable
	unknown bool   // the size is set by Finish
}

// NewWriter starts or resumes a file at offset (0, or a durable offset a
// previous Writer reported, with its HashState). A size of 0 means not
// known yet: Finish then ends the file.
func NewWriter(st Store, key string, size, offset uint64, hashState []byte) (*Writer, error) {
	unknown := size == 0
	if unknown {
		size = MaxSize
	}
	if size > MaxSize || offset > size || offset%SegmentSize != 0 && offset != size || unknown && offset != 0 {
		return nil, fmt.Errorf("files: bad size %d or offset %d", size, offset)
	}
	h := sha256.New()
	if offset > 0 {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(hashState); err != nil {
			return nil, fmt.Errorf("%w: hash state", ErrRecord)
		}
	}
	w := &Writer{st: st, key: key, size: size, off: offset, durable: offset, h: h, unknown: unknown}
	w.state, _ = h.(encoding.BinaryMarshaler).MarshalBinary()
	return w, nil
}

// Write stores p. It commits segments as they fill; an error leaves the
// file resumable at Durable.
func (w *Writer) Write(p []byte) (int, error) {
	if uint64(len(p)) > w.size-w.off {
		return 0, ErrTooMuch
	}
	done := 0
	for len(p) > 0 {
		if w.seg == nil {
			s, err := w.st.CreateBlob(SegmentName(w.key, w.off/SegmentSize))
			if err != nil {
				return done, err
			}
			w.seg, w.segLen = s, 0
		}
		n := min(len(p), SegmentSize-w.segLen)
		if _, err := w.seg.Write(p[:n]); err != nil {
			w.abort()
			return done, err
		}
		w.h.Write(p[:n])
		w.off += uint64(n)
		w.segLen += n
		done += n
		p = p[n:]
		if w.segLen == SegmentSize || w.off == w.size && !w.unknown {
			if err := w.commit(); err != nil {
				return done, err
			}
		}
	}
	return done, nil
}

// Finish ends a file written without a known size: its size is what was
// written, the last segment is committed, and the size and SHA-256 are
// returned.
func (w *Writer) Finish() (uint64, [HashLen]byte, error) {
	if !w.unknown || w.h == nil {
		return 0, [HashLen]byte{}, errors.New("files: Finish on a file of known size, or after a failed write")
	}
	if w.off == 0 {
		return 0, [HashLen]byte{}, errors.New("files: the file is empty")
	}
	w.size, w.unknown = w.off, false
	if w.seg != nil {
		if err := w.commit(); err != nil {
			return 0, [HashLen]byte{}, err
		}
	}
	sum, err := w.Sum()
	return w.size, sum, err
}

// Discard removes every segment this Writer committed (a send given up).
func (w *Writer) Discard() {
	w.Close()
	for i := uint64(0); i*SegmentSize < w.durable; i++ {
		w.st.RemoveBlob(SegmentName(w.key, i))
	}
}

func (w *Writer) commit() error {
	if w.off == w.size && w.segLen < SegmentSize {
		// Pad the last segment to a bucket: its size shows only that.
		pad := 1024
		for pad < w.segLen {
			pad *= 2
		}
		pad = min(pad, SegmentSize) - w.segLen
		if _, err := w.seg.Write(make([]byte, pad)); err != nil {
			w.abort()
			return err
		}
	}
	err := w.seg.Commit()
	w.seg = nil
	if err != nil {
		w.off = w.durable
		w.h = nil
		return err
	}
	w.durable = w.off
	w.state, _ = w.h.(encoding.BinaryMarshaler).MarshalBinary()
	return nil
}

func (w *Writer) abort() {
	if w.seg != nil {
		w.seg.Abort()
		w.seg = nil
	}
	w.off = w.durable
	w.h = nil // unusable: resume from Durable with a new Writer
}

// Durable is the number of bytes committed.
func (w *Writer) Durable() uint64 { return w.durable }

// HashState is the SHA-256 state after Durable bytes, to store with it.
func (w *Writer) HashState() []byte { return append([]byte(nil), w.state...) }

// Sum is the SHA-256 of the whole file, once Durable is its size.
func (w *Writer) Sum() ([HashLen]byte, error) {
	var s [HashLen]byte
	if w.durable != w.size || w.h == nil {
		return s, errors.New("files: the file is not complete")
	}
	copy(s[:], w.h.Sum(nil))
	return s, nil
}

// Close throws away a segment not yet committed.
func (w *Writer) Close() {
	if w.seg != nil {
		w.seg.Abort()
		w.seg = nil
	}
}

// Reader reads a stored file of size bytes from an offset.
type Reader struct {
	st      Store
	key     string
	size    uint64
	pos     uint64
	cur     io.ReadCloser
	segLeft uint64
}

// NewReader reads the file stored under key from offset.
func NewReader(st Store, key string, size, offset uint64) *Reader {
	return &Reader{st: st, key: key, size: size, pos: offset}
}

// Pos is the offset of the next byte Read returns.
func (r *Reader) Pos() uint64 { return r.pos }

func (r *Reader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if r.cur == nil {
		i := r.pos / SegmentSize
		rc, err := r.st.OpenBlob(SegmentName(r.key, i))
		if err != nil {
			return 0, err
		}
		skip := r.pos % SegmentSize
		if _, err := io.CopyN(io.Discard, rc, int64(skip)); err != nil {
			rc.Close()
			return 0, fmt.Errorf("files: a stored segment is short: %w", err)
		}
		r.cur = rc
		r.segLeft = min(SegmentSize, r.size-i*SegmentSize) - skip
	}
	if uint64(len(p)) > r.segLeft {
		p = p[:r.segLeft]
	}
	n, err := io.ReadFull(r.cur, p)
	r.pos += uint64(n)
	r.segLeft -= uint64(n)
	if err != nil {
		r.Close()
		return n, fmt.Errorf("files: a stored segment is short: %w", err)
	}
	if r.segLeft == 0 {
		r.Close()
	}
	return n, nil
}

// Close releases the open segment.
func (r *Reader) Close() error {
	if r.cur != nil {
		err := r.cur.Close()
		r.cur = nil
		return err
	}
	return nil
}
