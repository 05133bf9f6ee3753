package vault

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/sottochat/sotto/vault/format"
)

// TestOpenFinishesInterruptedWork sets up what a crash can leave behind and
// checks that Open puts it right.
func TestOpenFinishesInterruptedWork(t *testing.T) {
	v, dir := newVault(t)
	must(t, v.Append("conv", "1", []byte("one")))
	must(t, v.Append("gone", "x", []byte("being dropped")))
	// A segment written just before its log's metadata (crash in between).
	st := v.logs["conv"]
	orphanSeq := st.meta.Next
	must(t, step(v, func() error {
		return v.writeSegment(st, &format.Segment{Log: "conv", Seq: orphanSeq, Entries: []format.Entry{{ID: "2", Value: []byte("two")}}})
	}))
	// A DropLog interrupted after marking the log.
	g := v.logs["gone"]
	m := g.meta
	m.Dropping = true
	must(t, step(v, func() error { return v.putMeta(g, m) }))
	goneFile := filepath.Join(dir, v.segPath(g, g.meta.Live[0]))
	// A temporary file and a segment nothing refers to.
	stray := filepath.Join(dir, segmentDir, "00112233445566778899aabbccddeeff")
	must(t, os.WriteFile(stray, []byte("left over"), 0o600))
	tmp := filepath.Join(dir, recordDir, tmpPrefix+"0123")
	must(t, os.WriteFile(tmp, []byte("half written"), 0o600))
	v.Close()

	// Check reports, and touches nothing.
	before := snapshot(t, dir)
	rep, err := Check(dir, pass(t, "correct horse"), testOpts)
	must(t, err)
	if !rep.OK() || len(rep.Stray) != 3 || rep.Logs != 2 {
		t.Fatalf("Check: %+v", rep)
	}
	if !maps2Equal(before, snapshot(t, dir)) {
		t.Fatal("Check changed the vault")
	}

	v, err = Open(dir, pass(t, "correct horse"), testOpts)
	must(t, err)
	defer v.Close()
	es, _ := v.Entries("conv")
	if len(es) != 2 || es[1].ID != "2" {
		t.Fatalf("the orphan segment was not adopted: %v", es)
	}
	if logs, _ := v.Logs(); !slices.Equal(logs, []string{"conv"}) {
		t.Fatalf("the interrupted drop was not finished: %v", logs)
	}
	for _, p := range []string{goneFile, stray, tmp} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there", p)
		}
	}
	must(t, v.Append("conv", "3", []byte("three")))
	v.Close()
	rep, err = Check(dir, pass(t, "correct horse"), testOpts)
	if err != nil || !rep.OK() || len(rep.Stray) != 0 || rep.Entries != 3 {
		t.Fatalf("Check after recovery: %+v %v", rep, err)
	}
}

// TestConcurrentUse hammers one vault from several goroutines (run with
// -race).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	v, _ := newVault(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				log := fmt.Sprint("log", g)
				if err := v.Append(log, fmt.Sprint(i), []byte("x")); err != nil {
					t.Error(err)
				}
				if err := v.Put("k", fmt.Sprint(g), []byte(fmt.Sprint(i))); err != nil {
					t.Error(err)
				}
				v.Get("k", "0")
				v.Keys("k")
				v.Entries(log)
				if i%5 == 4 {
					v.Remove(log, fmt.Sprint(i-1))
				}
			}
		}()
	}
	wg.Wait()
	v = reopen(t, v)
	for g := range 4 {
		es, err := v.Entries(fmt.Sprint("log", g))
		if err != nil || len(es) != 12 {
			t.Fatalf("log%d: %d entries, %v", g, len(es), err)
		}
		if got, _ := v.Get("k", fmt.Sprint(g)); string(got) != "14" {
			t.Fatalf("k/%d = %q", g, got)
		}
	}
}

func TestClosed(t *testing.T) {
	v, _ := newVault(t)
	v.Close()
	if err := v.Put("k", "k", nil); err != ErrClosed {
		t.Fatal(err)
	}
	if err := v.Append("l", "1", nil); err != ErrClosed {
		t.Fatal(err)
	}
	if _, err := v.Entries("l"); err != ErrClosed {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAppendTouchesOnlyTheTail: with a long history, an Append rewrites one
// segment file (plus the record shard holding the log's metadata when a new
// segment starts), never the history.
func TestAppendTouchesOnlyTheTail(t *testing.T) {
	v, dir := newVault(t)
	bulkFill(t, v, "conv", 20000, benchID, benchValue)
	segsBefore := len(segFiles(t, dir))
	before := snapshot(t, dir)
	rolled := 0
	for i := range 40 {
		n := len(v.logs["conv"].meta.Live)
		must(t, v.Append("conv", fmt.Sprint("new", i), benchValue(i)))
		if len(v.logs["conv"].meta.Live) != n {
			rolled++
		}
	}
	changed := 0
	for p, h := range snapshot(t, dir) {
		if before[p] != h && filepath.Dir(p) == filepath.Join(dir, segmentDir) {
			changed++
		}
	}
	if segsBefore < 60 || changed > 1+rolled {
		t.Fatalf("%d segments; 40 appends changed %d segment files (%d new segments)", segsBefore, changed, rolled)
	}
	// Last reads only the end: a damaged first segment does not matter.
	st := v.logs["conv"]
	flipByte(t, filepath.Join(dir, v.segPath(st, st.meta.Live[0])), -50)
	if es, err := v.Last("conv", 5); err != nil || len(es) != 5 || es[4].ID != "new39" {
		t.Fatalf("Last: %v, %v", es, err)
	}
	if _, err := v.Entries("conv"); err == nil {
		t.Fatal("Entries did not notice the damaged first segment")
	}
}
