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
	Format Format
	// Width and Height are the largest single image declared (for a GIF
	// its logical screen or a larger frame); 0 when unknown.
	Width, Height int
	// Frames counts a GIF's frames (image descriptors) or a TIFF's pages
	// (IFDs); 0 for the formats that hold one image.
	Frames int
	// Pixels is what a GIF's frames or a TIFF's pages declare together, as
	// counted toward MaxTotalPixels; 0 for the formats that hold one image.
	Pixels uint64
}

// String says what the image declares, for a person: "a PNG image
// declaring 4000 × 3000 pixels", "a GIF of 17 frames declaring 4563402752
// pixels in all".
func (i Info) String() string {
	single := uint64(i.Width)*uint64(i.Height) > MaxPixels
	if i.Frames <= 1 || single {
		return fmt.Sprintf("a %s image declaring %d × %d pixels", i.Format, i.Width, i.Height)
	}
	return fmt.Sprintf("a %s of %d %s declaring %d pixels in all", i.Format, i.Frames, i.Format.frameNoun(), i.Pixels)
}

// frameNoun is what one image of a multi-image format is called.
func (f Format) frameNoun() string {
	if f == TIFF {
		return "pages"
	}
	return "frames"
}

// MaxTotalPixels bounds what the frames of an animation (or the pages of a
// multi-page image) declare together, 2^32. A viewer may keep every frame
// decoded, each composited onto the whole logical screen, so a GIF frame
// counts as the larger of its own size and the screen's. The bound passes
// the longest legitimate files we know of (1000 frames of a 1920 × 1080
// screen recording are 2.07e9 pixels; 480 pages of A4 scanned at 300 dpi
// are 4.2e9) and refuses what multiplies a large canvas by many frames
// (17 frames of a 16384 × 16384 screen).
const MaxTotalPixels = 1 << 32

// MaxFrames bounds the frames of a GIF (or the pages of a TIFF), 65536:
// at 50 frames a second, 22 minutes of animation. Each frame costs a viewer
// some memory of its own, however small it is.
const MaxFrames = 1 << 16

// inspectLimit bounds how far Inspect reads into a file looking for its
// dimensions (a JPEG's metadata segments come first and may be large; a
// GIF's frames follow one another).
const inspectLimit = 16 << 20

// Inspect reads the headers of an image (JPEG, PNG, WebP, GIF, TIFF, BMP)
// from r, never its pixels, and returns its format and declared
// dimensions. It fails with an error wrapping ErrBomb when one image
// declares more than MaxPixels, or when the frames of a GIF or the pages of
// a TIFF number more than MaxFrames or declare more than MaxTotalPixels
// together. Other formats, and images whose header it cannot find, return
// their format with zero dimensions and no error: Inspect looks for bombs,
// it does not validate. A file damaged after what proves it a bomb is
// still refused. It reads at most the first 16 MiB of r, and holds them in
// memory for a TIFF.
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
	case GIF:
		if e := gifDims(br, &info); errors.Is(e, ErrBomb) {
			return info, fmt.Errorf("%s: %w", info.Format, e)
		}
		return info, nil // the rest is damaged or missing: nothing more to measure
	case BMP:
		info.Width, info.Height = bmpDims(br)
	case TIFF:
		// A TIFF's offsets point anywhere: its first inspectLimit bytes
		// (16 MiB at most) are read into memory to follow them.
		data, _ := io.ReadAll(br)
		if e := tiffDims(data, &info); e != nil {
			return info, fmt.Errorf("%s: %w", info.Format, e)
		}
		return info, nil
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

// addFrame records one frame (or page) of w × h pixels that costs a viewer
// cost pixels, and fails with ErrBomb once it passes a bound.
func (i *Info) addFrame(w, h int, cost uint64) error {
	if uint64(w)*uint64(h) > uint64(i.Width)*uint64(i.Height) {
		i.Width, i.Height = w, h
	}
	if err := checkPixels(w, h); err != nil {
		return err
	}
	i.Frames++
	if i.Frames > MaxFrames {
		return fmt.Errorf("%w: more than %d %s", ErrBomb, MaxFrames, i.Format.frameNoun())
	}
	i.Pixels += cost // at most 2^32 + 2^28 (checked above): no overflow
	if i.Pixels > MaxTotalPixels {
		return fmt.Errorf("%w: %d %s declaring %d pixels in all", ErrBomb, i.Frames, i.Format.frameNoun(), i.Pixels)
	}
	return nil
}

