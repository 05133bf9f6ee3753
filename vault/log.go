package vault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"filippo.io/age"

	"github.com/sottochat/sotto/internal/erase"
	"github.com/sottochat/sotto/vault/format"
)

// maxSegmentEntries closes a segment after this many entries even if small.
const maxSegmentEntries = 1024

// Entry is one entry of a conversation log.
type Entry struct {
	ID    string
	Value []byte
}

// logState is what is known in memory about one conversation log.
type logState struct {
	name  string
	meta  format.LogMeta
	names map[uint32]string // seq -> file name
	tail  *tailCache        // the last live segment, sealed in memory; nil until needed
	// tailBad: the last segment is damaged; the next Append starts a new one.
	tailBad bool
	index   *segIndex // entry ID -> segments; nil until built
	// hot is the tail as the last append of the current commit (hotStage)
	// wrote it, decoded, so that the next append of the same commit need
	// not open and decode the sealed tail again (a burst of n appends to
	// a 64 KiB tail would decode it n times). Valid only while the stage
	// is hotStage and the tail's write counter is still hot's (any other
	// write of the file, a removal or a merge, bumps or drops it: hotTail);
	// dropped when the commit ends (stage.done).
	hot      *format.Segment
	hotStage *stage
}

func (v *Vault) segPath(st *logState, seq uint32) string {
	return segmentDir + "/" + st.names[seq]
}

