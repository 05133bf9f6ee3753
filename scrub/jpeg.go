package scrub

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// JPEG markers (ITU T.81 table B.1).
const (
	mSOI  = 0xd8
	mEOI  = 0xd9
	mSOS  = 0xda
	mDQT  = 0xdb
	mDNL  = 0xdc
	mDRI  = 0xdd
	mDHP  = 0xde
	mEXP  = 0xdf
	mDHT  = 0xc4
	mJPG  = 0xc8
	mDAC  = 0xcc
	mRST0 = 0xd0
	mRST7 = 0xd7
	mAPP0 = 0xe0
	mAPP1 = 0xe1
	mAPP2 = 0xe2
	mAP11 = 0xeb
	mAP13 = 0xed
	mAP14 = 0xee
	mCOM  = 0xfe
	mTEM  = 0x01
)

// CleanJPEG copies a JPEG from r to w without its metadata (see the
// package documentation for what is kept). The entropy-coded data and
// every table are copied byte for byte, so the decoded pixels are the
// original ones.
func CleanJPEG(w io.Writer, r io.Reader) (*Report, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	rep := &Report{Format: "JPEG", Method: Native}
	if err := cleanJPEG(bw, br, rep); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return rep, nil
}

func cleanJPEG(w *bufio.Writer, r *bufio.Reader, rep *Report) error {
	var soi [2]byte
	if _, err := io.ReadFull(r, soi[:]); err != nil || soi != [2]byte{0xff, mSOI} {
		return malformed("JPEG", "no start-of-image marker")
	}
	w.Write(soi[:])
	sawFrame, sawScan := false, false
	var pending byte // a marker found at the end of a scan
	payload := make([]byte, 0, 1<<16)
	for {
		m := pending
		pending = 0
		if m == 0 {
			var stray bool
			var err error
			m, stray, err = nextMarker(r)
			if err != nil {
				return err
			}
			if stray {
				rep.remove("stray bytes between segments")
			}
		}
		switch {
		case m == mEOI:
			if !sawScan {
				return malformed("JPEG", "no image data")
			}
			w.Write([]byte{0xff, mEOI})
			n, err := io.Copy(io.Discard, r)
			if err != nil {
				return err
			}
			if n > 0 {
				rep.remove(fmt.Sprintf("%d bytes after the end of the image (appended images or vendor data)", n))
			}
			return nil
		case m == mSOI:
			return malformed("JPEG", "a second start-of-image marker")
		case m == mTEM || m >= mRST0 && m <= mRST7:
			w.Write([]byte{0xff, m}) // standalone markers carry nothing
			continue
		}
		var lb [2]byte
		if _, err := io.ReadFull(r, lb[:]); err != nil {
			return malformed("JPEG", "truncated segment")
		}
		n := int(binary.BigEndian.Uint16(lb[:]))
		if n < 2 {
			return malformed("JPEG", "bad segment length")
		}
		payload = payload[:n-2]
		if _, err := io.ReadFull(r, payload); err != nil {
			return malformed("JPEG", "truncated segment")
		}
		keep := func() {
			w.Write([]byte{0xff, m})
			w.Write(lb[:])
			w.Write(payload)
		}
		switch {
		case isSOF(m):
			if len(payload) < 6 {
				return malformed("JPEG", "short frame header")
			}
			rep.Height = int(binary.BigEndian.Uint16(payload[1:]))
			rep.Width = int(binary.BigEndian.Uint16(payload[3:]))
			if err := checkPixels(rep.Width, rep.Height); err != nil {
				return err
			}
			sawFrame = true
			keep()
		case m == mDHT, m == mDAC, m == mDQT, m == mDRI, m == mDNL, m == mDHP, m == mEXP:
			keep()
		case m == mSOS:
			if !sawFrame {
				return malformed("JPEG", "image data before the frame header")
			}
			sawScan = true
			keep()
			next, err := copyScan(w, r)
			if err != nil {
				return err
			}
			pending = next
		case m == mAPP0:
			jfifAPP0(w, payload, rep)
		case m == mAPP1:
			switch {
			case bytes.HasPrefix(payload, []byte("Exif\x00\x00")):
				info := parseEXIF(payload[6:])
				rep.remove(info.summary())
				if info.orientation > 1 {
					seg := append([]byte("Exif\x00\x00"), orientationEXIF(info.orientation)...)
					w.Write([]byte{0xff, mAPP1, 0, byte(len(seg) + 2)})
					w.Write(seg)
					rep.Kept = append(rep.Kept, "orientation")
				}
			case bytes.HasPrefix(payload, []byte("http://ns.adobe.com/xap/1.0/\x00")),
				bytes.HasPrefix(payload, []byte("http://ns.adobe.com/xmp/extension/\x00")):
				rep.remove("XMP")
			default:
				rep.remove("APP1 segment")
			}
		case m == mAPP2:
			switch {
			case bytes.HasPrefix(payload, []byte("ICC_PROFILE\x00")):
				rep.remove("ICC colour profile")
			case bytes.HasPrefix(payload, []byte("MPF\x00")):
				rep.remove("multi-picture data (MPF)")
			default:
				rep.remove("APP2 segment")
			}
		case m == mAP11:
			rep.remove("JUMBF / C2PA content credentials")
		case m == mAP13:
			rep.remove("IPTC / Photoshop data")
		case m == mAP14 && bytes.HasPrefix(payload, []byte("Adobe")):
			keep() // its colour transform flag changes how the pixels decode
		case m >= mAPP0 && m <= 0xef:
			rep.remove(fmt.Sprintf("APP%d segment", m-mAPP0))
		case m == mCOM:
			rep.remove("comment")
		default:
			return fmt.Errorf("%w: JPEG: marker 0x%02x is a JPEG extension Sotto does not know", ErrUnsupported, m)
		}
	}
}