// GIF's block introducers and extension sizes ([GIF89a], sections 18 to 27).
//
// [GIF89a]: https://www.w3.org/Graphics/GIF/spec-gif89a.txt
const (
	gifHeaderLen     = 6    // "GIF87a" or "GIF89a"
	gifScreenLen     = 7    // logical screen descriptor: width, height (LE uint16), flags, background, aspect
	gifImageLen      = 9    // image descriptor after its 0x2C: left, top, width, height (LE uint16), flags
	gifExtension     = 0x21 // an extension: label, then data sub-blocks
	gifImage         = 0x2C // an image descriptor
	gifTrailer       = 0x3B // the end of the data stream
	gifColourTable   = 0x80 // flags: a colour table follows
	gifColourSizeLog = 0x07 // flags: the table holds 2^(n+1) RGB triples
)

// gifDims reads a GIF's logical screen and walks its blocks, recording each
// frame's declared size in info, without decoding any LZW data. It stops at
// the trailer with nil, at the first bound passed with ErrBomb, and at a
// damaged or truncated block with another error.
func gifDims(r *bufio.Reader, info *Info) error {
	var scr [gifHeaderLen + gifScreenLen]byte
	if _, err := io.ReadFull(r, scr[:]); err != nil {
		return err
	}
	sw := int(binary.LittleEndian.Uint16(scr[6:]))
	sh := int(binary.LittleEndian.Uint16(scr[8:]))
	info.Width, info.Height = sw, sh
	if err := checkPixels(sw, sh); err != nil {
		return err
	}
	if err := skipColourTable(r, scr[10]); err != nil {
		return err
	}
	screen := uint64(sw) * uint64(sh)
	for {
		b, err := r.ReadByte()
		if err != nil {
			return err
		}
		switch b {
		case gifTrailer:
			return nil
		case gifExtension:
			if _, err := r.ReadByte(); err != nil { // the label
				return err
			}
			if err := skipSubBlocks(r); err != nil {
				return err
			}
		case gifImage:
			var d [gifImageLen]byte
			if _, err := io.ReadFull(r, d[:]); err != nil {
				return err
			}
			w := int(binary.LittleEndian.Uint16(d[4:]))
			h := int(binary.LittleEndian.Uint16(d[6:]))
			if err := info.addFrame(w, h, max(uint64(w)*uint64(h), screen)); err != nil {
				return err
			}
			if err := skipColourTable(r, d[8]); err != nil {
				return err
			}
			if _, err := r.ReadByte(); err != nil { // LZW minimum code size
				return err
			}
			if err := skipSubBlocks(r); err != nil {
				return err
			}
		default:
			return errors.New("not a GIF block")
		}
	}
}

// skipColourTable skips the colour table that flags announce, if any.
func skipColourTable(r *bufio.Reader, flags byte) error {
	if flags&gifColourTable == 0 {
		return nil
	}
	_, err := r.Discard(3 << (flags&gifColourSizeLog + 1))
	return err
}

// skipSubBlocks skips data sub-blocks (a size byte, then that many bytes)
// up to the empty one that ends them.
func skipSubBlocks(r *bufio.Reader) error {
	for {
		n, err := r.ReadByte()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if _, err := r.Discard(int(n)); err != nil {
			return err
		}
	}
}

// TIFF's structure ([TIFF 6.0], section 2) and the tags Inspect reads.
//
// [TIFF 6.0]: https://www.itu.int/itudoc/itu-t/com16/tiff-fx/docs/tiff6.pdf
const (
	tiffHeaderLen   = 8   // byte order, 42, offset of the first IFD (uint32)
	tiffEntryLen    = 12  // an IFD entry: tag, type (uint16), count, value or offset (uint32)
	tiffImageWidth  = 256 // ImageWidth, SHORT or LONG
	tiffImageLength = 257 // ImageLength, SHORT or LONG
	tiffShort       = 3   // field type: uint16
	tiffLong        = 4   // field type: uint32

	// maxTIFFEntries bounds the IFD entries tiffDims reads in all: IFDs
	// may overlap, so without it 65536 IFDs of 65535 entries each would
	// cost billions of reads. A legitimate TIFF has a few dozen entries
	// per page.
	maxTIFFEntries = 1 << 20
)

