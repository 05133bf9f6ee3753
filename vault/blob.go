package vault

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"filippo.io/age"
)

// Blobs are values too large for a record, streamed to and from disk:
// the pieces of files sent and received. Each blob is one standard age
// file encrypted to the vault key in b/ (the age tool opens it with the
// vault key, like every other vault file), under a keyed hash of its name.
// The caller chooses the pieces' sizes (and pads them if their sizes must
// not show).

const blobDir = "b"

// BlobWriter streams one blob to a temporary file; [BlobWriter.Commit]
// makes it durable under its name, [BlobWriter.Abort] throws it away. It is
// not safe for concurrent use.
type BlobWriter struct {
	v     *Vault
	f     *os.File
	aw    io.WriteCloser
	tmp   string
	final string
	done  bool
}

// CreateBlob starts writing the blob name (1 to 1024 bytes). An existing
// blob of that name is replaced when the new one is committed.
func (v *Vault) CreateBlob(name string) (*BlobWriter, error) {
	final, err := v.blobPath(name)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(final)
	var r [8]byte
	rand.Read(r[:])
	tmp := filepath.Join(dir, tmpPrefix+hex.EncodeToString(r[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	aw, err := age.Encrypt(f, v.key.recipient)
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("vault: %w", err)
	}
	return &BlobWriter{v: v, f: f, aw: aw, tmp: tmp, final: final}, nil
}

// Write encrypts p into the blob.
func (w *BlobWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("vault: blob already committed or aborted")
	}
	return w.aw.Write(p)
}

// Commit finishes the age file, fsyncs it, renames it into place and
// fsyncs the directory: when it returns nil the blob survives a crash.
func (w *BlobWriter) Commit() error {
	if w.done {
		return errors.New("vault: blob already committed or aborted")
	}
	w.done = true
	err := w.aw.Close()
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.tmp, w.final)
	}
	if err == nil {
		err = syncDir(filepath.Dir(w.final))
	}
	if err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("vault: writing a blob: %w", err)
	}
	return nil
}

// Abort throws the blob away (a no-op after Commit).
func (w *BlobWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.tmp)
}

// OpenBlob returns a reader that decrypts the blob name as it is read. A
// damaged or foreign file fails with a *FileError, at open or while reading.
func (v *Vault) OpenBlob(name string) (io.ReadCloser, error) {
	p, err := v.blobPath(name)
	if err != nil {
		return nil, err
	}
	rel, _ := filepath.Rel(v.dir, p)
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	var r io.Reader
	err = v.key.withIdentity(func(id age.Identity, _ []byte) error {
		var err error
		r, err = age.Decrypt(f, id)
		return err
	})
	if err != nil {
		f.Close()
		return nil, &FileError{Name: rel, Err: fmt.Errorf("%w: not encrypted to this vault's key, or tampered with", ErrDamaged)}
	}
	return &blobReader{r: r, f: f, rel: rel}, nil
}

type blobReader struct {
	r   io.Reader
	f   *os.File
	rel string
}

func (b *blobReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &FileError{Name: b.rel, Err: fmt.Errorf("%w: truncated or tampered with", ErrDamaged)}
	}
	return n, err
}

func (b *blobReader) Close() error { return b.f.Close() }

// RemoveBlob deletes the blob name (not an error if it does not exist) and
// fsyncs the directory.
func (v *Vault) RemoveBlob(name string) error {
	p, err := v.blobPath(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("vault: %w", err)
	}
	return syncDir(filepath.Dir(p))
}

// PruneBlobs deletes every blob whose name is not in keep (those a crash
// left behind before the caller recorded them), and temporary files.
func (v *Vault) PruneBlobs(keep []string) error {
	live := map[string]bool{}
	for _, n := range keep {
		p, err := v.blobPath(n)
		if err != nil {
			return err
		}
		live[filepath.Base(p)] = true
	}
	dir := filepath.Join(v.dir, blobDir)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	removed := false
	for _, e := range ents {
		if !live[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("vault: %w", err)
			}
			removed = true
		}
	}
	if removed {
		return syncDir(dir)
	}
	return nil
}

// blobPath derives the file of a blob (creating b/ the first time).
func (v *Vault) blobPath(blob string) (string, error) {
	if len(blob) == 0 || len(blob) > 1024 {
		return "", errors.New("vault: a blob name is 1 to 1024 bytes")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return "", ErrClosed
	}
	dir := filepath.Join(v.dir, blobDir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("vault: %w", err)
	}
	var n string
	err := v.key.secret.Open(func(b []byte) error {
		n = name(b[:32], []byte("blob"), []byte(blob))
		return nil
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, n), nil
}

// cleanBlobs removes the temporary files a crash left in b/ (Open).
func (v *Vault) cleanBlobs() error {
	dir := filepath.Join(v.dir, blobDir)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := removeTemps(dir); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	return nil
}

// checkBlobTree checks b/ and its files like the other directories (Open).
func checkBlobTree(dir string) error {
	p := filepath.Join(dir, blobDir)
	if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := checkPerm(p, true); err != nil {
		return err
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	for _, e := range ents {
		if err := checkPerm(filepath.Join(p, e.Name()), false); err != nil {
			return err
		}
	}
	return nil
}