// isSOF reports a start-of-frame marker (SOF0..SOF15 but DHT, JPG, DAC).
func isSOF(m byte) bool {
	return m >= 0xc0 && m <= 0xcf && m != mDHT && m != mJPG && m != mDAC
}

// nextMarker reads up to and including the next marker outside a scan:
// fill bytes (0xff) are skipped, and so are stray non-marker bytes (libjpeg
// does the same), which are reported.
func nextMarker(r *bufio.Reader) (m byte, stray bool, err error) {
	for {
		c, err := r.ReadByte()
		if err != nil {
			return 0, false, malformed("JPEG", "no end-of-image marker")
		}
		if c != 0xff {
			stray = true
			continue
		}
		for c == 0xff {
			if c, err = r.ReadByte(); err != nil {
				return 0, false, malformed("JPEG", "no end-of-image marker")
			}
		}
		if c == 0 {
			stray = true // a stuffed zero outside a scan
			continue
		}
		return c, stray, nil
	}
}

// copyScan copies entropy-coded data up to the next marker, which it
// returns: 0xff 0x00 (a stuffed 0xff) and restart markers belong to the
// data, fill bytes before a marker do not.
func copyScan(w *bufio.Writer, r *bufio.Reader) (byte, error) {
	for {
		chunk, err := r.ReadSlice(0xff)
		if errors.Is(err, bufio.ErrBufferFull) {
			w.Write(chunk)
			continue
		}
		if err != nil {
			return 0, malformed("JPEG", "truncated image data")
		}
		w.Write(chunk[:len(chunk)-1])
		c, err := r.ReadByte()
		for err == nil && c == 0xff {
			c, err = r.ReadByte()
		}
		if err != nil {
			return 0, malformed("JPEG", "truncated image data")
		}
		if c == 0 || c >= mRST0 && c <= mRST7 {
			w.Write([]byte{0xff, c})
			continue
		}
		return c, nil
	}
}

// jfifAPP0 keeps a JFIF header without its thumbnail, and drops any other
// APP0 (JFXX thumbnails, vendor data).
func jfifAPP0(w *bufio.Writer, p []byte, rep *Report) {
	if !bytes.HasPrefix(p, []byte("JFIF\x00")) || len(p) < 14 {
		if bytes.HasPrefix(p, []byte("JFXX\x00")) {
			rep.remove("JFIF thumbnail")
		} else {
			rep.remove("APP0 segment")
		}
		return
	}
	if len(p) > 14 || p[12] != 0 || p[13] != 0 {
		rep.remove("JFIF thumbnail")
	}
	seg := make([]byte, 14)
	copy(seg, p[:12]) // identifier, version, units, densities
	w.Write([]byte{0xff, mAPP0, 0, 16})
	w.Write(seg)
}
