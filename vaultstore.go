package sotto

import (
	"errors"
	"sync"
	"time"

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
	pend *vault.Batch  // deferred writes; nil if none
	tick *commitTicket // closed when pend is committed; nil with pend
}

// A commitTicket is closed once the batch of deferred writes it was issued
// with is committed (by whichever write took the batch), err its result.
type commitTicket struct {
	done chan struct{}
	err  error
}

// submit takes the deferred writes, lets fn add to them, and submits them
// under s.mu, so that the vault commits writes in the order they were made
// here (vault.Batch.Submit). wait commits them (or waits for the commit
// that took them) and closes their ticket.
func (s *vaultStore) submit(fn func(b *vault.Batch)) (wait func() error) {
	s.mu.Lock()
	b, t := s.pend, s.tick
	s.pend, s.tick = nil, nil
	if b == nil {
		b = s.v.Batch()
	}
	if fn != nil {
		fn(b)
	}
	b.Submit()
	s.mu.Unlock()
	return func() error {
		err := b.Wait()
		if t != nil {
			t.err = err
			close(t.done)
		}
		return err
	}
}

func (s *vaultStore) commit(fn func(b *vault.Batch)) error { return s.submit(fn)() }

func (s *vaultStore) deferred(fn func(b *vault.Batch)) {
	s.mu.Lock()
	if s.pend == nil {
		s.pend = s.v.Batch()
		s.tick = &commitTicket{done: make(chan struct{})}
	}
	fn(s.pend)
	s.mu.Unlock()
}

// ticket is the ticket of the deferred writes made so far (nil if none).
func (s *vaultStore) ticket() *commitTicket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tick
}

// flush commits the deferred writes.
func (s *vaultStore) flush() error {
	s.mu.Lock()
	empty := s.pend == nil
	s.mu.Unlock()
	if empty {
		return nil
	}
	return s.commit(nil)
}

// await returns once the deferred writes of ticket t are committed. A
// session's writer takes them with its next state save (the message path's
// one commit per batch), so while writerUp is open await first waits for
// that, up to joinWait; then (no session, or a writer busy with a long
// write) it commits them itself. t nil: nothing to wait for.
func (s *vaultStore) await(t *commitTicket, writerUp <-chan struct{}) error {
	if t == nil {
		return nil
	}
	if writerUp != nil {
		tm := time.NewTimer(joinWait)
		select {
		case <-t.done:
			tm.Stop()
			return t.err
		case <-writerUp:
		case <-tm.C:
		}
		tm.Stop()
	}
	// Commit them unless a commit took them already (then wait for that
	// one): never a newer batch of someone else's writes.
	s.mu.Lock()
	mine := s.tick == t
	s.mu.Unlock()
	if mine {
		s.commitIf(t)
	}
	<-t.done
	return t.err
}

// commitIf commits the deferred writes if they are still those of ticket
// t.
func (s *vaultStore) commitIf(t *commitTicket) {
	s.mu.Lock()
	if s.tick != t {
		s.mu.Unlock()
		return
	}
	b := s.pend
	s.pend, s.tick = nil, nil
	b.Submit()
	s.mu.Unlock()
	t.err = b.Wait()
	close(t.done)
}

// joinWait bounds how long Send waits for its session's writer to commit
// its message with the state that seals it, before committing it itself:
// an idle writer takes it within one commit (a few ms); a writer whose
// frames wait for a slow connection (a file moving) may not for seconds.
const joinWait = 25 * time.Millisecond

func (s *vaultStore) deferAppend(log, id string, value []byte) {
	s.deferred(func(b *vault.Batch) { b.Append(log, id, value) })
}

func (s *vaultStore) deferRemove(log string, ids ...string) {
	s.deferred(func(b *vault.Batch) { b.Remove(log, ids...) })
}

func (s *vaultStore) Put(kind, key string, value []byte) error {
	return s.commit(func(b *vault.Batch) { b.Put(kind, key, value) })
}

// putAsync submits a Put (with the deferred writes) and returns the wait
// for its commit, so that the caller may release its own lock first.
func (s *vaultStore) putAsync(kind, key string, value []byte) (wait func() error) {
	return s.submit(func(b *vault.Batch) { b.Put(kind, key, value) })
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
	return s.commit(func(b *vault.Batch) { b.Delete(kind, key) })
}

func (s *vaultStore) Keys(kind string) ([]string, error) {
	if err := s.flush(); err != nil {
		return nil, err
	}
	return s.v.Keys(kind)
}

func (s *vaultStore) Append(log, id string, value []byte) error {
	return s.commit(func(b *vault.Batch) { b.Append(log, id, value) })
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
	return s.commit(func(b *vault.Batch) { b.Remove(log, ids...) })
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

// pendingTicket is the ticket of st's deferred writes (nil if st is not
// the vault or has none).
func pendingTicket(st store) *commitTicket {
	if vs, ok := st.(*vaultStore); ok {
		return vs.ticket()
	}
	return nil
}

// awaitStore waits for the deferred writes of t in st (vaultStore.await).
func awaitStore(st store, t *commitTicket, writerUp <-chan struct{}) error {
	if vs, ok := st.(*vaultStore); ok {
		return vs.await(t, writerUp)
	}
	return nil
}