// tiffDims follows the chain of IFDs (pages) in data, the start of a TIFF,
// and records each page's ImageWidth × ImageLength in info. It returns
// ErrBomb at the first bound passed, and nil when the chain ends, loops
// back to an IFD already read, leaves data (a damaged file, or IFDs past
// what Inspect reads) or passes maxTIFFEntries: nothing more to measure.
// SubIFDs and EXIF IFDs are not followed.
func tiffDims(data []byte, info *Info) error {
	if len(data) < tiffHeaderLen {
		return nil
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if data[0] == 'M' {
		bo = binary.BigEndian
	}
	seen := map[uint32]bool{}
	entries := 0
	for off := bo.Uint32(data[4:]); off != 0 && !seen[off]; {
		seen[off] = true // at most MaxFrames+1 entries: each is a page
		if uint64(off)+2 > uint64(len(data)) {
			return nil
		}
		n := int(bo.Uint16(data[off:]))
		ifd := data[off+2:]
		if len(ifd) < n*tiffEntryLen+4 {
			return nil
		}
		if entries += n; entries > maxTIFFEntries {
			return nil // not a TIFF any writer makes: nothing more to measure
		}
		var w, h int
		for e := range n {
			ent := ifd[e*tiffEntryLen:]
			tag, typ, count := bo.Uint16(ent), bo.Uint16(ent[2:]), bo.Uint32(ent[4:])
			if tag != tiffImageWidth && tag != tiffImageLength || count == 0 {
				continue
			}
			var v int
			switch typ {
			case tiffShort:
				v = int(bo.Uint16(ent[8:]))
			case tiffLong:
				v = int(bo.Uint32(ent[8:]))
			default:
				continue
			}
			if tag == tiffImageWidth {
				w = v
			} else {
				h = v
			}
		}
		if err := info.addFrame(w, h, uint64(w)*uint64(h)); err != nil {
			return err
		}
		off = bo.Uint32(ifd[n*tiffEntryLen:])
	}
	return nil
}

// BMP's headers: a 14-byte file header ("BM", file size, two reserved
// uint16, pixel data offset), then a DIB header that starts with its own
// size. BITMAPCOREHEADER (12 bytes) gives width and height as uint16 at
// file offsets 18 and 20; the later ones (BITMAPINFOHEADER, 40 bytes, and
// its extensions) as int32 at 18 and 22, a negative height meaning rows
// stored top-down.
const (
	bmpCoreHeader = 12
	bmpDimsEnd    = 26 // end of BITMAPINFOHEADER's width and height
)

// bmpHeaderSizes are the DIB header sizes Sniff accepts: core, info, the
// Adobe v2 and v3 info headers, OS/2 v2, v4 and v5.
var bmpHeaderSizes = map[byte]bool{12: true, 40: true, 52: true, 56: true, 64: true, 108: true, 124: true}

// bmpDims reads a BMP's declared width and height; 0, 0 when its header is
// cut short or declares a negative width.
func bmpDims(r *bufio.Reader) (int, int) {
	b, err := r.Peek(bmpDimsEnd)
	if err != nil && len(b) < 22 {
		return 0, 0
	}
	if binary.LittleEndian.Uint32(b[14:]) == bmpCoreHeader {
		return int(binary.LittleEndian.Uint16(b[18:])), int(binary.LittleEndian.Uint16(b[20:]))
	}
	if len(b) < bmpDimsEnd {
		return 0, 0
	}
	w := int64(int32(binary.LittleEndian.Uint32(b[18:])))
	h := int64(int32(binary.LittleEndian.Uint32(b[22:])))
	if w < 0 {
		return 0, 0
	}
	return int(w), int(abs(h))
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
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
