package vault

import (
	"slices"
	"strconv"
	"testing"

	"github.com/sottochat/sotto/vault/format"
)

// fiveSegments fills log "conv" with entries 0..n-1 over several segments
// and returns the entry IDs of each segment.
func fiveSegments(t *testing.T, v *Vault) [][]string {
	t.Helper()
	bulkFill(t, v, "conv", 1000, strconv.Itoa, bigValue)
	st := v.logs["conv"]
	var segs [][]string
	err := v.scan(st, false, func(seg *format.Segment) bool {
		var ids []string
		for _, e := range seg.Entries {
			ids = append(ids, e.ID)
		}
		segs = append(segs, ids)
		return true
	})
	must(t, err)
	if len(segs) < 4 {
		t.Fatalf("%d segments", len(segs))
	}
	return segs
}

// fiveSegmentsIDs lists the entry IDs of each live segment of "conv".
func fiveSegmentsIDs(t *testing.T, v *Vault) [][]string {
	t.Helper()
	var segs [][]string
	must(t, v.scan(v.logs["conv"], false, func(seg *format.Segment) bool {
		var ids []string
		for _, e := range seg.Entries {
			ids = append(ids, e.ID)
		}
		segs = append(segs, ids)
		return true
	}))
	return segs
}

func checkOrder(t *testing.T, v *Vault, gone map[string]bool) {
	t.Helper()
	es, err := v.Entries("conv")
	must(t, err)
	want := 0
	for i := range 1000 {
		if !gone[strconv.Itoa(i)] {
			want++
		}
	}
	if len(es) != want {
		t.Fatalf("%d entries, want %d", len(es), want)
	}
	last := -1
	for _, e := range es {
		n, _ := strconv.Atoi(e.ID)
		if n <= last || gone[e.ID] || string(e.Value) != string(bigValue(n)) {
			t.Fatalf("entry %s out of order, removed or garbled", e.ID)
		}
		last = n
	}
}

func TestMergeCompacts(t *testing.T) {
	v, _ := newVault(t)
	segs := fiveSegments(t, v)
	before := len(v.logs["conv"].meta.Live)
	// Leave only a handful of entries in the second and third segments:
	// the second merges into the third.
	gone := map[string]bool{}
	for _, id := range append(slices.Clone(segs[1][5:]), segs[2][5:]...) {
		gone[id] = true
	}
	n, err := v.Remove("conv", slices.Collect(func(yield func(string) bool) {
		for id := range gone {
			if !yield(id) {
				return
			}
		}
	})...)
	if err != nil || n != len(gone) {
		t.Fatalf("Remove: %d %v", n, err)
	}
	st := v.logs["conv"]
	if len(st.meta.Live) != before-1 || st.meta.Merge != nil {
		t.Fatalf("no merge: %d -> %d segments (%+v)", before, len(st.meta.Live), st.meta)
	}
	checkOrder(t, v, gone)
	// The merged entries are still found by Remove.
	if n, err := v.Remove("conv", segs[1][0], segs[2][0]); err != nil || n != 2 {
		t.Fatalf("Remove after merge: %d %v", n, err)
	}
	gone[segs[1][0]], gone[segs[2][0]] = true, true
	// A small segment between two full ones stays; once a neighbour
	// shrinks too, the two merge.
	var more []string
	for _, id := range segs[4][3:] {
		gone[id] = true
		more = append(more, id)
	}
	before = len(v.logs["conv"].meta.Live)
	_, err = v.Remove("conv", more...)
	must(t, err)
	if len(v.logs["conv"].meta.Live) != before {
		t.Fatal("merged into a full neighbour")
	}
	more = nil
	for _, id := range segs[3][3:] {
		gone[id] = true
		more = append(more, id)
	}
	_, err = v.Remove("conv", more...)
	must(t, err)
	if len(v.logs["conv"].meta.Live) != before-1 {
		t.Fatalf("no merge of two small neighbours: %d -> %d", before, len(v.logs["conv"].meta.Live))
	}
	checkOrder(t, v, gone)
	v = reopen(t, v)
	checkOrder(t, v, gone)
	v.Close()
	rep, err := Check(v.Dir(), pass(t, "correct horse"), testOpts)
	if err != nil || !rep.OK() || len(rep.Stray) > 0 {
		t.Fatalf("Check: %+v %v", rep, err)
	}
}

