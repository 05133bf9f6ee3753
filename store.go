package sotto

import (
	"errors"
	"sort"
	"sync"
)

// store is what the engine needs from storage: small records and ordered
// logs. The vault implements it for everything that survives a restart;
// memStore implements it for ephemeral identities and conversations that keep
// no history, which never touch the disk.
//
// Every write is durable when it returns (for the vault: fsynced).
type store interface {
	Put(kind, key string, value []byte) error
	// Get returns errNotFound if there is no such record.
	Get(kind, key string) ([]byte, error)
	Delete(kind, key string) error
	Keys(kind string) ([]string, error)

	// Append adds an entry at the end of log; entries are read back in order.
	Append(log, id string, value []byte) error
	// ReadLog calls fn for every entry of log in order.
	ReadLog(log string, fn func(id string, value []byte) error) error
	// Remove deletes entries by ID so they cannot be read back.
	Remove(log string, ids ...string) error
	DropLog(log string) error
}

var errNotFound = errors.New("sotto: record not found")

// memStore keeps records in memory only.
type memStore struct {
	mu   sync.Mutex
	recs map[string]map[string][]byte
	logs map[string]*memLog
}

type memLog struct {
	ids  []string
	vals map[string][]byte
}

func newMemStore() *memStore {
	return &memStore{recs: map[string]map[string][]byte{}, logs: map[string]*memLog{}}
}

func (m *memStore) Put(kind, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.recs[kind]
	if k == nil {
		k = map[string][]byte{}
		m.recs[kind] = k
	}
	if old, ok := k[key]; ok {
		clear(old)
	}
	k[key] = append([]byte(nil), value...)
	return nil
}

func (m *memStore) Get(kind, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.recs[kind][key]
	if !ok {
		return nil, errNotFound
	}
	return append([]byte(nil), v...), nil
}

func (m *memStore) Delete(kind, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.recs[kind][key]; ok {
		clear(v)
		delete(m.recs[kind], key)
	}
	return nil
}

func (m *memStore) Keys(kind string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ks []string
	for k := range m.recs[kind] {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks, nil
}

func (m *memStore) Append(log, id string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.logs[log]
	if l == nil {
		l = &memLog{vals: map[string][]byte{}}
		m.logs[log] = l
	}
	if _, dup := l.vals[id]; dup {
		return errors.New("sotto: duplicate log entry")
	}
	l.ids = append(l.ids, id)
	l.vals[id] = append([]byte(nil), value...)
	return nil
}

func (m *memStore) ReadLog(log string, fn func(id string, value []byte) error) error {
	m.mu.Lock()
	l := m.logs[log]
	var ids []string
	var vals [][]byte
	if l != nil {
		for _, id := range l.ids {
			ids = append(ids, id)
			vals = append(vals, append([]byte(nil), l.vals[id]...))
		}
	}
	m.mu.Unlock()
	for i := range ids {
		if err := fn(ids[i], vals[i]); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) Remove(log string, ids ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.logs[log]
	if l == nil {
		return nil
	}
	drop := map[string]bool{}
	for _, id := range ids {
		if v, ok := l.vals[id]; ok {
			clear(v)
			delete(l.vals, id)
			drop[id] = true
		}
	}
	kept := l.ids[:0]
	for _, id := range l.ids {
		if !drop[id] {
			kept = append(kept, id)
		}
	}
	l.ids = kept
	return nil
}

func (m *memStore) DropLog(log string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.logs[log]; l != nil {
		for _, v := range l.vals {
			clear(v)
		}
		delete(m.logs, log)
	}
	return nil
}

// wipe clears everything (Close, burn of an ephemeral identity).
func (m *memStore) wipe() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.recs {
		for _, v := range k {
			clear(v)
		}
	}
	for _, l := range m.logs {
		for _, v := range l.vals {
			clear(v)
		}
	}
	m.recs = map[string]map[string][]byte{}
	m.logs = map[string]*memLog{}
}

// dump returns everything stored, for tests that look for leftovers.
func (m *memStore) dump() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sb []byte
	for _, k := range m.recs {
		for _, v := range k {
			sb = append(sb, v...)
		}
	}
	for _, l := range m.logs {
		for _, v := range l.vals {
			sb = append(sb, v...)
		}
	}
	return string(sb)
}
