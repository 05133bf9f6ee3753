package scrub

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// WebP is a RIFF container ("RIFF" size "WEBP", then chunks of a FourCC, a
// little-endian size and the data padded to an even length).
// https://developers.google.com/speed/webp/docs/riff_container

// VP8X flag bits.
const (
	vp8xAnimation = 0x02
	vp8xXMP       = 0x04
	vp8xEXIF      = 0x08
	vp8xAlpha     = 0x10
	vp8xICC       = 0x20
)

// webpKeep lists the chunks kept at the top level.
var webpKeep = map[string]bool{"VP8X": true, "VP8 ": true, "VP8L": true, "ALPH": true, "ANIM": true, "ANMF": true}

var webpNames = map[string]string{"EXIF": "EXIF", "XMP ": "XMP", "ICCP": "ICC colour profile"}

// maxWebPChunks bounds the chunks read from one file.
const maxWebPChunks = 1 << 20

type webpChunk struct {
	fourcc string
	off    int64 // of the data
	size   uint32
}

// CleanWebP copies a WebP of size bytes from r to w without its metadata.
// It reads the chunk headers first (to compute the new RIFF size), then
// copies the kept chunks byte for byte.
func CleanWebP(w io.Writer, r io.ReaderAt, size int64) (*Report, error) {
	rep := &Report{Format: "WebP", Method: Native}
	var hdr [12]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil || string(hdr[:4]) != "RIFF" || string(hdr[8:]) != "WEBP" {
		return nil, malformed("WebP", "no RIFF WEBP header")
	}
	riff := int64(binary.LittleEndian.Uint32(hdr[4:])) + 8
	if riff > size || riff < 12 {
		return nil, malformed("WebP", "the RIFF size does not match the file")
	}
	if riff < size {
		rep.remove(fmt.Sprintf("%d bytes after the end of the image", size-riff))
	}
	var kept []webpChunk
	var newSize int64 = 4
	hasVP8X := false
	off := int64(12)
	for n := 0; off < riff; n++ {
		if n >= maxWebPChunks {
			return nil, malformed("WebP", "too many chunks")
		}
		var ch [8]byte
		if off+8 > riff {
			return nil, malformed("WebP", "truncated chunk header")
		}
		if _, err := r.ReadAt(ch[:], off); err != nil {
			return nil, malformed("WebP", "truncated chunk header")
		}
		c := webpChunk{fourcc: string(ch[:4]), off: off + 8, size: binary.LittleEndian.Uint32(ch[4:])}
		padded := int64(c.size) + int64(c.size&1)
		if c.off+padded > riff {
			return nil, malformed("WebP", "truncated chunk")
		}
		off = c.off + padded
		if n == 0 {
			if c.fourcc != "VP8X" && c.fourcc != "VP8 " && c.fourcc != "VP8L" {
				return nil, malformed("WebP", "the first chunk is not an image header")
			}
			if err := webpDims(r, c, rep); err != nil {
				return nil, err
			}
		}
		if c.fourcc == "VP8X" {
			if n != 0 || c.size < 10 {
				return nil, malformed("WebP", "misplaced or short VP8X chunk")
			}
			hasVP8X = true
		}
		if !webpKeep[c.fourcc] {
			if name, ok := webpNames[c.fourcc]; ok {
				rep.remove(name)
			} else {
				rep.remove("private chunks")
			}
			continue
		}
		kept = append(kept, c)
		newSize += 8 + padded
	}
	if newSize > 0xffffffff-8 {
		return nil, malformed("WebP", "too large")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var h [12]byte
	copy(h[:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(newSize))
	copy(h[8:], "WEBP")
	bw.Write(h[:])
	for _, c := range kept {
		var ch [8]byte
		copy(ch[:], c.fourcc)
		binary.LittleEndian.PutUint32(ch[4:], c.size)
		bw.Write(ch[:])
		padded := int64(c.size) + int64(c.size&1)
		if c.fourcc == "VP8X" && hasVP8X {
			data := make([]byte, padded)
			if _, err := r.ReadAt(data, c.off); err != nil {
				return nil, malformed("WebP", "truncated chunk")
			}
			data[0] &^= vp8xICC | vp8xEXIF | vp8xXMP
			bw.Write(data)
			continue
		}
		if _, err := io.Copy(bw, io.NewSectionReader(r, c.off, padded)); err != nil {
			return nil, err
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return rep, nil
}

// webpDims reads the canvas size from the first chunk.
func webpDims(r io.ReaderAt, c webpChunk, rep *Report) error {
	var b [10]byte
	n := min(int(c.size), len(b))
	if _, err := r.ReadAt(b[:n], c.off); err != nil {
		return malformed("WebP", "truncated image header")
	}
	switch c.fourcc {
	case "VP8X":
		if n < 10 {
			return malformed("WebP", "short VP8X chunk")
		}
		rep.Width = int(uint32(b[4])|uint32(b[5])<<8|uint32(b[6])<<16) + 1
		rep.Height = int(uint32(b[7])|uint32(b[8])<<8|uint32(b[9])<<16) + 1
	case "VP8 ":
		// frame tag (3), start code 9d 01 2a, then 14-bit width and height.
		if n < 10 || b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
			return malformed("WebP", "bad VP8 header")
		}
		rep.Width = int(binary.LittleEndian.Uint16(b[6:]) & 0x3fff)
		rep.Height = int(binary.LittleEndian.Uint16(b[8:]) & 0x3fff)
	case "VP8L":
		if n < 5 || b[0] != 0x2f {
			return malformed("WebP", "bad VP8L header")
		}
		v := binary.LittleEndian.Uint32(b[1:])
		rep.Width = int(v&0x3fff) + 1
		rep.Height = int(v>>14&0x3fff) + 1
	}
	return checkPixels(rep.Width, rep.Height)
}
