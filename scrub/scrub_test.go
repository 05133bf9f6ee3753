package scrub

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sottochat/sotto/scrub/scrubtest"
)

func testImage() *image.NRGBA { return scrubtest.Image(67, 43) }

func setPNGSize(p []byte, w, h uint32) { scrubtest.SetPNGSize(p, w, h) }

// exiftool runs the real exiftool (Debian's libimage-exiftool-perl).
func exiftool(t *testing.T, args ...string) []byte {
	t.Helper()
	p, err := exec.LookPath("exiftool")
	if err != nil {
		t.Fatal("exiftool is not installed: run 'make deps' (Debian package libimage-exiftool-perl)")
	}
	out, err := exec.Command(p, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("exiftool %v: %v\n%s", args, err, out)
	}
	return out
}

// tags reads every tag exiftool finds, as "Group:Name" -> value.
func tags(t *testing.T, path string) map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal(exiftool(t, "-j", "-a", "-G1", "-n", path), &out); err != nil || len(out) != 1 {
		t.Fatalf("exiftool -j: %v", err)
	}
	return out[0]
}

// identifying are the tags that must be gone (matched on the name after
// the group).
var identifying = []string{"GPSLatitude", "GPSLongitude", "GPSPosition", "SerialNumber", "LensSerialNumber",
	"Artist", "Make", "Model", "Creator", "By-line", "Comment", "OwnerName", "Software", "UserComment", "ImageDescription"}

func checkGone(t *testing.T, got map[string]any) {
	t.Helper()
	for k, v := range got {
		name := k[strings.IndexByte(k, ':')+1:]
		for _, bad := range identifying {
			if name == bad {
				t.Errorf("%s = %v is still there", k, v)
			}
		}
		if strings.Contains(k, "Warning") || strings.Contains(k, "Error") {
			t.Errorf("exiftool finds the cleaned file damaged: %s = %v", k, v)
		}
	}
}

func clean(t *testing.T, path string) (*Report, string) {
	t.Helper()
	var out bytes.Buffer
	rep, err := Clean(context.Background(), path, filepath.Base(path), &out, nil)
	if err != nil {
		t.Fatalf("Clean: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "cleaned"+filepath.Ext(path))
	if err := os.WriteFile(dst, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return rep, dst
}

var tagArgs = []string{"-q", "-overwrite_original",
	"-GPSLatitude=48.8584", "-GPSLatitudeRef=N", "-GPSLongitude=2.2945", "-GPSLongitudeRef=E",
	"-SerialNumber=SN-0042-SOURCE", "-LensSerialNumber=LS-77", "-OwnerName=Jane Source",
	"-Make=Canon", "-Model=EOS 5D", "-Artist=Jane Source", "-Software=Camera 1.0",
	"-XMP:Creator=Jane Source"}

func TestJPEGWithExiftool(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "photo.jpg")
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(src, b.Bytes(), 0o600)
	exiftool(t, append(append([]string{}, tagArgs...), "-IPTC:By-line=Jane Source", "-Comment=from the source",
		"-UserComment=meet at noon", "-ImageDescription=leak", "-Orientation=6", "-n", src)...)
	before := tags(t, src)
	for _, k := range []string{"GPS:GPSLatitude", "ExifIFD:SerialNumber", "IFD0:Artist", "XMP-dc:Creator", "IPTC:By-line", "File:Comment"} {
		if _, ok := before[k]; !ok {
			t.Fatalf("exiftool did not write %s: the test proves nothing", k)
		}
	}
	rep, dst := clean(t, src)
	after := tags(t, dst)
	checkGone(t, after)
	if after["IFD0:Orientation"] != 6.0 {
		t.Errorf("orientation = %v, want 6 kept", after["IFD0:Orientation"])
	}
	samePixels(t, src, dst, jpeg.Decode)
	want := []string{"GPS position", "camera serial number", "lens serial number", "owner name", "author", "camera make and model"}
	for _, w := range want {
		if !strings.Contains(rep.String(), w) {
			t.Errorf("report %q does not mention %q", rep, w)
		}
	}
	for _, w := range []string{"XMP", "IPTC", "comment"} {
		if !strings.Contains(rep.String(), w) {
			t.Errorf("report %q does not mention %q", rep, w)
		}
	}
	if rep.Width != 67 || rep.Height != 43 || rep.Method != Native {
		t.Errorf("report %+v", rep)
	}
}

func TestPNGWithExiftool(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "shot.png")
	var b bytes.Buffer
	if err := png.Encode(&b, testImage()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(src, b.Bytes(), 0o600)
	exiftool(t, append(append([]string{}, tagArgs...), "-PNG:Author=Jane Source", "-PNG:Comment=secret", src)...)
	before := tags(t, src)
	if _, ok := before["GPS:GPSLatitude"]; !ok {
		t.Fatal("exiftool wrote no GPS into the PNG")
	}
	rep, dst := clean(t, src)
	after := tags(t, dst)
	checkGone(t, after)
	for k := range after {
		if strings.HasPrefix(k, "PNG:Author") || strings.HasPrefix(k, "XMP") || strings.HasPrefix(k, "GPS") {
			t.Errorf("%s is still there", k)
		}
	}
	samePixels(t, src, dst, png.Decode)
	if !strings.Contains(rep.String(), "EXIF") || !strings.Contains(rep.String(), "text fields") {
		t.Errorf("report %q", rep)
	}
}

// tinyWebP is a 1×1 lossless WebP.
const tinyWebP = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="

func TestWebPWithExiftool(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "pic.webp")
	raw, _ := base64.StdEncoding.DecodeString(tinyWebP)
	os.WriteFile(src, raw, 0o600)
	exiftool(t, append(append([]string{}, tagArgs...), "-ICC_Profile<=/dev/null", src)...)
	before := tags(t, src)
	if _, ok := before["GPS:GPSLatitude"]; !ok {
		t.Fatal("exiftool wrote no GPS into the WebP")
	}
	rep, dst := clean(t, src)
	after := tags(t, dst)
	checkGone(t, after)
	if f, _ := after["RIFF:WebP_Flags"].(string); f != "" && f != "0" {
		t.Errorf("VP8X flags still claim %v", f)
	}
	// The image data chunk is copied byte for byte: the pixels are the same.
	got, _ := os.ReadFile(dst)
	img := raw[12:]
	if !bytes.Contains(got, img) {
		t.Error("the VP8L image chunk changed")
	}
	if rep.Width != 1 || rep.Height != 1 || !strings.Contains(rep.String(), "EXIF") {
		t.Errorf("report %+v", rep)
	}
}

func samePixels(t *testing.T, a, b string, decode func(io.Reader) (image.Image, error)) {
	t.Helper()
	load := func(p string) image.Image {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, err := decode(f)
		if err != nil {
			t.Fatalf("decoding %s: %v", p, err)
		}
		return img
	}
	ia, ib := load(a), load(b)
	if !reflect.DeepEqual(ia, ib) {
		t.Error("the decoded pixels differ")
	}
}

func TestPDFWithMat2(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("mat2"); err != nil {
		t.Fatal("mat2 is not installed: run 'make deps'")
	}
	src := filepath.Join(t.TempDir(), "leak.pdf")
	os.WriteFile(src, scrubtest.PDF("Jane Source"), 0o600)
	if v, _ := tags(t, src)["PDF:Author"]; v != "Jane Source" {
		t.Fatalf("the test PDF has no author: %v", v)
	}
	rep, dst := clean(t, src)
	after := tags(t, dst)
	for k, v := range after {
		if strings.Contains(k, "Author") || v == "Jane Source" {
			t.Errorf("%s = %v is still there", k, v)
		}
	}
	if rep.Method != Mat2 || !strings.Contains(rep.String(), "author") {
		t.Errorf("report %q", rep)
	}
}

func TestMat2Missing(t *testing.T) {
	src := filepath.Join(t.TempDir(), "leak.pdf")
	os.WriteFile(src, scrubtest.PDF("Jane Source"), 0o600)
	var out bytes.Buffer
	_, err := Clean(context.Background(), src, "leak.pdf", &out, &Options{Mat2: "-"})
	if !errors.Is(err, ErrNoMat2) || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "mat2 is not installed") {
		t.Fatalf("err = %v, want ErrNoMat2", err)
	}
	_, err = Clean(context.Background(), src, "leak.pdf", &out, &Options{Mat2: "/nonexistent/mat2"})
	if !errors.Is(err, ErrNoMat2) {
		t.Fatalf("err = %v, want ErrNoMat2", err)
	}
}

