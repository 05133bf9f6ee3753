package scrub

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// Errors callers can branch on.
var (
	// ErrUnsupported: Sotto cannot remove this file's metadata (an unknown
	// format, or one only mat2 handles and mat2 is missing or refused it).
	// The caller asks its user whether to send the original unchanged.
	ErrUnsupported = errors.New("scrub: cannot remove this file's metadata")
	// ErrNoMat2 wraps ErrUnsupported when mat2 would clean the file but is
	// not installed.
	ErrNoMat2 = fmt.Errorf("%w: mat2 is not installed (Debian: apt install mat2)", ErrUnsupported)
	// ErrMalformed: the file claims a format it does not follow (truncated,
	// damaged or hostile).
	ErrMalformed = errors.New("scrub: the file is damaged")
	// ErrBomb: an image declares more than MaxPixels pixels.
	ErrBomb = errors.New("scrub: the image declares more pixels than Sotto accepts (a decompression bomb)")
)

// MaxPixels is the largest width × height an image may declare (2^28,
// 16384 × 16384): beyond it an image viewer would need gigabytes to show it,
// which is what a decompression bomb is made for.
const MaxPixels = 1 << 28

// Method says how a file was cleaned.
type Method string

const (
	Native Method = "native" // Sotto's own segment and chunk surgery
	Mat2   Method = "mat2"   // the mat2 tool
	None   Method = "none"   // nothing to remove (plain text)
)

// Report says what Clean did.
type Report struct {
	Format  string   // "JPEG", "PNG", "WebP", "text", or the file type mat2 saw
	Method  Method   // how it was cleaned
	Removed []string // what was removed, by kind, in the order found (never values)
	Kept    []string // metadata deliberately kept (a JPEG's orientation)
	Width   int      // images: declared width and height (0 if unknown)
	Height  int
}

func (r *Report) remove(what string) {
	if !slices.Contains(r.Removed, what) {
		r.Removed = append(r.Removed, what)
	}
}

