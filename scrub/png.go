package scrub

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

const pngSignature = "\x89PNG\r\n\x1a\n"

// pngMaxChunk is the PNG specification's bound on a chunk's length.
const pngMaxChunk = 1<<31 - 1

// pngKeep lists the chunks kept: the critical ones, those that change how
// the pixels are shown, and APNG's animation.
var pngKeep = map[string]bool{
	"IHDR": true, "PLTE": true, "IDAT": true, "IEND": true,
	"tRNS": true, "gAMA": true, "cHRM": true, "sRGB": true, "cICP": true, "sBIT": true, "bKGD": true,
	"acTL": true, "fcTL": true, "fdAT": true,
}

// pngNames names the dropped chunks worth telling apart.
var pngNames = map[string]string{
	"tEXt": "text fields", "zTXt": "text fields", "iTXt": "text fields",
	"eXIf": "EXIF", "tIME": "modification time", "iCCP": "ICC colour profile",
	"pHYs": "pixel density", "caBX": "JUMBF / C2PA content credentials",
	"sPLT": "suggested palette", "hIST": "palette histogram", "dSIG": "digital signature",
}

// CleanPNG copies a PNG from r to w without its metadata. Kept chunks are
// copied byte for byte (their CRCs checked), so the decoded pixels are the
// original ones.
func CleanPNG(w io.Writer, r io.Reader) (*Report, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	rep := &Report{Format: "PNG", Method: Native}
	if err := cleanPNG(bw, br, rep); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return rep, nil
}

func cleanPNG(w *bufio.Writer, r *bufio.Reader, rep *Report) error {
	var sig [8]byte
	if _, err := io.ReadFull(r, sig[:]); err != nil || string(sig[:]) != pngSignature {
		return malformed("PNG", "no PNG signature")
	}
	w.Write(sig[:])
	first := true
	for {
		var h [8]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return malformed("PNG", "no IEND chunk")
		}
		n := binary.BigEndian.Uint32(h[:4])
		typ := string(h[4:8])
		if n > pngMaxChunk || !validChunkType(h[4:8]) {
			return malformed("PNG", "bad chunk header")
		}
		if first != (typ == "IHDR") {
			return malformed("PNG", "IHDR is not the first chunk")
		}
		first = false
		if typ == "IHDR" {
			if n != 13 {
				return malformed("PNG", "bad IHDR")
			}
			b, err := r.Peek(8)
			if err != nil {
				return malformed("PNG", "truncated IHDR")
			}
			rep.Width = int(binary.BigEndian.Uint32(b))
			rep.Height = int(binary.BigEndian.Uint32(b[4:]))
			if err := checkPixels(rep.Width, rep.Height); err != nil {
				return err
			}
		}
		keep := pngKeep[typ]
		if !keep && h[4]&0x20 == 0 {
			// A critical chunk this decoder does not know: the image
			// cannot be shown without it, so it cannot be dropped.
			return fmt.Errorf("%w: PNG: unknown critical chunk", ErrUnsupported)
		}
		if !keep {
			if name, ok := pngNames[typ]; ok {
				rep.remove(name)
			} else {
				rep.remove("private chunks")
			}
			if _, err := r.Discard(int(n) + 4); err != nil {
				return malformed("PNG", "truncated chunk")
			}
			continue
		}
		crc := crc32.NewIEEE()
		crc.Write(h[4:8])
		w.Write(h[:])
		if _, err := io.CopyN(io.MultiWriter(w, crc), r, int64(n)); err != nil {
			if errors.Is(err, io.EOF) {
				return malformed("PNG", "truncated chunk")
			}
			return err
		}
		var c [4]byte
		if _, err := io.ReadFull(r, c[:]); err != nil {
			return malformed("PNG", "truncated chunk")
		}
		if binary.BigEndian.Uint32(c[:]) != crc.Sum32() {
			return malformed("PNG", "a chunk's checksum is wrong")
		}
		w.Write(c[:])
		if typ == "IEND" {
			m, err := io.Copy(io.Discard, r)
			if err != nil {
				return err
			}
			if m > 0 {
				rep.remove(fmt.Sprintf("%d bytes after the end of the image", m))
			}
			return nil
		}
	}
}

// validChunkType: four ASCII letters.
func validChunkType(t []byte) bool {
	for _, c := range t {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
