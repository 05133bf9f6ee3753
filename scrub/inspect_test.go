package scrub

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/color/palette"
	"image/gif"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sottochat/sotto/scrub/scrubtest"
)

// wantBomb checks that Inspect refuses b and that its Info says why.
func wantBomb(t *testing.T, name string, b []byte, want string) {
	t.Helper()
	info, err := Inspect(bytes.NewReader(b))
	if !errors.Is(err, ErrBomb) {
		t.Errorf("%s: Inspect: %+v %v, want ErrBomb", name, info, err)
		return
	}
	if got := info.String(); !strings.Contains(got, want) {
		t.Errorf("%s: Info says %q, want it to say %q", name, got, want)
	}
}

func TestGIFBombRefused(t *testing.T) {
	wantBomb(t, "screen", scrubtest.BombGIF(65535, 65535, 1, 1, 1), "a GIF image declaring 65535 × 65535 pixels")
	wantBomb(t, "one frame", scrubtest.BombGIF(100, 100, 3, 60000, 60000), "a GIF image declaring 60000 × 60000 pixels")
	// 17 frames on a 16384 × 16384 screen: each is under MaxPixels, but a
	// viewer keeping them composited needs 17 × 2^28 pixels.
	wantBomb(t, "many frames", scrubtest.BombGIF(16384, 16384, 17, 1, 1), "a GIF of 17 frames declaring 4563402752 pixels in all")
	wantBomb(t, "too many frames", scrubtest.BombGIF(1, 1, MaxFrames+1, 1, 1), "a GIF of 65537 frames")

	// What proves a bomb is enough: the rest of the file may be damaged.
	b := scrubtest.BombGIF(100, 100, 2, 60000, 60000)
	wantBomb(t, "frame, then truncated", b[:len(b)-12], "60000 × 60000")
}

func TestGIFAnimationAccepted(t *testing.T) {
	// A real animation made by Go's encoder: 30 frames of 320 × 200, some
	// smaller than the screen, with a local colour table each.
	anim := &gif.GIF{Config: image.Config{Width: 320, Height: 200}}
	for i := range 30 {
		r := image.Rect(0, 0, 320, 200)
		if i%2 == 1 {
			r = image.Rect(10, 10, 110, 60)
		}
		anim.Image = append(anim.Image, image.NewPaletted(r, palette.Plan9[:1+i]))
		anim.Delay = append(anim.Delay, 5)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, anim); err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(bytes.NewReader(b.Bytes()))
	if err != nil || info.Format != GIF || info.Width != 320 || info.Height != 200 || info.Frames != 30 {
		t.Fatalf("Inspect: %+v %v, want a GIF of 30 frames of 320 × 200", info, err)
	}
	if want := uint64(30 * 320 * 200); info.Pixels != want {
		t.Errorf("Pixels = %d, want %d (each frame counts as the whole screen)", info.Pixels, want)
	}
	if s := info.String(); s != "a GIF of 30 frames declaring 1920000 pixels in all" {
		t.Errorf("String() = %q", s)
	}
	// Truncated anywhere: nothing (more) to measure, no error.
	for cut := 0; cut < b.Len(); cut += 7 {
		if info, err := Inspect(bytes.NewReader(b.Bytes()[:cut])); err != nil {
			t.Fatalf("cut at %d: %+v %v", cut, info, err)
		}
	}
	// A legitimate long animation: 1000 frames of 800 × 600.
	if info, err := Inspect(bytes.NewReader(scrubtest.BombGIF(800, 600, 1000, 800, 600))); err != nil || info.Frames != 1000 {
		t.Errorf("1000 frames of 800 × 600: %+v %v", info, err)
	}
}

func TestTIFFBombRefused(t *testing.T) {
	for _, be := range []bool{false, true} {
		order := map[bool]string{false: "little-endian", true: "big-endian"}[be]
		wantBomb(t, order+" page", scrubtest.TIFF(be, [2]uint32{70000, 70000}), "a TIFF image declaring 70000 × 70000 pixels")
		wantBomb(t, order+" second page", scrubtest.TIFF(be, [2]uint32{64, 64}, [2]uint32{100000, 3000}), "a TIFF image declaring 100000 × 3000 pixels")
		// 20 pages of 16000 × 16000: each under MaxPixels, 5.1e9 in all.
		pages := make([][2]uint32, 20)
		for i := range pages {
			pages[i] = [2]uint32{16000, 16000}
		}
		wantBomb(t, order+" many pages", scrubtest.TIFF(be, pages...), "a TIFF of 17 pages declaring 4352000000 pixels in all")
	}
	// Sizes as SHORT, big-endian: 65535 × 65535.
	b := scrubtest.TIFF(true, [2]uint32{1, 1})
	for e, v := range []uint16{0xffff, 0xffff} {
		ent := b[8+2+e*12:]
		ent[3] = 3                                                   // SHORT
		ent[8], ent[9], ent[10], ent[11] = byte(v>>8), byte(v), 0, 0 // left-justified
	}
	wantBomb(t, "SHORT sizes", b, "65535 × 65535")
}

func TestTIFFAccepted(t *testing.T) {
	for _, be := range []bool{false, true} {
		b := scrubtest.TIFF(be, [2]uint32{40, 30}, [2]uint32{4000, 3000}, [2]uint32{16, 12})
		info, err := Inspect(bytes.NewReader(b))
		if err != nil || info.Format != TIFF || info.Width != 4000 || info.Height != 3000 || info.Frames != 3 ||
			info.Pixels != 40*30+4000*3000+16*12 {
			t.Errorf("big-endian %v: %+v %v, want 3 pages, the largest 4000 × 3000", be, info, err)
		}
		for cut := 0; cut < len(b); cut += 5 {
			if info, err := Inspect(bytes.NewReader(b[:cut])); err != nil {
				t.Fatalf("cut at %d: %+v %v", cut, info, err)
			}
		}
	}
}