// String is one line for the user.
func (r *Report) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s, cleaned by %s", r.Format, r.Method)
	switch {
	case r.Method == None:
		b.Reset()
		fmt.Fprintf(&b, "%s: no metadata to remove", r.Format)
	case len(r.Removed) == 0:
		b.WriteString(": no metadata found")
	default:
		b.WriteString(": removed ")
		for i, s := range r.Removed {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(s)
		}
	}
	if len(r.Kept) > 0 {
		b.WriteString("; kept ")
		for i, s := range r.Kept {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// Options tune Clean. The zero value (or nil) is right for production.
type Options struct {
	// Mat2 is the mat2 program: "" looks up "mat2" on PATH; "-" never
	// runs mat2 (as if it were not installed).
	Mat2 string
	// TempDir is where mat2 works on a private copy of the file; "" uses
	// $XDG_RUNTIME_DIR (a per-user tmpfs on most systems) or else the
	// system's temporary directory. The copy is removed before Clean returns.
	TempDir string
	// Timeout bounds one mat2 run; 0 means 10 minutes.
	Timeout time.Duration
}

// Format is a file format recognised by its first bytes.
type Format int

const (
	Unknown Format = iota
	JPEG
	PNG
	WebP
	PDF
	Zip // office documents (docx, xlsx, odt, ...), epub, zip
	GIF
	TIFF
	ISOBMFF // MP4, MOV, HEIC: an "ftyp" box
	MP3
	FLAC
	Ogg
	WAV
	AIFF
	AVI
	// BMP is recognised for Inspect; Clean treats it as an unknown format,
	// as before it was recognised (neither Sotto nor mat2 cleans it).
	BMP
)

var formatNames = map[Format]string{
	Unknown: "unknown", JPEG: "JPEG", PNG: "PNG", WebP: "WebP", PDF: "PDF", Zip: "ZIP",
	GIF: "GIF", TIFF: "TIFF", ISOBMFF: "MP4/MOV/HEIC", MP3: "MP3", FLAC: "FLAC", Ogg: "Ogg",
	WAV: "WAV", AIFF: "AIFF", AVI: "AVI", BMP: "BMP",
}

func (f Format) String() string { return formatNames[f] }

// SniffLen is how many first bytes Sniff looks at.
const SniffLen = 16

// Sniff recognises a format from a file's first bytes (at least SniffLen
// of them if the file is that long).
func Sniff(h []byte) Format {
	has := func(off int, s string) bool {
		return len(h) >= off+len(s) && string(h[off:off+len(s)]) == s
	}
	switch {
	case has(0, "\xff\xd8\xff"):
		return JPEG
	case has(0, "\x89PNG\r\n\x1a\n"):
		return PNG
	case has(0, "RIFF") && has(8, "WEBP"):
		return WebP
	case has(0, "RIFF") && has(8, "WAVE"):
		return WAV
	case has(0, "RIFF") && has(8, "AVI "):
		return AVI
	case has(0, "%PDF-"):
		return PDF
	case has(0, "PK\x03\x04"):
		return Zip
	case has(0, "GIF87a"), has(0, "GIF89a"):
		return GIF
	case has(0, "II*\x00"), has(0, "MM\x00*"):
		return TIFF
	case has(4, "ftyp"):
		return ISOBMFF
	case has(0, "ID3"), len(h) >= 2 && h[0] == 0xff && h[1]&0xe0 == 0xe0:
		return MP3
	case has(0, "fLaC"):
		return FLAC
	case has(0, "OggS"):
		return Ogg
	case has(0, "FORM") && (has(8, "AIFF") || has(8, "AIFC")):
		return AIFF
	case has(0, "BM") && has(6, "\x00\x00\x00\x00") && len(h) >= 16 && h[15] == 0 && bmpHeaderSizes[h[14]]:
		// The reserved fields are zero and the DIB header's size is a
		// known one: never text (which has no NUL), which "BM" alone
		// could be.
		return BMP
	}
	return Unknown
}

// ext is the file name extension mat2 needs to recognise a format, when the
// content alone says which; "" when the file's own extension must decide.
func (f Format) ext() string {
	switch f {
	case PDF:
		return ".pdf"
	case GIF:
		return ".gif"
	case TIFF:
		return ".tiff"
	case MP3:
		return ".mp3"
	case FLAC:
		return ".flac"
	case Ogg:
		return ".ogg"
	case WAV:
		return ".wav"
	case AIFF:
		return ".aiff"
	case AVI:
		return ".avi"
	}
	return ""
}

// Clean writes a copy of the file at path without its metadata to w and
// reports what it removed. On error, what was written to w must be thrown
// away. name is the file's name as the user knows it (its extension helps
// mat2 tell a .docx from a .zip); it is never used as a path.
func Clean(ctx context.Context, path, name string, w io.Writer, o *Options) (*Report, error) {
	if ctx == nil {
		return nil, errors.New("scrub: nil context")
	}
	if o == nil {
		o = &Options{}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scrub: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("scrub: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("scrub: %s is not a regular file", name)
	}
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("scrub: %w", err)
	}
	head = head[:n]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("scrub: %w", err)
	}
	cw := &ctxWriter{ctx: ctx, w: w}
	format := Sniff(head)
	if format == BMP {
		format = Unknown // recognised only for Inspect: see BMP
	}
	switch format {
	case JPEG:
		return CleanJPEG(cw, bufio.NewReaderSize(f, 64<<10))
	case PNG:
		return CleanPNG(cw, bufio.NewReaderSize(f, 64<<10))
	case WebP:
		return CleanWebP(cw, f, fi.Size())
	case Unknown:
		// Plain text has no hidden metadata; markup (HTML, SVG) can, and
		// goes to mat2.
		if !markupExt(name) {
			text, err := isText(bufio.NewReaderSize(f, 64<<10))
			if err != nil {
				return nil, fmt.Errorf("scrub: %w", err)
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return nil, fmt.Errorf("scrub: %w", err)
			}
			if text {
				if _, err := io.Copy(cw, f); err != nil {
					return nil, fmt.Errorf("scrub: %w", err)
				}
				return &Report{Format: "text", Method: None}, nil
			}
		}
	}
	return cleanMat2(ctx, f, format, name, cw, o)
}

// ctxWriter stops a long copy when ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func malformed(format, what string) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, format, what)
}

// checkPixels refuses a declared size past MaxPixels.
func checkPixels(w, h int) error {
	if w > 0 && h > 0 && uint64(w)*uint64(h) > MaxPixels {
		return fmt.Errorf("%w: %d × %d pixels", ErrBomb, w, h)
	}
	return nil
}