// TestMergeCrashStates builds, by hand, each state a crash during a merge
// can leave, and checks that Open ends with every entry exactly once.
func TestMergeCrashStates(t *testing.T) {
	for _, state := range []string{"flag-only", "into-rewritten", "from-unlisted"} {
		t.Run(state, func(t *testing.T) {
			v, _ := newVault(t)
			segs := fiveSegments(t, v)
			st := v.logs["conv"]
			a, b := st.meta.Live[1], st.meta.Live[2]
			// Segment a keeps its first 5 entries.
			gone := map[string]bool{}
			for _, id := range segs[1][5:] {
				gone[id] = true
			}
			v.mu.Lock()
			var sa, sb *format.Segment
			// scan wipes each segment after fn: keep copies.
			clone := func(seg *format.Segment) *format.Segment {
				c := *seg
				c.Entries = nil
				for _, e := range seg.Entries {
					c.Entries = append(c.Entries, format.Entry{ID: e.ID, Value: slices.Clone(e.Value)})
				}
				return &c
			}
			err := v.scan(st, false, func(seg *format.Segment) bool {
				switch seg.Seq {
				case a:
					sa = clone(seg)
				case b:
					sb = clone(seg)
				}
				return true
			})
			must(t, err)
			sa = &format.Segment{Log: "conv", Seq: a, Entries: sa.Entries[:5]}
			must(t, step(v, func() error { return v.writeSegment(st, sa) }))
			m := st.meta
			m.Merge = &format.Merge{From: a, Into: b, IntoCount: uint32(len(sb.Entries))}
			must(t, step(v, func() error { return v.putMeta(st, m) }))
			if state != "flag-only" {
				merged := &format.Segment{Log: "conv", Seq: b, Entries: append(slices.Clone(sa.Entries), sb.Entries...)}
				must(t, step(v, func() error { return v.writeSegment(st, merged) }))
			}
			if state == "from-unlisted" {
				live := slices.DeleteFunc(slices.Clone(st.meta.Live), func(x uint32) bool { return x == a })
				must(t, step(v, func() error { return v.putMeta(st, format.LogMeta{Next: st.meta.Next, Live: live}) }))
			}
			v.mu.Unlock()
			v = reopen(t, v)
			checkOrder(t, v, gone)
			if g := v.logs["conv"].meta.Merge; g != nil {
				t.Fatalf("merge record left: %+v", g)
			}
			v.Close()
			rep, err := Check(v.Dir(), pass(t, "correct horse"), testOpts)
			if err != nil || !rep.OK() || len(rep.Stray) > 0 || rep.Entries != 1000-len(gone) {
				t.Fatalf("Check: %+v %v", rep, err)
			}
		})
	}
}

// TestMergeTailBackwards: the last segment shrinks and merges into the one
// before it; appends must then go to that one (a stale tail here once lost
// acknowledged entries: found by TestCrashKill).
func TestMergeTailBackwards(t *testing.T) {
	v, _ := newVault(t)
	bulkFill(t, v, "conv", 1000, strconv.Itoa, bigValue)
	st := v.logs["conv"]
	gone := map[string]bool{}
	// Fill the last segment: append until a new one starts, then remove
	// the new one's only entry (it is deleted, the full one is last again).
	n := len(st.meta.Live)
	i := 1000
	for len(st.meta.Live) == n {
		must(t, v.Append("conv", strconv.Itoa(i), bigValue(i)))
		i++
	}
	last := strconv.Itoa(i - 1)
	_, err := v.Remove("conv", last)
	must(t, err)
	gone[last] = true
	if len(st.meta.Live) != n {
		t.Fatal("the emptied last segment was not deleted")
	}
	segs := fiveSegmentsIDs(t, v)
	shrink := func(ids []string) {
		t.Helper()
		for _, id := range ids {
			gone[id] = true
		}
		_, err := v.Remove("conv", ids...)
		must(t, err)
	}
	shrink(segs[len(segs)-2][3:]) // between two full segments: stays
	if len(st.meta.Live) != n {
		t.Fatal("merged into a full neighbour")
	}
	v.mu.Lock()
	v.loadTail(st) // as an Append would have
	v.mu.Unlock()
	shrink(segs[len(segs)-1][3:]) // the last one: merges backwards
	if len(st.meta.Live) != n-1 {
		t.Fatalf("no backward merge: %d -> %d segments", n, len(st.meta.Live))
	}
	for k := range 3 {
		must(t, v.Append("conv", strconv.Itoa(i+k), bigValue(i+k)))
	}
	v = reopen(t, v)
	es, err := v.Entries("conv")
	must(t, err)
	if len(es) == 0 || es[len(es)-1].ID != strconv.Itoa(i+2) {
		t.Fatalf("appends after a backward merge were lost (last entry %v)", es[len(es)-1].ID)
	}
	for _, e := range es {
		if gone[e.ID] {
			t.Fatalf("removed entry %s is back", e.ID)
		}
	}
}
