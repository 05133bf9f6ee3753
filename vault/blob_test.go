package vault

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestBlobs(t *testing.T) {
	v, dir := newVault(t)
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	copy(data, "PLAINTEXT-MARKER")
	w, err := v.CreateBlob("f/1/0")
	if err != nil {
		t.Fatal(err)
	}
	for p := data; len(p) > 0; {
		n := min(len(p), 30000)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	// An aborted blob leaves nothing, and does not replace the committed one.
	a, _ := v.CreateBlob("f/1/0")
	a.Write([]byte("junk"))
	a.Abort()
	read := func(v *Vault) []byte {
		r, err := v.OpenBlob("f/1/0")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Equal(read(v), data) {
		t.Fatal("the blob read back differs")
	}
	// The name and the plaintext appear nowhere on disk.
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte("PLAINTEXT-MARKER")) || bytes.Contains([]byte(p), []byte("f/1/0")) {
			t.Errorf("%s holds the blob's plaintext or name", p)
		}
		return nil
	})
	// A crash mid-write leaves a temporary file that Open removes.
	c, _ := v.CreateBlob("f/1/1")
	c.Write(data[:1000])
	v = reopen(t, v)
	ents, _ := os.ReadDir(filepath.Join(dir, blobDir))
	if len(ents) != 1 {
		t.Errorf("b/ holds %d files after reopening, want 1", len(ents))
	}
	if !bytes.Equal(read(v), data) {
		t.Fatal("the blob differs after reopening")
	}
	if _, err := v.OpenBlob("f/1/1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an uncommitted blob opens: %v", err)
	}
	// Prune keeps only what it is told; Remove deletes.
	d, _ := v.CreateBlob("orphan")
	d.Write([]byte("x"))
	d.Commit()
	if err := v.PruneBlobs([]string{"f/1/0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.OpenBlob("orphan"); !errors.Is(err, ErrNotFound) {
		t.Errorf("pruned blob still opens: %v", err)
	}
	if err := v.RemoveBlob("f/1/0"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.OpenBlob("f/1/0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removed blob still opens: %v", err)
	}
}

func TestBlobTampered(t *testing.T) {
	v, dir := newVault(t)
	w, _ := v.CreateBlob("x")
	w.Write(bytes.Repeat([]byte("a"), 200000))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, blobDir))
	p := filepath.Join(dir, blobDir, ents[0].Name())
	b, _ := os.ReadFile(p)
	b[len(b)-100] ^= 1
	os.WriteFile(p, b, 0o600)
	r, err := v.OpenBlob("x")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r)
	r.Close()
	var fe *FileError
	if !errors.As(err, &fe) || !errors.Is(err, ErrDamaged) {
		t.Fatalf("reading a tampered blob: %v, want a FileError", err)
	}
}
