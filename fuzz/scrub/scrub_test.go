// Package scrub holds the fuzz targets of package scrub's parsers: the JPEG,
// PNG and WebP surgery (with the EXIF reader behind JPEG's report) and the
// header inspection that spots decompression bombs (JPEG, PNG, WebP, GIF,
// TIFF, BMP).
package scrub

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/sottochat/sotto/fuzz/fuzzcheck"
	"github.com/sottochat/sotto/scrub"
	"github.com/sottochat/sotto/scrub/scrubtest"
)

func seedJPEGs() [][]byte {
	var b bytes.Buffer
	jpeg.Encode(&b, scrubtest.Image(9, 7), &jpeg.Options{Quality: 50})
	plain := b.Bytes()
	// With an EXIF segment (orientation 6, a GPS IFD, an IFD1), a comment
	// and trailing data.
	exif := []byte("Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x02" +
		"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00" +
		"\x88\x25\x00\x04\x00\x00\x00\x01\x00\x00\x00\x26" +
		"\x00\x00\x00\x00" +
		"\x00\x01\x00\x02\x00\x05\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00")
	var rich []byte
	rich = append(rich, plain[:2]...)
	rich = append(rich, 0xff, 0xe1, byte((len(exif)+2)>>8), byte(len(exif)+2))
	rich = append(rich, exif...)
	rich = append(rich, 0xff, 0xfe, 0, 6, 'h', 'i', '!', '!')
	rich = append(rich, plain[2:]...)
	rich = append(rich, "trailer"...)
	return [][]byte{plain, rich}
}

func seedPNGs() [][]byte {
	var b bytes.Buffer
	png.Encode(&b, scrubtest.Image(5, 4))
	return [][]byte{b.Bytes(), scrubtest.BombPNG(70000, 70000)}
}

func seedWebPs() [][]byte {
	raw, _ := base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	// The same with an EXIF chunk after a VP8X header.
	x := []byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	x = append(x, raw[12:]...)
	x = append(x, "EXIF\x04\x00\x00\x00abcd"...)
	n := len(x) - 8
	x[4], x[5], x[6], x[7] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
	return [][]byte{raw, x}
}

// idempotent checks that cleaning a cleaned file changes nothing, and
// that every error is one of scrub's.
func idempotent(t *testing.T, clean func([]byte) ([]byte, error), b []byte) {
	out, err := clean(b)
	if err != nil {
		if !errors.Is(err, scrub.ErrMalformed) && !errors.Is(err, scrub.ErrUnsupported) && !errors.Is(err, scrub.ErrBomb) {
			t.Fatalf("unexpected error type: %v", err)
		}
		return
	}
	again, err := clean(out)
	if err != nil {
		t.Fatalf("cleaning the cleaned file: %v", err)
	}
	if !bytes.Equal(out, again) {
		t.Fatalf("cleaning is not idempotent")
	}
}

func FuzzJPEG(f *testing.F) {
	n := 0
	for _, s := range seedJPEGs() {
		f.Add(s)
		n++
	}
	fuzzcheck.RequireSeeds(f, n)
	f.Fuzz(func(t *testing.T, b []byte) {
		idempotent(t, func(in []byte) ([]byte, error) {
			var out bytes.Buffer
			_, err := scrub.CleanJPEG(&out, bytes.NewReader(in))
			return out.Bytes(), err
		}, b)
	})
}

func FuzzPNG(f *testing.F) {
	n := 0
	for _, s := range seedPNGs() {
		f.Add(s)
		n++
	}
	fuzzcheck.RequireSeeds(f, n)
	f.Fuzz(func(t *testing.T, b []byte) {
		idempotent(t, func(in []byte) ([]byte, error) {
			var out bytes.Buffer
			_, err := scrub.CleanPNG(&out, bytes.NewReader(in))
			return out.Bytes(), err
		}, b)
	})
}

func FuzzWebP(f *testing.F) {
	n := 0
	for _, s := range seedWebPs() {
		f.Add(s)
		n++
	}
	fuzzcheck.RequireSeeds(f, n)
	f.Fuzz(func(t *testing.T, b []byte) {
		idempotent(t, func(in []byte) ([]byte, error) {
			var out bytes.Buffer
			_, err := scrub.CleanWebP(&out, bytes.NewReader(in), int64(len(in)))
			return out.Bytes(), err
		}, b)
	})
}

func seedGIFs() [][]byte {
	return [][]byte{scrubtest.BombGIF(40, 30, 3, 20, 10), scrubtest.BombGIF(16384, 16384, 17, 1, 1)}
}

func seedTIFFs() [][]byte {
	return [][]byte{
		scrubtest.TIFF(false, [2]uint32{40, 30}, [2]uint32{16, 12}),
		scrubtest.TIFF(true, [2]uint32{64, 64}, [2]uint32{100000, 3000}),
	}
}

func seedBMPs() [][]byte {
	return [][]byte{scrubtest.BMP(40, -30), scrubtest.BMP(70000, 70000), scrubtest.CoreBMP(640, 480)}
}

// FuzzInspect: any input gives a result or ErrBomb, and a bomb verdict
// agrees with what the Info declares: one image past MaxPixels, frames
// past MaxFrames or their pixels past MaxTotalPixels.
func FuzzInspect(f *testing.F) {
	n := 0
	for _, set := range [][][]byte{seedJPEGs(), seedPNGs(), seedWebPs(), seedGIFs(), seedTIFFs(), seedBMPs()} {
		for _, s := range set {
			f.Add(s)
			n++
		}
	}
	fuzzcheck.RequireSeeds(f, n)
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := scrub.Inspect(bytes.NewReader(b))
		big := uint64(info.Width)*uint64(info.Height) > scrub.MaxPixels ||
			info.Frames > scrub.MaxFrames || info.Pixels > scrub.MaxTotalPixels
		if err != nil && (!errors.Is(err, scrub.ErrBomb) || !big) {
			t.Fatalf("Inspect: %v for %+v", err, info)
		}
		if err == nil && big {
			t.Fatalf("no ErrBomb for %+v", info)
		}
	})
}
