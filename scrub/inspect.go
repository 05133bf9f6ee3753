package scrub

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Info is what Inspect learns from an image's header.
type Info struct {
	Format        Format
	Width, Height int // 0 when unknown
}

// inspectLimit bounds how far Inspect reads into a JPEG looking for its
// frame header (metadata segments come first and may be large).
const inspectLimit = 16 << 20

// Inspect reads the header of an image (JPEG, PNG, WebP) from r, never its
// pixels, and returns its format and declared dimensions. It fails with an
// error wrapping ErrBomb when they exceed MaxPixels. Other formats, and
// images whose header it cannot find, return their format with zero
// dimensions and no error: Inspect looks for bombs, it does not validate.
func Inspect(r io.Reader) (Info, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, inspectLimit), 64<<10)
	head, _ := br.Peek(SniffLen)
	info := Info{Format: Sniff(head)}
	var err error
	switch info.Format {
	case JPEG:
		info.Width, info.Height, err = jpegDims(br)
	case PNG:
		if b, e := br.Peek(24); e == nil && string(b[12:16]) == "IHDR" {
			info.Width = int(binary.BigEndian.Uint32(b[16:]))
			info.Height = int(binary.BigEndian.Uint32(b[20:]))
		}
	case WebP:
		if b, e := br.Peek(30); e == nil {
			rep := &Report{}
			c := webpChunk{fourcc: string(b[12:16]), off: 20, size: binary.LittleEndian.Uint32(b[16:])}
			if e := webpDims(bytesReaderAt(b), c, rep); e == nil || errors.Is(e, ErrBomb) {
				info.Width, info.Height = rep.Width, rep.Height
			}
		}
	}
	if err != nil {
		return info, nil // not a well-formed header: nothing to measure
	}
	if e := checkPixels(info.Width, info.Height); e != nil {
		return info, fmt.Errorf("%s: %w", info.Format, e)
	}
	return info, nil
}

// jpegDims walks the segments up to the first frame header.
func jpegDims(r *bufio.Reader) (int, int, error) {
	if _, err := r.Discard(2); err != nil {
		return 0, 0, err
	}
	for {
		m, _, err := nextMarker(r)
		if err != nil {
			return 0, 0, err
		}
		if m == mEOI || m == mSOS || m == mSOI {
			return 0, 0, errors.New("no frame header")
		}
		if m == mTEM || m >= mRST0 && m <= mRST7 {
			continue
		}
		var lb [2]byte
		if _, err := io.ReadFull(r, lb[:]); err != nil {
			return 0, 0, err
		}
		n := int(binary.BigEndian.Uint16(lb[:]))
		if n < 2 {
			return 0, 0, errors.New("bad length")
		}
		if isSOF(m) {
			var p [5]byte
			if n < 7 {
				return 0, 0, errors.New("short frame header")
			}
			if _, err := io.ReadFull(r, p[:]); err != nil {
				return 0, 0, err
			}
			return int(binary.BigEndian.Uint16(p[3:])), int(binary.BigEndian.Uint16(p[1:])), nil
		}
		if _, err := r.Discard(n - 2); err != nil {
			return 0, 0, err
		}
	}
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
