package vault

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"filippo.io/age"

	"github.com/sottochat/sotto/vault/format"
)

// metaKind is the reserved record kind holding conversation-log metadata.
// Caller kinds may not start with a NUL byte.
const metaKind = "\x00log"

func checkKind(kind, key string, value []byte) error {
	if strings.HasPrefix(kind, "\x00") {
		return fmt.Errorf("vault: record kinds starting with NUL are reserved")
	}
	if err := format.CheckRecord(kind, key, value); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	return nil
}

func (v *Vault) readShard(id age.Identity, i int) (*format.Shard, error) {
	rel := v.shardPath(i)
	plain, err := v.unseal(id, rel)
	if err != nil {
		return nil, err
	}
	sh, err := format.ParseShard(plain)
	if err != nil {
		return nil, &FileError{Name: rel, Err: fmt.Errorf("%w: %v", ErrDamaged, err)}
	}
	if int(sh.Index) != i {
		return nil, &FileError{Name: rel, Err: fmt.Errorf("%w: a shard moved from another place", ErrDamaged)}
	}
	return sh, nil
}

// writeShard writes shard i from the in-memory records.
func (v *Vault) writeShard(i int) error {
	return v.writeShardWith(i, nil)
}

// writeShardWith writes shard i as it would be after change (a record to
// set, or to delete when value is nil) without touching memory.
func (v *Vault) writeShardWith(i int, change *format.Record) error {
	if v.shardBad[i] != nil {
		return v.shardBad[i]
	}
	sh := &format.Shard{Index: uint16(i)}
	for k, s := range v.shardOf {
		if s != i || (change != nil && k.kind == change.Kind && k.key == change.Key) {
			continue
		}
		sh.Records = append(sh.Records, format.Record{Kind: k.kind, Key: k.key, Value: v.records[k.kind][k.key]})
	}
	if change != nil && change.Value != nil {
		sh.Records = append(sh.Records, *change)
	}
	slices.SortFunc(sh.Records, func(a, b format.Record) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	plain, err := sh.Marshal()
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	defer clear(plain)
	ct, err := v.seal(plain)
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	if err := writeAtomic(filepath.Join(v.dir, recordDir), v.shardNames[i], ct); err != nil {
		return fmt.Errorf("vault: writing %s: %w", v.shardPath(i), err)
	}
	return nil
}

func (v *Vault) setRecord(kind, key string, value []byte) {
	m := v.records[kind]
	if m == nil {
		m = map[string][]byte{}
		v.records[kind] = m
	}
	m[key] = value
}

// shardFor returns the shard a record lives in (or would).
func (v *Vault) shardFor(kind, key string) (int, error) {
	if s, ok := v.shardOf[recKey{kind, key}]; ok {
		return s, nil
	}
	var s int
	err := v.key.secret.Open(func(b []byte) error {
		n := name(b[:32], []byte("record"), []byte(kind), []byte(key))
		s = int(hexNibble(n[0])) % NumShards
		return nil
	})
	return s, err
}

// put stores a record, kind unchecked.
func (v *Vault) put(kind, key string, value []byte) error {
	if v.closed {
		return ErrClosed
	}
	s, err := v.shardFor(kind, key)
	if err != nil {
		return err
	}
	val := slices.Clone(value)
	if val == nil {
		val = []byte{}
	}
	if err := v.writeShardWith(s, &format.Record{Kind: kind, Key: key, Value: val}); err != nil {
		return err
	}
	v.setRecord(kind, key, val)
	v.shardOf[recKey{kind, key}] = s
	return nil
}

func (v *Vault) del(kind, key string) error {
	if v.closed {
		return ErrClosed
	}
	s, ok := v.shardOf[recKey{kind, key}]
	if !ok {
		return nil
	}
	if err := v.writeShardWith(s, &format.Record{Kind: kind, Key: key}); err != nil {
		return err
	}
	delete(v.records[kind], key)
	if len(v.records[kind]) == 0 {
		delete(v.records, kind)
	}
	delete(v.shardOf, recKey{kind, key})
	return nil
}

// Put stores value under (kind, key), replacing any previous value. It is
// atomic and durable when it returns. Kind is 1 to 64 bytes, key at most
// 1024, value at most 1 MiB. A Put rewrites the record's shard (about a
// sixteenth of all records), so records are for small things (contacts,
// identities, ratchet states, settings); what grows belongs in a log.
func (v *Vault) Put(kind, key string, value []byte) error {
	if err := checkKind(kind, key, value); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.put(kind, key, value)
}

// Get returns a copy of the value under (kind, key), or ErrNotFound.
func (v *Vault) Get(kind, key string) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, ErrClosed
	}
	val, ok := v.records[kind][key]
	if !ok || strings.HasPrefix(kind, "\x00") {
		return nil, ErrNotFound
	}
	return slices.Clone(val), nil
}

// Delete removes (kind, key); the shard that held it is rewritten before
// Delete returns, so the old value cannot be read back. Deleting a missing
// record is not an error.
func (v *Vault) Delete(kind, key string) error {
	if err := checkKind(kind, key, nil); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.del(kind, key)
}

// Keys returns the keys of kind, sorted.
func (v *Vault) Keys(kind string) ([]string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, ErrClosed
	}
	if strings.HasPrefix(kind, "\x00") {
		return nil, nil
	}
	keys := make([]string, 0, len(v.records[kind]))
	for k := range v.records[kind] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, nil
}

func hexNibble(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}
