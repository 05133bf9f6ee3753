package vault

import (
	"crypto/rand"
	"errors"

	"golang.org/x/crypto/nacl/secretbox"

	"github.com/sottochat/sotto/vault/format"
)

// The vault keeps what it caches of its files in memory (record values, the
// newest segment of each log) sealed, as memguard seals an enclave: with
// XSalsa20-Poly1305 (nacl/secretbox, whose keys and key streams live only
// in stack arrays) under a random key of its own held in a [Secret]. A
// memory dump of a running, idle process so finds no identity key, ratchet
// state or message in the clear in the vault's cache; a value is opened
// into an ordinary slice only for the operation that needs it, wiped once
// it is done (and allocated inside erase.Do, which zeroes it when freed).
// Log metadata (segment numbers) is not secret and stays in the clear.

const (
	memNonceSize = 24
	memOverhead  = memNonceSize + secretbox.Overhead
)

var errMemDamaged = errors.New("vault: cached data damaged in memory")

// withMemKey opens the cache key for fn (or hands it the key a commit
// holds open: holdMemKey).
func (v *Vault) withMemKey(fn func(k *[32]byte) error) error {
	if k := v.memHeld; k != nil {
		return fn(k)
	}
	if v.memLive != nil {
		if b := v.memLive.Bytes(); len(b) == 32 {
			return fn((*[32]byte)(b))
		}
	}
	return v.mem.Open(func(b []byte) error { return fn((*[32]byte)(b)) })
}

// holdMemKey runs fn with the cache key open once for all of it: a commit's
// changes seal and open cached values several times each (a Put twice, an
// Append twice), and each open of an enclave costs a locked buffer's
// mmap, mlock, mprotect and munmap (about 0.3 ms of a 1 ms commit). The key
// stays in its locked, read-only buffer while fn runs; v.mu is held. If
// the key cannot be opened (no locked memory), fn runs without it and
// each use opens it (and fails) as before.
func (v *Vault) holdMemKey(fn func()) {
	if v.memHeld != nil || v.memLive != nil || v.mem == nil {
		fn()
		return
	}
	ran := false
	v.mem.Open(func(b []byte) error {
		v.memHeld = (*[32]byte)(b)
		defer func() { v.memHeld = nil }()
		ran = true
		fn()
		return nil
	})
	if !ran {
		fn()
	}
}

// sealMem seals plain under k into a new slice.
func sealMem(k *[32]byte, plain []byte) []byte {
	var nonce [memNonceSize]byte
	rand.Read(nonce[:])
	out := make([]byte, memNonceSize, memOverhead+len(plain))
	copy(out, nonce[:])
	return secretbox.Seal(out, plain, &nonce, k)
}

// openMem opens a value sealMem sealed into a new slice the caller wipes.
func openMem(k *[32]byte, sealed []byte) ([]byte, error) {
	if len(sealed) < memOverhead {
		return nil, errMemDamaged
	}
	var nonce [memNonceSize]byte
	copy(nonce[:], sealed)
	out := make([]byte, 0, len(sealed)-memOverhead)
	out, ok := secretbox.Open(out, sealed[memNonceSize:], &nonce, k)
	if !ok {
		return nil, errMemDamaged
	}
	return out, nil
}

// wipeSegment zeroes the entry values of a segment the vault decoded (they
// alias its plaintext).
func wipeSegment(seg *format.Segment) {
	if seg == nil {
		return
	}
	for i := range seg.Entries {
		clear(seg.Entries[i].Value)
	}
}

// tailCache is the newest live segment of a log, sealed in memory, with
// what Append needs to know without opening it.
type tailCache struct {
	seq     uint32
	version uint64
	entries int    // number of entries
	size    int    // segSize
	sealed  []byte // the segment's encoding, sealed with sealMem
	// pending, if not nil, is the tail as an append of the current commit
	// wrote it, not sealed yet: sealed is older. A burst of appends in one
	// commit seals the tail once, when the commit is written or when it is
	// opened before (openTail), not once per append (flushTail).
	pending *format.Segment
}

