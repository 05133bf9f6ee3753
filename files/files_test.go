package files

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	good := []string{"report.pdf", "résumé 2024.docx", "تقرير.pdf", "写真.jpg", "a", "x.tar.gz", strings.Repeat("é", 127)}
	for _, n := range good {
		if err := Check(n); err != nil {
			t.Errorf("Check(%q) = %v", n, err)
		}
		if Clean(n) != n {
			t.Errorf("Clean(%q) = %q, want unchanged", n, Clean(n))
		}
	}
	bad := map[string]string{
		"":                       "empty",
		"../../etc/passwd":       "starts with a dot",
		"a/b":                    "path separator",
		`a\b`:                    "path separator",
		".bashrc":                "starts with a dot",
		"..":                     "starts with a dot",
		"photo\u202egpj.exe":     "bidirectional",
		"in\u2066voice.pdf":      "bidirectional",
		"zero\u200bwidth":        "invisible",
		"bom\ufeff.txt":          "invisible",
		"tag\U000E0041.txt":      "invisible",
		"bell\a.txt":             "control",
		"esc\x1b[31m.txt":        "control",
		"c1\u009b.txt":           "control",
		"line\u2028sep":          "line separator",
		" leading":               "white space",
		"trailing ":              "white space",
		strings.Repeat("a", 256): "longer",
		"bad\xffutf8":            "UTF-8",
	}
	for n, why := range bad {
		err := Check(n)
		if !errors.Is(err, ErrName) || !strings.Contains(err.Error(), why) {
			t.Errorf("Check(%q) = %v, want %q", n, err, why)
		}
		c := Clean(n)
		if err := Check(c); err != nil {
			t.Errorf("Clean(%q) = %q fails Check: %v", n, c, err)
		}
	}
	if c := Clean("../../etc/passwd"); c != "_.._etc_passwd" {
		t.Errorf("Clean traversal = %q", c)
	}
	if c := Clean("photo\u202egpj.exe"); c != "photogpj.exe" {
		t.Errorf("Clean bidi = %q", c)
	}
	if c := Clean(strings.Repeat("x", 300) + ".pdf"); len(c) != MaxName || !strings.HasSuffix(c, ".pdf") {
		t.Errorf("Clean long = %d bytes %q", len(c), c[len(c)-8:])
	}
	if c := Clean("..."); c != "file" {
		t.Errorf("Clean dots = %q", c)
	}
}

// memStore is a Store in memory, for tests.
type memStore struct{ m map[string][]byte }

type memBlob struct {
	s    *memStore
	name string
	b    bytes.Buffer
}

func (w *memBlob) Write(p []byte) (int, error) { return w.b.Write(p) }
func (w *memBlob) Commit() error               { w.s.m[w.name] = w.b.Bytes(); return nil }
func (w *memBlob) Abort()                      {}

func (s *memStore) CreateBlob(n string) (BlobWriter, error) { return &memBlob{s: s, name: n}, nil }
func (s *memStore) OpenBlob(n string) (io.ReadCloser, error) {
	b, ok := s.m[n]
	if !ok {
		return nil, errors.New("no such blob")
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}
func (s *memStore) RemoveBlob(n string) error { delete(s.m, n); return nil }

func TestWriterReaderResume(t *testing.T) {
	st := &memStore{m: map[string][]byte{}}
	size := uint64(3*SegmentSize + 12345)
	data := make([]byte, size)
	rand.Read(data)
	w, err := NewWriter(st, "k", size, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Write 1.5 segments in chunks, then "crash" and resume from Durable.
	var p uint64
	for p < SegmentSize*3/2 {
		n := min(ChunkSize, size-p)
		w.Write(data[p : p+n])
		p += n
	}
	if w.Durable() != SegmentSize {
		t.Fatalf("durable %d", w.Durable())
	}
	w.Close()
	w, err = NewWriter(st, "k", size, SegmentSize, w.HashState())
	if err != nil {
		t.Fatal(err)
	}
	for p = SegmentSize; p < size; {
		n := min(ChunkSize, size-p)
		if _, err := w.Write(data[p : p+n]); err != nil {
			t.Fatal(err)
		}
		p += n
	}
	if _, err := w.Write([]byte{1}); !errors.Is(err, ErrTooMuch) {
		t.Errorf("writing past the size: %v", err)
	}
	sum, err := w.Sum()
	if err != nil || sum != sha256.Sum256(data) {
		t.Fatalf("sum %x %v", sum, err)
	}
	if last := st.m[SegmentName("k", 3)]; len(last) != 16384 {
		t.Errorf("last segment padded to %d bytes, want 16384", len(last))
	}
	for _, off := range []uint64{0, 1, SegmentSize - 1, SegmentSize, 2*SegmentSize + 7, size - 1} {
		got, err := io.ReadAll(NewReader(st, "k", size, off))
		if err != nil || !bytes.Equal(got, data[off:]) {
			t.Fatalf("read from %d: %v", off, err)
		}
	}
	Remove(st, "k", size)
	if len(st.m) != 0 {
		t.Errorf("%d segments left after Remove", len(st.m))
	}
}

func TestRecord(t *testing.T) {
	r := &Record{V: RecordVersion, ID: make([]byte, 16), Dir: In, Name: "a.pdf", Size: 10, Hash: make([]byte, 32), State: Accepted, Offset: 0}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r2, err := ParseRecord(b)
	if err != nil || r2.Name != "a.pdf" {
		t.Fatal(err)
	}
	for _, bad := range []string{`{"v":1}`, string(b) + "{}", strings.Replace(string(b), `"a.pdf"`, `"../a"`, 1), strings.Replace(string(b), `"v":1`, `"v":1,"x":2`, 1)} {
		if _, err := ParseRecord([]byte(bad)); !errors.Is(err, ErrRecord) {
			t.Errorf("ParseRecord(%s) = %v", bad, err)
		}
	}
}

func TestWriterUnknownSize(t *testing.T) {
	st := &memStore{m: map[string][]byte{}}
	w, err := NewWriter(st, "u", 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 2*SegmentSize+5)
	rand.Read(data)
	w.Write(data)
	size, sum, err := w.Finish()
	if err != nil || size != uint64(len(data)) || sum != sha256.Sum256(data) {
		t.Fatalf("Finish: %d %v", size, err)
	}
	got, err := io.ReadAll(NewReader(st, "u", size, 0))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
	w2, _ := NewWriter(st, "v", 0, 0, nil)
	if _, _, err := w2.Finish(); err == nil {
		t.Error("an empty file finishes")
	}
	w.Discard()
	if len(st.m) != 0 {
		t.Errorf("%d segments left after Discard", len(st.m))
	}
}