// nameSegs fills in the file names of the given sequence numbers.
func (v *Vault) nameSegs(st *logState, seqs ...uint32) error {
	var missing []uint32
	for _, q := range seqs {
		if _, ok := st.names[q]; !ok {
			missing = append(missing, q)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return v.key.secret.Open(func(b []byte) error {
		for _, q := range missing {
			st.names[q] = name(b[:32], []byte("segment"), []byte(st.name), u32(q))
		}
		return nil
	})
}

// getLog returns the state of log, or nil if it does not exist and create
// is false.
func (v *Vault) getLog(log string, create bool) (*logState, error) {
	if st, ok := v.logs[log]; ok {
		return st, nil
	}
	st := &logState{name: log, names: map[uint32]string{}}
	raw, ok := v.records[metaKind][log]
	if !ok {
		if !create {
			return nil, nil
		}
	} else {
		m, err := format.ParseLogMeta(raw)
		if err != nil {
			return nil, &FileError{Name: v.shardPath(v.shardOf[recKey{metaKind, log}]), Err: fmt.Errorf("%w: %v", ErrDamaged, err)}
		}
		st.meta = *m
	}
	if err := v.nameSegs(st, st.meta.Live...); err != nil {
		return nil, err
	}
	v.logs[log] = st
	return st, nil
}

// putMeta stores m as log's metadata.
func (v *Vault) putMeta(st *logState, m format.LogMeta) error {
	raw, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	if err := v.put(metaKind, st.name, raw); err != nil {
		return err
	}
	st.meta = m
	return nil
}

// readSegment decrypts segment seq of st and checks that it belongs there.
func (v *Vault) readSegment(id age.Identity, st *logState, seq uint32) (*format.Segment, error) {
	if err := v.nameSegs(st, seq); err != nil {
		return nil, err
	}
	rel := v.segPath(st, seq)
	plain, err := v.unseal(id, rel)
	if err != nil {
		return nil, err
	}
	seg, err := format.ParseSegment(plain)
	if err != nil {
		clear(plain)
		return nil, &FileError{Name: rel, Err: fmt.Errorf("%w: %v", ErrDamaged, err)}
	}
	if seg.Log != st.name || seg.Seq != seq {
		clear(plain)
		return nil, &FileError{Name: rel, Err: fmt.Errorf("%w: a segment moved from another place", ErrDamaged)}
	}
	if err := v.checkVersion(rel, seg.Version); err != nil {
		clear(plain)
		return nil, err
	}
	return seg, nil
}

// writeSegment writes seg with the next write counter of its file (and
// sets seg.Version to it).
func (v *Vault) writeSegment(st *logState, seg *format.Segment) error {
	if err := v.nameSegs(st, seg.Seq); err != nil {
		return err
	}
	seg.Legacy = false
	return v.writeVersioned(v.segPath(st, seg.Seq), func(version uint64) ([]byte, error) {
		seg.Version = version
		return seg.Marshal()
	})
}

// removeSegment stages the deletion of segment q's file (the caller has
// taken it out of the log's metadata) and forgets its write counter.
func (v *Vault) removeSegment(st *logState, q uint32) error {
	rel := v.segPath(st, q)
	v.stage.set(rel, &staged{del: true})
	v.forget(rel)
	delete(st.names, q)
	return nil
}

func segSize(seg *format.Segment) int {
	n := format.HeaderSize(seg.Log)
	for _, e := range seg.Entries {
		n += format.EntrySize(e.ID, e.Value)
	}
	return n
}

// loadTail makes sure st.tail holds the last live segment (or tailBad: a
// damaged last segment is left as it is and the next Append starts a new
// one). A last segment rolled back to an older copy is an error: appending
// after it would bury the rollback.
func (v *Vault) loadTail(st *logState) error {
	if st.tail != nil || st.tailBad || len(st.meta.Live) == 0 {
		return nil
	}
	last := st.meta.Live[len(st.meta.Live)-1]
	err := v.key.withIdentity(func(id age.Identity, _ []byte) error {
		seg, err := v.readSegment(id, st, last)
		if err != nil {
			return err
		}
		defer wipeSegment(seg)
		return v.cacheTail(st, seg)
	})
	if errors.Is(err, ErrRolledBack) {
		return err
	}
	if err != nil {
		st.tail, st.tailBad = nil, true
	}
	return nil
}

// Append adds an entry at the end of log (created on first use). It is
// durable when it returns, and costs the same however long the log is: only
// the last segment (at most 64 KiB, or one large entry) is rewritten. IDs
// are 1 to 255 bytes and should be unique in the log (the vault does not
// check; Remove removes every entry with a given ID); values at most 1 MiB.
func (v *Vault) Append(log, id string, value []byte) (err error) {
	if err := format.CheckEntry(log, id, value); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return ErrClosed
	}
	erase.Do(func() { err = v.commitOp(func() error { return v.append(log, id, value) }) })
	return err
}

func (v *Vault) append(log, id string, value []byte) error {
	st, err := v.getLog(log, true)
	if err != nil {
		return err
	}
	if st.meta.Dropping {
		return fmt.Errorf("vault: the log is being dropped")
	}
	if err := v.loadTail(st); err != nil {
		return err
	}
	e := format.Entry{ID: id, Value: value}
	if e.Value == nil {
		e.Value = []byte{}
	}
	if st.tail == nil || st.tail.entries >= maxSegmentEntries ||
		(st.tail.entries > 0 && st.tail.size+format.EntrySize(id, value) > format.SegmentTarget) {
		// Start a new segment: write it, then record it in the metadata.
		// A crash in between leaves a segment the next Open adopts.
		seq := st.meta.Next
		if seq == ^uint32(0) {
			return fmt.Errorf("vault: log has too many segments")
		}
		// Never write over a file this vault cannot account for (a log whose
		// metadata sits in a damaged shard, say).
		ms, err := v.shardFor(metaKind, log)
		if err != nil {
			return err
		}
		if v.shardBad[ms] != nil {
			return v.shardBad[ms]
		}
		if err := v.nameSegs(st, seq); err != nil {
			return err
		}
		if there, err := v.exists(v.segPath(st, seq)); there || err != nil {
			return &FileError{Name: v.segPath(st, seq), Err: fmt.Errorf("%w: a file is already where a new segment goes", ErrDamaged)}
		}
		seg := &format.Segment{Log: log, Seq: seq, Entries: []format.Entry{e}}
		if err := v.writeSegment(st, seg); err != nil {
			return err
		}
		m := format.LogMeta{Next: seq + 1, Live: append(slices.Clip(st.meta.Live), seq)}
		if err := v.putMeta(st, m); err != nil {
			return err
		}
		v.keepTail(st, seg)
		v.makeHot(st, seg)
		if st.index != nil {
			st.index.add(id, seq)
		}
		return nil
	}
	cur, ok := v.hotTail(st)
	if !ok {
		if cur, err = v.openTail(st); err != nil {
			return err
		}
		// Its values are the tail's plaintext, which the hot tail keeps
		// using: wiped when the commit ends.
		v.stage.wipeAtEnd(cur)
	}
	// cur is this commit's own (decoded here, or the last append's next):
	// its entries grow in place.
	next := &format.Segment{Log: log, Seq: st.tail.seq, Entries: append(cur.Entries, e)}
	if err := v.writeSegment(st, next); err != nil {
		return err
	}
	v.keepTailLater(st, next)
	v.makeHot(st, next)
	if st.index != nil {
		st.index.add(id, next.Seq)
	}
	return nil
}

// hotTail returns st's hot tail (see logState.hot) if it is still the
// tail this commit staged last.
func (v *Vault) hotTail(st *logState) (*format.Segment, bool) {
	h := st.hot
	if h == nil || st.hotStage != v.stage || v.stage == nil || st.tail == nil || st.tailBad ||
		st.tail.seq != h.Seq || st.tail.version != h.Version {
		return nil, false
	}
	if v.ver[v.segPath(st, h.Seq)] != h.Version {
		return nil, false
	}
	return h, true
}

// makeHot makes seg, just written by an append and cached as st's tail,
// its hot tail until the commit ends.
func (v *Vault) makeHot(st *logState, seg *format.Segment) {
	if st.tail == nil || st.tail.seq != seg.Seq || st.tail.version != seg.Version {
		return // not cached: the next append reads the tail again
	}
	if st.hotStage != v.stage {
		v.stage.ends = append(v.stage.ends, func() { st.hot, st.hotStage = nil, nil })
	}
	st.hot, st.hotStage = seg, v.stage
}

// keepTail caches seg, just written, as st's tail. If it cannot be sealed
// (no locked memory for the key, say), the tail is read from disk again
// when next needed: the write itself is done.
func (v *Vault) keepTail(st *logState, seg *format.Segment) {
	if err := v.cacheTail(st, seg); err != nil {
		st.tail, st.tailBad = nil, false
	}
}

// scan decrypts the live segments of st in order (from the end if
// backwards) and calls fn for each until it returns false. Damaged segments
// are skipped and reported together at the end.
func (v *Vault) scan(st *logState, backwards bool, fn func(seg *format.Segment) bool) error {
	var damage []error
	seqs := slices.Clone(st.meta.Live)
	if backwards {
		slices.Reverse(seqs)
	}
	err := v.key.withIdentity(func(id age.Identity, _ []byte) error {
		for _, q := range seqs {
			var seg *format.Segment
			var err error
			if st.tail != nil && st.tail.seq == q {
				seg, err = v.openTail(st)
			} else {
				seg, err = v.readSegment(id, st, q)
			}
			if err != nil {
				var fe *FileError
				if !errors.As(err, &fe) {
					return err
				}
				damage = append(damage, err)
				continue
			}
			more := fn(seg)
			wipeSegment(seg)
			if !more {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return errors.Join(damage...)
}

// Entries returns every entry of log in append order (none if the log does
// not exist). If some segments are damaged it returns the entries of the
// others together with an error naming the damaged files.
func (v *Vault) Entries(log string) ([]Entry, error) {
	return v.entries(log, -1)
}

// Last returns the last n entries of log, in append order; it reads only the
// segments it needs.
func (v *Vault) Last(log string, n int) ([]Entry, error) {
	if n <= 0 {
		return nil, nil
	}
	return v.entries(log, n)
}

func (v *Vault) entries(log string, n int) (out []Entry, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, ErrClosed
	}
	erase.Do(func() { out, err = v.entriesLocked(log, n) })
	return out, err
}

// entriesLocked returns copies of the values, which are the caller's to
// wipe; the segments' plaintexts are wiped.
func (v *Vault) entriesLocked(log string, n int) ([]Entry, error) {
	st, err := v.getLog(log, false)
	if st == nil || err != nil {
		return nil, err
	}
	var segs [][]Entry
	total := 0
	full := n < 0
	index := newSegIndex()
	err = v.scan(st, !full, func(seg *format.Segment) bool {
		es := make([]Entry, len(seg.Entries))
		for i, e := range seg.Entries {
			es[i] = Entry{ID: e.ID, Value: slices.Clone(e.Value)}
			index.add(e.ID, seg.Seq)
		}
		segs = append(segs, es)
		total += len(es)
		return full || total < n
	})
	if !full {
		slices.Reverse(segs)
	} else if err == nil {
		st.index = index
	}
	out := make([]Entry, 0, total)
	for _, es := range segs {
		out = append(out, es...)
	}
	if !full && len(out) > n {
		for _, e := range out[:len(out)-n] {
			clear(e.Value)
		}
		out = out[len(out)-n:]
	}
	return out, err
}

// buildIndex maps every entry ID of st to its segment.
func (v *Vault) buildIndex(st *logState) error {
	if st.index != nil {
		return nil
	}
	index := newSegIndex()
	err := v.scan(st, false, func(seg *format.Segment) bool {
		for _, e := range seg.Entries {
			index.add(e.ID, seg.Seq)
		}
		return true
	})
	st.index = index
	if err != nil {
		st.index = nil // incomplete: build it again next time
		return err
	}
	// A Remove must reach the damaged segments' entries too; with an
	// incomplete index it cannot, so it says so (after removing the rest).
	return nil
}

// Remove deletes the entries with the given IDs from log and returns how
// many it removed. Every segment that held one is rewritten without it (or
// deleted, if nothing is left) before Remove returns: from then on the
// entries cannot be read back from the vault, even with the passphrase (see
// the package documentation for what the file system and the disk may
// still keep). IDs not in the log are ignored. The first Remove on a log
// decrypts all of it once to index it; later ones touch only the segments
// concerned.
func (v *Vault) Remove(log string, ids ...string) (n int, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return 0, ErrClosed
	}
	erase.Do(func() {
		err = v.commitOp(func() error {
			var err error
			n, err = v.remove(log, ids)
			return err
		})
	})
	return n, err
}

func (v *Vault) remove(log string, ids []string) (int, error) {
	st, err := v.getLog(log, false)
	if st == nil || err != nil || len(ids) == 0 {
		return 0, err
	}
	indexErr := v.buildIndex(st)
	if st.index == nil {
		// Without an index, scan again for just these IDs.
		st.index = newSegIndex()
		v.scan(st, false, func(seg *format.Segment) bool {
			for _, e := range seg.Entries {
				st.index.add(e.ID, seg.Seq)
			}
			return true
		})
		defer func() { st.index = nil }()
	}
	bySeg := map[uint32]map[string]bool{}
	for _, id := range ids {
		for _, q := range st.index.seqs(id) {
			if bySeg[q] == nil {
				bySeg[q] = map[string]bool{}
			}
			bySeg[q][id] = true
		}
	}
	seqs := make([]uint32, 0, len(bySeg))
	for q := range bySeg {
		seqs = append(seqs, q)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	removed := 0
	for _, q := range seqs {
		n, err := v.removeFrom(st, q, bySeg[q])
		removed += n
		if err != nil {
			return removed, err
		}
	}
	return removed, indexErr
}

// removeFrom rewrites segment q of st without the given IDs.
func (v *Vault) removeFrom(st *logState, q uint32, drop map[string]bool) (int, error) {
	var seg *format.Segment
	var err error
	if st.tail != nil && st.tail.seq == q {
		seg, err = v.openTail(st)
	} else {
		err = v.key.withIdentity(func(id age.Identity, _ []byte) error {
			var err error
			seg, err = v.readSegment(id, st, q)
			return err
		})
	}
	if err != nil {
		return 0, err
	}
	// The removed entries' values, and the kept ones once rewritten and
	// cached, are wiped here (they alias the plaintext).
	defer wipeSegment(seg)
	kept := make([]format.Entry, 0, len(seg.Entries))
	for _, e := range seg.Entries {
		if !drop[e.ID] {
			kept = append(kept, e)
		}
	}
	n := len(seg.Entries) - len(kept)
	next := &format.Segment{Log: st.name, Seq: q, Entries: kept}
	// Rewrite first: from here on the entries are gone, even if the steps
	// below are interrupted (an empty segment is harmless).
	if err := v.writeSegment(st, next); err != nil {
		return 0, err
	}
	for id := range drop {
		st.index.drop(id, q)
	}
	isTail := st.tail != nil && st.tail.seq == q
	if isTail {
		v.keepTail(st, next)
	}
	if len(kept) > 0 {
		return n, v.maybeMerge(st, next)
	}
	// Nothing left: forget the segment, then delete its file.
	live := slices.DeleteFunc(slices.Clone(st.meta.Live), func(x uint32) bool { return x == q })
	if err := v.putMeta(st, format.LogMeta{Next: st.meta.Next, Live: live}); err != nil {
		return n, err
	}
	if isTail || (len(live) > 0 && st.tail != nil && st.tail.seq != live[len(live)-1]) {
		st.tail, st.tailBad = nil, false
	}
	return n, v.removeSegment(st, q)
}

// DropLog deletes a whole log (a deleted conversation, a burned identity):
// its segments are deleted before DropLog returns. Dropping a missing log is
// not an error.
func (v *Vault) DropLog(log string) (err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return ErrClosed
	}
	st, err := v.getLog(log, false)
	if st == nil || err != nil {
		return err
	}
	erase.Do(func() { err = v.commitOp(func() error { return v.dropLog(st) }) })
	return err
}

// dropLog marks the log as dropping (so that a crash midway is finished at
// the next Open), deletes its segments, then its metadata.
func (v *Vault) dropLog(st *logState) error {
	if !st.meta.Dropping {
		m := st.meta
		m.Dropping = true
		if err := v.putMeta(st, m); err != nil {
			return err
		}
	}
	if err := v.nameSegs(st, st.meta.Live...); err != nil {
		return err
	}
	for _, q := range st.meta.Live {
		if err := v.removeSegment(st, q); err != nil {
			return err
		}
	}
	if err := v.del(metaKind, st.name); err != nil {
		return err
	}
	delete(v.logs, st.name)
	return nil
}

// Logs returns the names of the logs, sorted.
func (v *Vault) Logs() ([]string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, ErrClosed
	}
	var out []string
	for k := range v.records[metaKind] {
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}

// recoverLogs, at Open, finishes what a crash interrupted: drops marked
// logs, adopts a segment written just before its metadata, and deletes
// segment files no log refers to (left by an interrupted Remove or DropLog).
func (v *Vault) recoverLogs() error {
	logs := make([]string, 0, len(v.records[metaKind]))
	for k := range v.records[metaKind] {
		logs = append(logs, k)
	}
	slices.Sort(logs)
	known := map[string]bool{}
	for _, log := range logs {
		st, err := v.getLog(log, false)
		if err != nil {
			return err
		}
		if st.meta.Dropping {
			if err := v.dropLog(st); err != nil {
				return err
			}
			continue
		}
		if st.meta.Merge != nil {
			if err := v.recoverMerge(st); err != nil {
				return err
			}
		}
		if err := v.nameSegs(st, st.meta.Next); err != nil {
			return err
		}
		if there, _ := v.exists(v.segPath(st, st.meta.Next)); there {
			q := st.meta.Next
			err := v.key.withIdentity(func(id age.Identity, _ []byte) error {
				seg, err := v.readSegment(id, st, q)
				wipeSegment(seg)
				return err
			})
			if err == nil {
				if err := v.putMeta(st, format.LogMeta{Next: q + 1, Live: append(slices.Clip(st.meta.Live), q)}); err != nil {
					return err
				}
			}
		}
		for _, q := range st.meta.Live {
			known[st.names[q]] = true
		}
	}
	for _, bad := range v.shardBad {
		if bad != nil {
			return nil // some logs are unknown: delete nothing
		}
	}
	dir := filepath.Join(v.dir, segmentDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	swept := false
	for _, e := range ents {
		if !known[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("vault: %w", err)
			}
			v.forget(segmentDir + "/" + e.Name())
			swept = true
		}
	}
	if swept {
		return syncDir(dir)
	}
	return nil
}

// segIndex maps entry IDs to the segments holding them. IDs are meant to be
// unique, so the common case is one segment; a repeated ID (which Remove
// must still find everywhere) goes to more.
type segIndex struct {
	one  map[string]uint32
	more map[string][]uint32
}

func newSegIndex() *segIndex { return &segIndex{one: map[string]uint32{}} }

func (x *segIndex) add(id string, q uint32) {
	old, ok := x.one[id]
	switch {
	case !ok:
		x.one[id] = q
	case old != q && !slices.Contains(x.more[id], q):
		if x.more == nil {
			x.more = map[string][]uint32{}
		}
		x.more[id] = append(x.more[id], q)
	}
}

func (x *segIndex) seqs(id string) []uint32 {
	q, ok := x.one[id]
	if !ok {
		return nil
	}
	return append([]uint32{q}, x.more[id]...)
}

// drop forgets that segment q holds id.
func (x *segIndex) drop(id string, q uint32) {
	if x == nil {
		return
	}
	rest := slices.DeleteFunc(x.seqs(id), func(s uint32) bool { return s == q })
	delete(x.one, id)
	delete(x.more, id)
	if len(rest) > 0 {
		x.one[id] = rest[0]
		if len(rest) > 1 {
			x.more[id] = rest[1:]
		}
	}
}

// maybeMerge compacts: if segment a has shrunk below a quarter of a full
// segment and fits together with a live neighbour b (the next one, else the
// previous one), a's entries move into b, in log order, and a is deleted.
// Steps, each durable before the next, so that a crash anywhere leaves every
// entry exactly once (Open finishes the job, see recoverMerge):
//
//	metadata says "merging a into b, b had n entries"
//	-> b rewritten with a's entries -> metadata without a -> a's file deleted
func (v *Vault) maybeMerge(st *logState, a *format.Segment) error {
	i := slices.Index(st.meta.Live, a.Seq)
	if i < 0 || segSize(a) > format.SegmentTarget/4 {
		return nil
	}
	for _, j := range []int{i + 1, i - 1} {
		if j < 0 || j >= len(st.meta.Live) {
			continue
		}
		bseq := st.meta.Live[j]
		var b *format.Segment
		var err error
		if st.tail != nil && st.tail.seq == bseq {
			b, err = v.openTail(st)
		} else {
			err = v.key.withIdentity(func(id age.Identity, _ []byte) error {
				var err error
				b, err = v.readSegment(id, st, bseq)
				return err
			})
		}
		if err != nil {
			continue // a damaged neighbour is left alone
		}
		if segSize(a)+segSize(b)-format.HeaderSize(st.name) > format.SegmentTarget ||
			len(a.Entries)+len(b.Entries) > maxSegmentEntries {
			wipeSegment(b)
			continue
		}
		err = v.merge(st, a, b)
		wipeSegment(b)
		return err
	}
	return nil
}

// merge moves a's entries into b (see maybeMerge).
func (v *Vault) merge(st *logState, a, b *format.Segment) error {
	m := st.meta
	m.Merge = &format.Merge{From: a.Seq, Into: b.Seq, IntoCount: uint32(len(b.Entries))}
	if err := v.putMeta(st, m); err != nil {
		return err
	}
	entries := append(slices.Clone(a.Entries), b.Entries...)
	if b.Seq < a.Seq {
		entries = append(slices.Clone(b.Entries), a.Entries...)
	}
	merged := &format.Segment{Log: st.name, Seq: b.Seq, Entries: entries}
	if err := v.writeSegment(st, merged); err != nil {
		return err
	}
	switch {
	case st.tail != nil && st.tail.seq == b.Seq:
		v.keepTail(st, merged)
	case st.tail != nil && st.tail.seq == a.Seq:
		st.tail = nil // a was the last segment; b now is
	}
	for _, e := range a.Entries {
		st.index.drop(e.ID, a.Seq)
		if st.index != nil {
			st.index.add(e.ID, b.Seq)
		}
	}
	return v.finishMerge(st)
}

// finishMerge completes the merge recorded in st's metadata once segment
// Into has been rewritten: a's segment leaves the list, then its file goes.
func (v *Vault) finishMerge(st *logState) error {
	g := st.meta.Merge
	live := slices.DeleteFunc(slices.Clone(st.meta.Live), func(x uint32) bool { return x == g.From })
	if err := v.putMeta(st, format.LogMeta{Next: st.meta.Next, Live: live, Dropping: st.meta.Dropping}); err != nil {
		return err
	}
	return v.removeSegment(st, g.From)
}

// recoverMerge, at Open, looks at a merge a crash interrupted: if segment
// Into no longer holds IntoCount entries it was rewritten, and the merge is
// finished; otherwise it never happened, and the record is dropped.
func (v *Vault) recoverMerge(st *logState) error {
	g := st.meta.Merge
	var into *format.Segment
	err := v.key.withIdentity(func(id age.Identity, _ []byte) error {
		var err error
		into, err = v.readSegment(id, st, g.Into)
		return err
	})
	if err != nil {
		return nil // damaged: leave it for Check to report
	}
	wipeSegment(into)
	if uint32(len(into.Entries)) != g.IntoCount {
		return v.finishMerge(st)
	}
	m := st.meta
	m.Merge = nil
	return v.putMeta(st, m)
}
