package scrub

import (
	"bytes"
	"errors"
	"image"
	"image/color/palette"
	"image/gif"
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