// keepTailLater makes seg, just written by an append of the current
// commit, st's tail, to be sealed by flushTail before the commit is
// written. Without its staged encoding it is sealed at once (keepTail).
func (v *Vault) keepTailLater(st *logState, seg *format.Segment) {
	if _, ok := v.stagedSegment(st, seg); !ok {
		v.keepTail(st, seg)
		return
	}
	if st.tail == nil || st.tail.pending == nil {
		v.stage.beforeWrite = append(v.stage.beforeWrite, func() { v.flushTail(st) })
	}
	st.tail = &tailCache{seq: seg.Seq, version: seg.Version, entries: len(seg.Entries), size: segSize(seg), pending: seg}
	st.tailBad = false
}

// flushTail seals st's pending tail, if it has one. If it cannot (no
// locked memory for the cache key, say), the tail is forgotten and read
// from disk when next needed, as keepTail does.
func (v *Vault) flushTail(st *logState) error {
	t := st.tail
	if t == nil || t.pending == nil {
		return nil
	}
	if err := v.cacheTail(st, t.pending); err != nil {
		st.tail, st.tailBad = nil, false
		return err
	}
	return nil
}

// cacheTail makes seg (already written) the cached tail of st.
func (v *Vault) cacheTail(st *logState, seg *format.Segment) error {
	plain, ok := v.stagedSegment(st, seg)
	if !ok {
		var err error
		if plain, err = seg.Marshal(); err != nil {
			return err
		}
		defer clear(plain)
	}
	var sealed []byte
	if err := v.withMemKey(func(k *[32]byte) error {
		sealed = sealMem(k, plain)
		return nil
	}); err != nil {
		return err
	}
	st.tail = &tailCache{seq: seg.Seq, version: seg.Version, entries: len(seg.Entries), size: segSize(seg), sealed: sealed}
	st.tailBad = false
	return nil
}

// stagedSegment returns the encoding of seg the current commit staged for
// its file (writeSegment, just before keepTail), so that caching the tail
// after an append does not encode the segment a second time. It belongs to
// the stage: read, not kept or wiped.
func (v *Vault) stagedSegment(st *logState, seg *format.Segment) ([]byte, bool) {
	if v.stage == nil {
		return nil, false
	}
	name, ok := st.names[seg.Seq]
	if !ok {
		return nil, false
	}
	f, ok := v.stage.files[segmentDir+"/"+name]
	if !ok || f.del || f.version != seg.Version || f.plain == nil {
		return nil, false
	}
	return f.plain, true
}

// openTail decodes the cached tail; the caller calls wipeSegment when done.
func (v *Vault) openTail(st *logState) (*format.Segment, error) {
	if err := v.flushTail(st); err != nil {
		return nil, err
	}
	if st.tail == nil {
		return nil, errMemDamaged
	}
	var plain []byte
	if err := v.withMemKey(func(k *[32]byte) error {
		var err error
		plain, err = openMem(k, st.tail.sealed)
		return err
	}); err != nil {
		return nil, err
	}
	seg, err := format.ParseSegment(plain)
	if err != nil {
		clear(plain)
		return nil, errMemDamaged
	}
	return seg, nil
}

// liveMemKey copies the cache key into a buffer of locked memory kept for
// the vault's life (a [Locked]: mlocked, between guard pages, out of core
// dumps, wiped at Close), where the locked-memory limit leaves
// [LockedSpare] free. The cache key only seals what the vault caches in
// ordinary memory (record values, log tails) against a dump or swap of
// that memory; kept like memguard's own key, it saves an enclave open (a
// buffer's mmap, mlock, mprotect, munmap: 0.2-0.7 ms) on every Get and
// every change. Without room (an ordinary user's 64 KiB), every use opens
// the enclave as before.
func (v *Vault) liveMemKey() {
	l, err := NewLocked(32)
	if err != nil {
		return
	}
	if err := v.mem.Open(func(b []byte) error { copy(l.Bytes(), b); return nil }); err != nil {
		l.Destroy()
		return
	}
	v.memLive = l
}