func TestTIFFLoopEnds(t *testing.T) {
	// The third IFD points back to the first: read once, no hang, no error.
	b := scrubtest.TIFF(false, [2]uint32{100, 100}, [2]uint32{200, 100}, [2]uint32{300, 100})
	next := 8 + 3*scrubtest.TIFFIFDLen - 4
	b[next], b[next+1], b[next+2], b[next+3] = 8, 0, 0, 0
	info, err := Inspect(bytes.NewReader(b))
	if err != nil || info.Frames != 3 {
		t.Errorf("IFD loop: %+v %v, want 3 pages and no error", info, err)
	}
	// An IFD pointing at itself, on a bomb-sized page: refused once, not
	// counted forever.
	b = scrubtest.TIFF(true, [2]uint32{16000, 16000})
	next = 8 + scrubtest.TIFFIFDLen - 4
	b[next], b[next+1], b[next+2], b[next+3] = 0, 0, 0, 8
	if info, err := Inspect(bytes.NewReader(b)); err != nil || info.Frames != 1 {
		t.Errorf("IFD pointing at itself: %+v %v, want 1 page and no error", info, err)
	}
	// An offset past the end of the file: nothing more to measure.
	b = scrubtest.TIFF(false, [2]uint32{10, 10})
	next = 8 + scrubtest.TIFFIFDLen - 4
	b[next], b[next+1], b[next+2], b[next+3] = 0xff, 0xff, 0xff, 0x7f
	if info, err := Inspect(bytes.NewReader(b)); err != nil || info.Frames != 1 {
		t.Errorf("IFD past the end: %+v %v", info, err)
	}
}

func TestBMPBombRefused(t *testing.T) {
	wantBomb(t, "info header", scrubtest.BMP(70000, 70000), "a BMP image declaring 70000 × 70000 pixels")
	wantBomb(t, "top-down", scrubtest.BMP(30000, -30000), "a BMP image declaring 30000 × 30000 pixels")
	wantBomb(t, "core header", scrubtest.CoreBMP(65535, 65535), "a BMP image declaring 65535 × 65535 pixels")
}

func TestBMPAccepted(t *testing.T) {
	for _, h := range []int32{30, -30} {
		info, err := Inspect(bytes.NewReader(scrubtest.BMP(40, h)))
		if err != nil || info.Format != BMP || info.Width != 40 || info.Height != 30 {
			t.Errorf("40 × %d: %+v %v, want a BMP of 40 × 30", h, info, err)
		}
	}
	if info, err := Inspect(bytes.NewReader(scrubtest.CoreBMP(640, 480))); err != nil || info.Width != 640 || info.Height != 480 {
		t.Errorf("core header: %+v %v", info, err)
	}
	// A negative width is nonsense: nothing to measure.
	if info, err := Inspect(bytes.NewReader(scrubtest.BMP(-70000, 70000))); err != nil || info.Width != 0 {
		t.Errorf("negative width: %+v %v", info, err)
	}
	b := scrubtest.BMP(70000, 70000)
	for cut := range 26 {
		if info, err := Inspect(bytes.NewReader(b[:cut])); err != nil {
			t.Errorf("cut at %d: %+v %v", cut, info, err)
		}
	}
}

// Recognising BMP changes nothing for a sender: Clean refuses it as it
// refused an unknown format, and text that starts with "BM" is still text.
func TestBMPCleanUnchanged(t *testing.T) {
	if f := Sniff([]byte("BMW and BMX bikes\n")); f != Unknown {
		t.Errorf("text starting with BM sniffed as %v", f)
	}
	dir := t.TempDir()
	bmp := filepath.Join(dir, "scan.bmp")
	if err := os.WriteFile(bmp, scrubtest.BMP(40, 30), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Clean(context.Background(), bmp, "scan.bmp", &bytes.Buffer{}, &Options{Mat2: "-"})
	if !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrNoMat2) || !strings.Contains(err.Error(), "this kind of file") {
		t.Errorf("Clean of a BMP: %v, want the unknown format's ErrUnsupported", err)
	}
	txt := filepath.Join(dir, "note.txt")
	if err := os.WriteFile(txt, []byte("BMW and BMX bikes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if rep, err := Clean(context.Background(), txt, "note.txt", &bytes.Buffer{}, nil); err != nil || rep.Method != None {
		t.Errorf("Clean of text starting with BM: %+v %v", rep, err)
	}
}

func TestTIFFOverlappingIFDsBounded(t *testing.T) {
	// 65536 IFDs 4 bytes apart, each claiming 21846 entries that overlap
	// the next ones': 1.4e9 entries to read without a bound on them all.
	const ifds, n = MaxFrames, 21846
	b := make([]byte, 10+12*n+4*ifds)
	copy(b, "II*\x00\x08\x00\x00\x00")
	for k := range ifds {
		binary.LittleEndian.PutUint16(b[8+4*k:], n)
		if k+1 < ifds {
			binary.LittleEndian.PutUint32(b[10+12*n+4*k:], uint32(12+4*k))
		}
	}
	info, err := Inspect(bytes.NewReader(b))
	if err != nil || info.Format != TIFF || info.Frames < 1 || info.Frames*n > maxTIFFEntries {
		t.Errorf("%+v %v: want the walk stopped after at most %d entries", info, err, maxTIFFEntries)
	}
}
