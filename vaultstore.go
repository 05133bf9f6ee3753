package sotto

import (
	"errors"
	"sync"

	"github.com/sottochat/sotto/vault"
)

// vaultStore is the engine's store on the vault.
//
// A write the message path may let wait (deferAppend, deferRemove) joins
// pend, a vault.Batch, and goes to disk in the same commit as the next
// write of any kind (or a read, or flush): one commit instead of two, all
// or nothing. Nothing that depends on a deferred write being on disk may
// happen before the next commit: a received message is deferred, and its
// acknowledgement is sent only after the ratchet state that seals it is
// stored (sealLocked's Put), which commits the message with it. A deferred
// write lost in a crash is one nobody was told about (the contact sends
// the message again; an outbox entry whose ack was deferred is sent again
// and dropped by ID).
type vaultStore struct {
	v    *vault.Vault
	mu   sync.Mutex
	pend *vault.Batch // deferred writes; nil if none
}

// batch takes the deferred writes, to commit them with one more.
func (s *vaultStore) batch() *vault.Batch {
	s.mu.Lock()
	b := s.pend
	s.pend = nil
	s.mu.Unlock()
	if b == nil {
		b = s.v.Batch()
	}
	return b
}

func (s *vaultStore) deferred(fn func(b *vault.Batch)) {
	s.mu.Lock()
	if s.pend == nil {
		s.pend = s.v.Batch()
	}
	fn(s.pend)
	s.mu.Unlock()
}

// flush commits the deferred writes.
func (s *vaultStore) flush() error {
	s.mu.Lock()
	b := s.pend
	s.pend = nil
	s.mu.Unlock()
	if b == nil {
		return nil
	}
	return b.Commit()
}

func (s *vaultStore) deferAppend(log, id string, value []byte) {
	s.deferred(func(b *vault.Batch) { b.Append(log, id, value) })
}

func (s *vaultStore) deferPut(kind, key string, value []byte) {
	s.deferred(func(b *vault.Batch) { b.Put(kind, key, value) })
}

func (s *vaultStore) deferRemove(log string, ids ...string) {
	s.deferred(func(b *vault.Batch) { b.Remove(log, ids...) })
}

func (s *vaultStore) Put(kind, key string, value []byte) error {
	b := s.batch()
	b.Put(kind, key, value)
	return b.Commit()
}

func (s *vaultStore) Get(kind, key string) ([]byte, error) {
	if err := s.flush(); err != nil {
		return nil, err
	}
	b, err := s.v.Get(kind, key)
	if errors.Is(err, vault.ErrNotFound) {
		return nil, errNotFound
	}
	return b, err
}

func (s *vaultStore) Delete(kind, key string) error {
	b := s.batch()
	b.Delete(kind, key)
	return b.Commit()
}

func (s *vaultStore) Keys(kind string) ([]string, error) {
	if err := s.flush(); err != nil {
		return nil, err
	}
	return s.v.Keys(kind)
}

func (s *vaultStore) Append(log, id string, value []byte) error {
	b := s.batch()
	b.Append(log, id, value)
	return b.Commit()
}

func (s *vaultStore) ReadLog(log string, fn func(id string, value []byte) error) error {
	if err := s.flush(); err != nil {
		return err
	}
	es, err := s.v.Entries(log)
	if err != nil {
		return err
	}
	for _, en := range es {
		if err := fn(en.ID, en.Value); err != nil {
			return err
		}
	}
	return nil
}

func (s *vaultStore) Remove(log string, ids ...string) error {
	b := s.batch()
	b.Remove(log, ids...)
	return b.Commit()
}

func (s *vaultStore) DropLog(log string) error {
	if err := s.flush(); err != nil {
		return err
	}
	return s.v.DropLog(log)
}

// appendLater appends to st's log, deferred when st is the vault (see
// vaultStore).
func appendLater(st store, log, id string, value []byte) error {
	if vs, ok := st.(*vaultStore); ok {
		vs.deferAppend(log, id, value)
		return nil
	}
	return st.Append(log, id, value)
}

// putLater puts a record in st, deferred when st is the vault.
func putLater(st store, kind, key string, value []byte) error {
	if vs, ok := st.(*vaultStore); ok {
		vs.deferPut(kind, key, value)
		return nil
	}
	return st.Put(kind, key, value)
}

// removeLater removes from st's log, deferred when st is the vault.
func removeLater(st store, log string, ids ...string) error {
	if vs, ok := st.(*vaultStore); ok {
		vs.deferRemove(log, ids...)
		return nil
	}
	return st.Remove(log, ids...)
}

// flushStore commits st's deferred writes, if it has any.
func flushStore(st store) error {
	if vs, ok := st.(*vaultStore); ok {
		return vs.flush()
	}
	return nil
}
