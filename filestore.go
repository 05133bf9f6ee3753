package sotto

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/sottochat/sotto/files"
	"github.com/sottochat/sotto/vault"
)

// Files' bytes live where the conversation lives: in the vault's blobs
// (standard age files), or in memory for ephemeral identities and
// conversations that keep no history.

const kindBlob = "blob" // memStore records holding in-memory segments

// blobStore returns the store of a contact's files.
func (e *Engine) blobStore(c *contact) files.Store {
	if s, ok := e.msgStore(c).(files.Store); ok {
		return s
	}
	return e.mem
}

// memFileLimit bounds a file kept in memory (ephemeral identities and
// conversations without history): it competes with everything else for RAM.
const memFileLimit = 64 << 20

func (c *contact) inMemory() bool { return c.id.ephemeral || c.rec.NoHist }

// ---- the vault ----

var _ files.Store = (*vaultStore)(nil)

func (s *vaultStore) CreateBlob(name string) (files.BlobWriter, error) { return s.v.CreateBlob(name) }
func (s *vaultStore) OpenBlob(name string) (io.ReadCloser, error) {
	r, err := s.v.OpenBlob(name)
	if errors.Is(err, vault.ErrNotFound) {
		return nil, fmt.Errorf("%w: a stored piece of the file is missing", errNotFound)
	}
	return r, err
}
func (s *vaultStore) RemoveBlob(name string) error { return s.v.RemoveBlob(name) }

// ---- memory ----

var _ files.Store = (*memStore)(nil)

type memBlob struct {
	m    *memStore
	name string
	b    bytes.Buffer
	done bool
}

func (w *memBlob) Write(p []byte) (int, error) { return w.b.Write(p) }
func (w *memBlob) Commit() error {
	if w.done {
		return errors.New("sotto: blob already committed")
	}
	w.done = true
	err := w.m.Put(kindBlob, w.name, w.b.Bytes())
	clear(w.b.Bytes())
	return err
}
func (w *memBlob) Abort() {
	w.done = true
	clear(w.b.Bytes())
}

func (m *memStore) CreateBlob(name string) (files.BlobWriter, error) {
	return &memBlob{m: m, name: name}, nil
}
func (m *memStore) OpenBlob(name string) (io.ReadCloser, error) {
	b, err := m.Get(kindBlob, name)
	if err != nil {
		return nil, fmt.Errorf("%w: a stored piece of the file is missing", errNotFound)
	}
	return &wipeReader{b: b, r: bytes.NewReader(b)}, nil
}
func (m *memStore) RemoveBlob(name string) error { return m.Delete(kindBlob, name) }

// wipeReader wipes its copy of a segment when closed.
type wipeReader struct {
	b []byte
	r *bytes.Reader
}

func (w *wipeReader) Read(p []byte) (int, error) { return w.r.Read(p) }
func (w *wipeReader) Close() error               { clear(w.b); return nil }
