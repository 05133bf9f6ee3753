package vault

import (
	"fmt"
	"slices"
	"strings"

	"filippo.io/age"

	"github.com/sottochat/sotto/internal/erase"
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
		clear(plain)
		return nil, &FileError{Name: rel, Err: fmt.Errorf("%w: %v", ErrDamaged, err)}
	}
	if int(sh.Index) != i {
		clear(plain)
		return nil, &FileError{Name: rel, Err: fmt.Errorf("%w: a shard moved from another place", ErrDamaged)}
	}
	return sh, nil
}

// wipeShard zeroes the record values of a shard the vault decoded (they
// alias its plaintext).
func wipeShard(sh *format.Shard) {
	for i := range sh.Records {
		clear(sh.Records[i].Value)
	}
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
	var opened [][]byte
	defer func() {
		for _, b := range opened {
			clear(b)
		}
	}()
	err := v.withMemKey(func(k *[32]byte) error {
		for rk, s := range v.shardOf {
			if s != i || (change != nil && rk.kind == change.Kind && rk.key == change.Key) {
				continue
			}
			val := v.records[rk.kind][rk.key]
			if rk.kind != metaKind {
				p, err := openMem(k, val)
				if err != nil {
					return err
				}
				opened = append(opened, p)
				val = p
			}
			sh.Records = append(sh.Records, format.Record{Kind: rk.kind, Key: rk.key, Value: val})
		}
		return nil
	})
	if err != nil {
		return err
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
	return v.writeVersioned(v.shardPath(i), func(version uint64) ([]byte, error) {
		sh.Version = version
		return sh.Marshal()
	})
}

// setRecord keeps a record's value in memory: log metadata as a copy,
// anything else sealed under k. value stays the caller's.
func (v *Vault) setRecord(k *[32]byte, kind, key string, value []byte) {
	m := v.records[kind]
	if m == nil {
		m = map[string][]byte{}
		v.records[kind] = m
	}
	v.setRecordIn(m, k, kind, key, value)
}

func (v *Vault) setRecordIn(m map[string][]byte, k *[32]byte, kind, key string, value []byte) {
	if kind == metaKind {
		m[key] = slices.Clone(value)
		return
	}
	m[key] = sealMem(k, value)
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
	defer clear(val)
	// Sealed for memory first: once the shard is written, keeping the value
	// must not fail, or the shard's next write would lose it.
	kept := map[string][]byte{}
	if err := v.withMemKey(func(k *[32]byte) error {
		v.setRecordIn(kept, k, kind, key, val)
		return nil
	}); err != nil {
		return err
	}
	if err := v.writeShardWith(s, &format.Record{Kind: kind, Key: key, Value: val}); err != nil {
		return err
	}
	if v.records[kind] == nil {
		v.records[kind] = map[string][]byte{}
	}
	v.records[kind][key] = kept[key]
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
func (v *Vault) Put(kind, key string, value []byte) (err error) {
	if err := checkKind(kind, key, value); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	erase.Do(func() { err = v.commitOp(func() error { return v.put(kind, key, value) }) })
	return err
}

// Get returns a copy of the value under (kind, key), or ErrNotFound. The
// copy is the caller's to wipe; the vault keeps the value sealed.
func (v *Vault) Get(kind, key string) (val []byte, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, ErrClosed
	}
	sealed, ok := v.records[kind][key]
	if !ok || strings.HasPrefix(kind, "\x00") {
		return nil, ErrNotFound
	}
	erase.Do(func() {
		err = v.withMemKey(func(k *[32]byte) error {
			var err error
			val, err = openMem(k, sealed)
			return err
		})
	})
	return val, err
}

// Delete removes (kind, key); the shard that held it is rewritten before
// Delete returns, so the old value cannot be read back. Deleting a missing
// record is not an error.
func (v *Vault) Delete(kind, key string) (err error) {
	if err := checkKind(kind, key, nil); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	erase.Do(func() { err = v.commitOp(func() error { return v.del(kind, key) }) })
	return err
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