func TestUnknownAndText(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "data.bin")
	os.WriteFile(bin, []byte{0, 1, 2, 3, 0xfe, 0xff, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}, 0o600)
	var out bytes.Buffer
	if _, err := Clean(context.Background(), bin, "data.bin", &out, nil); !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrNoMat2) {
		t.Errorf("binary: err = %v, want ErrUnsupported", err)
	}
	txt := filepath.Join(dir, "notes.txt")
	os.WriteFile(txt, []byte("meet at the café\nbring the papers\n"), 0o600)
	out.Reset()
	rep, err := Clean(context.Background(), txt, "notes.txt", &out, nil)
	if err != nil || rep.Method != None || out.String() != "meet at the café\nbring the papers\n" {
		t.Errorf("text: %v %+v %q", err, rep, out.String())
	}
}

func TestBombRefused(t *testing.T) {
	// A PNG header declaring 100000 × 100000 pixels: never decoded.
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	raw := b.Bytes()
	setPNGSize(raw, 100000, 100000)
	if _, err := Inspect(bytes.NewReader(raw)); !errors.Is(err, ErrBomb) {
		t.Errorf("Inspect: %v, want ErrBomb", err)
	}
	if _, err := CleanPNG(&bytes.Buffer{}, bytes.NewReader(raw)); !errors.Is(err, ErrBomb) {
		t.Errorf("CleanPNG: %v, want ErrBomb", err)
	}
	ok := b.Bytes()
	setPNGSize(ok, 4000, 3000)
	if info, err := Inspect(bytes.NewReader(ok)); err != nil || info.Width != 4000 || info.Height != 3000 {
		t.Errorf("Inspect of a normal header: %+v %v", info, err)
	}
}

func TestMalformedRefused(t *testing.T) {
	var b bytes.Buffer
	jpeg.Encode(&b, testImage(), nil)
	j := b.Bytes()
	for _, cut := range []int{1, 3, 20, len(j) / 2, len(j) - 2} {
		if _, err := CleanJPEG(&bytes.Buffer{}, bytes.NewReader(j[:cut])); !errors.Is(err, ErrMalformed) {
			t.Errorf("JPEG cut at %d: %v", cut, err)
		}
	}
	b.Reset()
	png.Encode(&b, testImage())
	p := b.Bytes()
	for _, cut := range []int{5, 20, 40, len(p) - 5} {
		if _, err := CleanPNG(&bytes.Buffer{}, bytes.NewReader(p[:cut])); !errors.Is(err, ErrMalformed) {
			t.Errorf("PNG cut at %d: %v", cut, err)
		}
	}
	p[50] ^= 1 // inside IDAT: the CRC no longer matches
	if _, err := CleanPNG(&bytes.Buffer{}, bytes.NewReader(p)); !errors.Is(err, ErrMalformed) {
		t.Errorf("PNG with a bad CRC: %v", err)
	}
}
