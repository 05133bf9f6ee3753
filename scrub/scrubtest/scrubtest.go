// Package scrubtest makes files with metadata for tests of package scrub
// and of the file transfers that use it.
package scrubtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
)

// PDF returns a small, valid one-page PDF whose document information
// dictionary names author as its Author.
func PDF(author string) []byte {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		"<< /Length 37 >>\nstream\nBT /F1 24 Tf 20 100 Td (Hello) Tj ET\nendstream",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		fmt.Sprintf("<< /Author (%s) /Creator (Writer) /Producer (Office 7) /Title (Report) >>", author),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, len(objs), xref)
	return b.Bytes()
}

// Image is a w×h image with varied pixels.
func Image(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(x * 3), uint8(y * 5), uint8(x ^ y), uint8(128 + x)})
		}
	}
	return img
}

// BombPNG is a valid PNG of a few hundred bytes whose header declares
// w×h pixels (a decompression bomb's header; the data is one tiny row).
func BombPNG(w, h uint32) []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	raw := b.Bytes()
	SetPNGSize(raw, w, h)
	return raw
}

// SetPNGSize rewrites the dimensions in a PNG's IHDR (and its CRC).
func SetPNGSize(p []byte, w, h uint32) {
	binary.BigEndian.PutUint32(p[16:], w)
	binary.BigEndian.PutUint32(p[20:], h)
	binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))
}

// BombGIF is a GIF of a logical screen sw × sh holding frames frames of
// fw × fh pixels each: a header and block structure a viewer would accept,
// whose frames hold one tiny LZW block each (never decoded by Sotto).
func BombGIF(sw, sh uint16, frames int, fw, fh uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, sw)
	b = binary.LittleEndian.AppendUint16(b, sh)
	b = append(b, 0x80, 0, 0)             // a global colour table of 2 colours
	b = append(b, 0, 0, 0, 255, 255, 255) // black, white
	// A NETSCAPE2.0 looping extension, as animations carry.
	b = append(b, 0x21, 0xff, 11)
	b = append(b, "NETSCAPE2.0"...)
	b = append(b, 3, 1, 0, 0, 0)
	for range frames {
		b = append(b, 0x21, 0xf9, 4, 0, 10, 0, 0, 0) // graphic control: 0.1 s
		b = append(b, 0x2c, 0, 0, 0, 0)
		b = binary.LittleEndian.AppendUint16(b, fw)
		b = binary.LittleEndian.AppendUint16(b, fh)
		b = append(b, 0)                   // no local colour table
		b = append(b, 2, 2, 0x4c, 0x01, 0) // LZW code size 2, one sub-block
	}
	return append(b, 0x3b)
}

// TIFFIFDLen is the size of each IFD TIFF writes: the IFD of page i
// starts at 8 + i·TIFFIFDLen, and its next-IFD offset is its last 4 bytes.
const TIFFIFDLen = 2 + 9*12 + 4

// TIFF is an uncompressed 8-bit greyscale TIFF (big-endian when be) with
// one page, one IFD, per size given, each IFD declaring its size with
// LONG ImageWidth and ImageLength. A page of up to 4096 pixels gets all
// its pixels in one strip, so small pages decode; larger ones get 64 bytes
// (a bomb's header: what it declares, not what it holds).
func TIFF(be bool, pages ...[2]uint32) []byte {
	var bo interface {
		binary.ByteOrder
		binary.AppendByteOrder
	} = binary.LittleEndian
	b := []byte("II*\x00")
	if be {
		bo, b = binary.BigEndian, []byte("MM\x00*")
	}
	b = bo.AppendUint32(b, 8)
	data := uint32(8 + len(pages)*TIFFIFDLen)
	var strips []byte
	for i, p := range pages {
		n := uint32(64)
		if uint64(p[0])*uint64(p[1]) <= 4096 {
			n = p[0] * p[1]
		}
		entry := func(tag, typ uint16, v uint32) {
			b = bo.AppendUint16(b, tag)
			b = bo.AppendUint16(b, typ)
			b = bo.AppendUint32(b, 1)
			if typ == 3 { // SHORT: left-justified in the value field
				b = bo.AppendUint16(b, uint16(v))
				b = append(b, 0, 0)
				return
			}
			b = bo.AppendUint32(b, v)
		}
		b = bo.AppendUint16(b, 9)
		entry(256, 4, p[0])                     // ImageWidth
		entry(257, 4, p[1])                     // ImageLength
		entry(258, 3, 8)                        // BitsPerSample
		entry(259, 3, 1)                        // Compression: none
		entry(262, 3, 1)                        // PhotometricInterpretation: black is zero
		entry(273, 4, data+uint32(len(strips))) // StripOffsets
		entry(277, 3, 1)                        // SamplesPerPixel
		entry(278, 4, p[1])                     // RowsPerStrip
		entry(279, 4, n)                        // StripByteCounts
		next := uint32(0)
		if i+1 < len(pages) {
			next = uint32(8 + (i+1)*TIFFIFDLen)
		}
		b = bo.AppendUint32(b, next)
		for j := range n {
			strips = append(strips, byte(j*7+uint32(i)))
		}
	}
	return append(b, strips...)
}

// BMP is a 24-bit BMP with a BITMAPINFOHEADER declaring w × h pixels (h
// negative: rows stored top-down). A BMP of up to 4096 pixels holds all
// its rows, so it decodes; a larger one holds 64 bytes (a bomb's header).
func BMP(w, h int32) []byte {
	ah := max(h, -h)
	stride := (3*uint64(max(w, 0)) + 3) &^ 3
	n := stride * uint64(ah)
	if uint64(max(w, 0))*uint64(ah) > 4096 {
		n = 64
	}
	b := []byte("BM")
	b = binary.LittleEndian.AppendUint32(b, uint32(14+40+n))
	b = append(b, 0, 0, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, 14+40) // pixel data offset
	b = binary.LittleEndian.AppendUint32(b, 40)    // BITMAPINFOHEADER
	b = binary.LittleEndian.AppendUint32(b, uint32(w))
	b = binary.LittleEndian.AppendUint32(b, uint32(h))
	b = binary.LittleEndian.AppendUint16(b, 1)  // planes
	b = binary.LittleEndian.AppendUint16(b, 24) // bits per pixel
	b = binary.LittleEndian.AppendUint32(b, 0)  // BI_RGB
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = append(b, make([]byte, 16)...) // resolution, colours used and important
	for i := range n {
		b = append(b, byte(i*5))
	}
	return b
}

// CoreBMP is a 24-bit BMP with a BITMAPCOREHEADER (OS/2 1.x) declaring
// w × h pixels, holding 64 bytes of pixels.
func CoreBMP(w, h uint16) []byte {
	b := []byte("BM")
	b = binary.LittleEndian.AppendUint32(b, 14+12+64)
	b = append(b, 0, 0, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, 14+12)
	b = binary.LittleEndian.AppendUint32(b, 12) // BITMAPCOREHEADER
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 24)
	return append(b, make([]byte, 64)...)
}
