package scrub

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// mat2Exts are the extensions mat2 0.13 (Debian bookworm) cleans
// ("mat2 --list"); mat2 recognises a file by its extension.
var mat2Exts = map[string]bool{
	".epub": true, ".pdf": true, ".odc": true, ".odf": true, ".odg": true, ".odi": true, ".odp": true,
	".ods": true, ".odt": true, ".pptx": true, ".xlsx": true, ".docx": true, ".torrent": true, ".ncx": true,
	".tar": true, ".xhtml": true, ".xht": true, ".xhtm": true, ".zip": true, ".flac": true, ".mp2": true,
	".mpga": true, ".mp1": true, ".mpega": true, ".mp3": true, ".spx": true, ".ogg": true, ".opus": true,
	".oga": true, ".aif": true, ".aiff": true, ".aifc": true, ".wav": true, ".gif": true, ".heic": true,
	".svgz": true, ".svg": true, ".tiff": true, ".tif": true, ".ppm": true, ".css": true, ".shtml": true,
	".htm": true, ".html": true, ".m4v": true, ".mpg4": true, ".mp4": true, ".wmv": true, ".avi": true,
}

// mat2Output bounds what is kept of mat2's output.
const mat2Output = 64 << 10

// maxMat2Fields bounds the metadata field names reported.
const maxMat2Fields = 32

// cleanMat2 cleans f (of the given sniffed format; name is the user's file
// name, for its extension) with mat2 on a private copy.
func cleanMat2(ctx context.Context, f *os.File, format Format, name string, w io.Writer, o *Options) (*Report, error) {
	ext := mat2Ext(f, format, name)
	kind := format.String()
	if format == Unknown {
		kind = "this kind of file"
		if ext != "" {
			kind = strings.TrimPrefix(ext, ".") + " files"
		}
	}
	if ext == "" {
		return nil, fmt.Errorf("%w: Sotto does not know how to remove metadata from %s", ErrUnsupported, kind)
	}
	prog := o.Mat2
	if prog == "-" {
		return nil, fmt.Errorf("%w (needed for %s)", ErrNoMat2, kind)
	}
	if prog == "" {
		prog = "mat2"
	}
	path, err := exec.LookPath(prog)
	if err != nil {
		return nil, fmt.Errorf("%w (needed for %s)", ErrNoMat2, kind)
	}
	dir, err := os.MkdirTemp(tempDir(o), "sotto-scrub-")
	if err != nil {
		return nil, fmt.Errorf("scrub: a private directory for mat2: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("scrub: %w", err)
	}
	in := filepath.Join(dir, "file"+ext)
	out := filepath.Join(dir, "file.cleaned"+ext)
	if err := copyFile(ctx, in, f); err != nil {
		return nil, fmt.Errorf("scrub: copying the file for mat2: %w", err)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	show, _, err := runMat2(ctx, path, dir, "--show", in)
	if err != nil {
		return nil, err
	}
	rep := &Report{Format: strings.TrimPrefix(ext, "."), Method: Mat2}
	if format != Unknown {
		rep.Format = format.String()
	}
	for _, k := range mat2Fields(show) {
		rep.remove(k)
	}
	msg, code, err := runMat2(ctx, path, dir, in)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, mat2Error(msg, kind)
	}
	cf, err := os.Open(out)
	if err != nil {
		if len(rep.Removed) == 0 {
			// mat2 leaves no copy when it found nothing to clean.
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return nil, fmt.Errorf("scrub: %w", err)
			}
			if _, err := io.Copy(w, f); err != nil {
				return nil, fmt.Errorf("scrub: %w", err)
			}
			return rep, nil
		}
		return nil, fmt.Errorf("%w: mat2 wrote no cleaned copy", ErrUnsupported)
	}
	defer cf.Close()
	if _, err := io.Copy(w, cf); err != nil {
		return nil, fmt.Errorf("scrub: %w", err)
	}
	return rep, nil
}

// mat2Ext chooses the extension mat2 sees: the one the content proves, else
// the user's (for formats told apart by name, such as .docx and .zip).
func mat2Ext(f *os.File, format Format, name string) string {
	user := strings.ToLower(filepath.Ext(name))
	if !mat2Exts[user] {
		user = ""
	}
	switch format {
	case Zip:
		if user == "" {
			return ".zip"
		}
		return user
	case ISOBMFF:
		var h [12]byte
		if _, err := f.ReadAt(h[:], 0); err == nil {
			switch string(h[8:12]) {
			case "heic", "heix", "mif1", "msf1":
				return ".heic"
			}
		}
		if user == "" {
			return ".mp4"
		}
		return user
	case Unknown:
		return user
	}
	if e := format.ext(); e != "" {
		return e
	}
	return user
}

// runMat2 runs mat2 in dir with a bare environment, and returns its output
// (bounded) and exit code. An error means it could not run at all.
func runMat2(ctx context.Context, path, dir string, args ...string) ([]byte, int, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir, "LANG=C.UTF-8", "LC_ALL=C.UTF-8"}
	var out bytes.Buffer
	lw := &limitWriter{w: &out, n: mat2Output}
	cmd.Stdout, cmd.Stderr = lw, lw
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, 0, fmt.Errorf("%w: mat2 did not finish in time", ErrUnsupported)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.Bytes(), ee.ExitCode(), nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%w: running mat2: %v", ErrUnsupported, err)
	}
	return out.Bytes(), 0, nil
}

// mat2Fields reads the field names of "mat2 --show": the indented "name:
// value" lines under "[+] Metadata for ...". Values are never kept.
func mat2Fields(out []byte) []string {
	var keys []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() && len(keys) < maxMat2Fields {
		line := sc.Text()
		if !strings.HasPrefix(line, "    ") {
			continue
		}
		k, _, ok := strings.Cut(strings.TrimSpace(line), ":")
		k = printable(k, 40)
		if !ok || k == "" || k == "format" || seen[k] {
			continue
		}
		seen[k] = true
		keys = append(keys, k)
	}
	return keys
}

// mat2Error turns mat2's complaint into an error for the user.
func mat2Error(msg []byte, kind string) error {
	s := string(msg)
	switch {
	case strings.Contains(s, "not supported"):
		return fmt.Errorf("%w: mat2 does not support %s", ErrUnsupported, kind)
	case strings.Contains(s, "ffmpeg"):
		return fmt.Errorf("%w: mat2 needs ffmpeg for %s (Debian: apt install ffmpeg)", ErrUnsupported, kind)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	line = strings.TrimPrefix(line, "[-] ")
	if line = printable(line, 200); line == "" {
		line = "it failed"
	}
	return fmt.Errorf("%w: mat2 could not clean it (%s)", ErrUnsupported, line)
}

// printable keeps printable ASCII, at most n bytes.
func printable(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r < 0x7f && b.Len() < n {
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

func tempDir(o *Options) string {
	if o.TempDir != "" {
		return o.TempDir
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
	}
	return os.TempDir()
}

func copyFile(ctx context.Context, dst string, src *os.File) error {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(&ctxWriter{ctx: ctx, w: out}, src)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// limitWriter keeps the first n bytes and discards the rest.
type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
