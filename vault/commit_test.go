package vault

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var batchCrashIters = flag.Int("vault.batchcrash", 20, "iterations of the SIGKILL batch crash test")

// TestCrashKillBatches kills, at random instants, a writer that commits
// batches from three goroutines at once (so that batches join each other's
// commits), each batch appending an entry to a log and putting a record of
// the same name, and every other batch also removing an older entry and
// deleting its record. After each kill the vault must open, hold every
// acknowledged batch and none of the acknowledged removals, and show each
// batch whole or not at all: the log's entries and the records are the same
// set of names.
func TestCrashKillBatches(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d, %d iterations", seed, *batchCrashIters)
	v, dir := newVault(t)
	v.Close()
	exe, _ := os.Executable()
	acked, removed := map[int]bool{}, map[int]bool{}
	intent := map[int]int{} // batch -> the entry it removes (or -1), printed before its commit
	next, partial := 0, 0
	for iter := range *batchCrashIters {
		cmd := child(t, exe, "TestCrashBatchChild", "VAULT_CHILD=batch", "VAULT_DIR="+dir, "VAULT_START="+strconv.Itoa(next))
		out, err := cmd.StdoutPipe()
		must(t, err)
		cmd.Stderr = cmd.Stdout
		must(t, cmd.Start())
		var log []string
		var mu sync.Mutex
		ready := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				l := sc.Text()
				mu.Lock()
				log = append(log, l)
				mu.Unlock()
				f := strings.Fields(l)
				if len(f) == 1 && f[0] == "READY" {
					close(ready)
				}
				if len(f) != 3 || (f[0] != "ACK" && f[0] != "BEGIN") {
					continue
				}
				n, _ := strconv.Atoi(f[1])
				r, _ := strconv.Atoi(f[2])
				mu.Lock()
				if f[0] == "BEGIN" {
					intent[n] = r
				} else {
					acked[n] = true
					if r >= 0 {
						removed[r] = true
					}
				}
				mu.Unlock()
			}
		}()
		select {
		case <-ready:
		case <-done:
			t.Fatalf("iteration %d: the writer ended before it was ready:\n%s", iter, strings.Join(log, "\n"))
		case <-time.After(60 * time.Second):
			t.Fatal("the writer never became ready")
		}
		time.Sleep(time.Duration(rng.IntN(200000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		if err := cmd.Wait(); !strings.Contains(fmt.Sprint(err), "killed") {
			t.Fatalf("iteration %d: the writer ended on its own (%v):\n%s", iter, err, strings.Join(log, "\n"))
		}
		v, err := Open(dir, pass(t, "correct horse"), testOpts)
		if err != nil {
			t.Fatalf("iteration %d: Open after SIGKILL: %v", iter, err)
		}
		es, err := v.Entries("bconv")
		must(t, err)
		keys, err := v.Keys("bmark")
		must(t, err)
		var ids []string
		for _, e := range es {
			ids = append(ids, e.ID)
			n, _ := strconv.Atoi(e.ID)
			if !bytes.Equal(e.Value, crashValue(n)) {
				t.Fatalf("iteration %d: entry %d garbled", iter, n)
			}
			next = max(next, n+1)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, keys) {
			t.Fatalf("iteration %d: a batch half committed: log entries %v, records %v", iter, ids, keys)
		}
		have := map[string]bool{}
		for _, id := range ids {
			have[id] = true
		}
		// A batch the kill caught after its commit point is there, and so
		// is its removal (all or nothing).
		for n, r := range intent {
			if !acked[n] && r >= 0 && have[strconv.Itoa(n)] {
				if have[strconv.Itoa(r)] {
					t.Fatalf("iteration %d: batch %d committed without its removal of %d", iter, n, r)
				}
				removed[r] = true
			}
		}
		for n := range acked {
			next = max(next, n+1)
			if !removed[n] && !have[strconv.Itoa(n)] {
				t.Fatalf("iteration %d: acknowledged batch %d lost", iter, n)
			}
		}
		for n := range removed {
			if have[strconv.Itoa(n)] {
				t.Fatalf("iteration %d: acknowledged removal of %d undone", iter, n)
			}
		}
		// The rewritten records hold at least the last acknowledged value.
		for n := range acked {
			b, err := v.Get("bhigh", "m"+strconv.Itoa(n%3))
			if err != nil {
				t.Fatalf("iteration %d: the record batch %d rewrote: %v", iter, n, err)
			}
			if got, _ := strconv.Atoi(string(b)); got < n {
				t.Fatalf("iteration %d: acknowledged batch %d rewrote record m%d, which now holds %d", iter, n, n%3, got)
			}
		}
		// Staging files are gone once Open has redone or undone a commit.
		for _, d := range []string{recordDir, segmentDir} {
			ents, _ := os.ReadDir(filepath.Join(dir, d))
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), stagePrefix) {
					t.Fatalf("iteration %d: %s/%s left after Open", iter, d, e.Name())
				}
			}
		}
		v.Close()
		if iter%20 == 19 {
			rep, err := Check(dir, pass(t, "correct horse"), testOpts)
			if err != nil || !rep.OK() || len(rep.Stray) > 0 {
				t.Fatalf("iteration %d: Check: %+v %v", iter, rep, err)
			}
		}
		// Every batch not acknowledged but present (the kill came after its
		// commit point) is counted: proof that kills land inside commits.
		for _, id := range ids {
			if n, _ := strconv.Atoi(id); !acked[n] {
				partial++
				acked[n] = true
			}
		}
		next += 3
	}
	t.Logf("%d batches acknowledged, %d removals; %d batches found committed though not yet acknowledged", len(acked), len(removed), partial)
}

// TestCrashBatchChild is the writer TestCrashKillBatches kills.
func TestCrashBatchChild(t *testing.T) {
	if os.Getenv("VAULT_CHILD") != "batch" {
		t.Skip("runs as the child of TestCrashKillBatches")
	}
	start, _ := strconv.Atoi(os.Getenv("VAULT_START"))
	v, err := Open(os.Getenv("VAULT_DIR"), pass(t, "correct horse"), testOpts)
	if err != nil {
		fmt.Println("OPEN-FAILED", err)
		t.Fatal(err)
	}
	fmt.Println("READY")
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			for k := 0; ; k++ {
				i := start + g + 3*k
				b := v.Batch()
				id := strconv.Itoa(i)
				b.Append("bconv", id, crashValue(i))
				b.Put("bmark", id, []byte{1})
				// A record rewritten by every batch, with a growing value:
				// after a kill it holds at least the last acknowledged one.
				b.Put("bhigh", "m"+strconv.Itoa(i%3), []byte(id))
				gone := -1
				if k >= 2 && k%2 == 0 {
					gone = i - 6
					b.Remove("bconv", strconv.Itoa(gone))
					b.Delete("bmark", strconv.Itoa(gone))
				}
				fmt.Println("BEGIN", i, gone)
				if err := b.Commit(); err != nil {
					fmt.Println("ERROR", err)
					os.Exit(1)
				}
				fmt.Println("ACK", i, gone)
			}
		})
	}
	wg.Wait()
}

// TestBatch checks a batch's changes against the same changes made one by
// one, its reads of what it staged (a Remove of an entry appended in the
// same batch), group commit across goroutines, and its errors.
func TestBatch(t *testing.T) {
	t.Parallel()
	v, dir := newVault(t)
	must(t, v.Append("conv", "0", []byte("zero")))
	b := v.Batch()
	val := []byte("one")
	b.Append("conv", "1", val)
	clear(val) // the batch holds its own copy
	b.Append("conv", "2", []byte("two"))
	b.Remove("conv", "0", "2")
	b.Put("state", "k", []byte("v1"))
	b.Put("state", "k", []byte("v2"))
	b.Put("state", "gone", []byte("x"))
	b.Delete("state", "gone")
	if b.Len() != 7 {
		t.Fatalf("Len = %d", b.Len())
	}
	must(t, b.Commit())
	check := func(v *Vault) {
		t.Helper()
		es, err := v.Entries("conv")
		must(t, err)
		if len(es) != 1 || es[0].ID != "1" || string(es[0].Value) != "one" {
			t.Fatalf("entries %+v", es)
		}
		if got, err := v.Get("state", "k"); err != nil || string(got) != "v2" {
			t.Fatalf("k = %q %v", got, err)
		}
		if _, err := v.Get("state", "gone"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("gone: %v", err)
		}
	}
	check(v)
	v = reopen(t, v)
	check(v)

	// Group commit: batches from many goroutines, all durable.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for k := range 5 {
				b := v.Batch()
				b.Append("many", fmt.Sprintf("%d.%d", g, k), []byte("x"))
				b.Put("many", fmt.Sprintf("%d.%d", g, k), []byte("y"))
				if err := b.Commit(); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	v = reopen(t, v)
	if es, _ := v.Entries("many"); len(es) != 40 {
		t.Fatalf("%d entries after 40 batches", len(es))
	}
	if ks, _ := v.Keys("many"); len(ks) != 40 {
		t.Fatalf("%d records after 40 batches", len(ks))
	}

	// An invalid change fails the batch before anything is written.
	b = v.Batch()
	b.Put("state", "k", []byte("v3"))
	b.Put("", "k", nil)
	if err := b.Commit(); err == nil {
		t.Fatal("a batch with an empty kind committed")
	}
	if got, _ := v.Get("state", "k"); string(got) != "v2" {
		t.Fatalf("k = %q after a refused batch", got)
	}
	if err := v.Batch().Commit(); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	v.Close()
	if err := func() error { b := v.Batch(); b.Put("state", "k", nil); return b.Commit() }(); !errors.Is(err, ErrClosed) {
		t.Fatalf("commit after Close: %v", err)
	}
	rep, err := Check(dir, pass(t, "correct horse"), testOpts)
	if err != nil || !rep.OK() || len(rep.Stray) > 0 {
		t.Fatalf("Check: %+v %v", rep, err)
	}
}

// TestRedoCommit sets up the two states a crash inside a commit leaves:
// killed before its commit point (staging files, the old manifest), Open
// deletes the staging files and the vault is as before; killed after it
// (the new manifest, files not yet renamed), Open puts them in place.
func TestRedoCommit(t *testing.T) {
	t.Parallel()
	for _, committed := range []bool{false, true} {
		v, dir := newVault(t)
		must(t, v.Put("state", "k", []byte("old")))
		must(t, v.Append("conv", "1", []byte("one")))
		snap := vaultFiles(t, dir)
		b := v.Batch()
		b.Put("state", "k", []byte("new"))
		b.Append("conv", "2", []byte("two"))
		must(t, b.Commit())
		after := vaultFiles(t, dir)
		vers := maps.Clone(v.ver)
		v.Close()
		// Rebuild the crash's state from the two snapshots: every file the
		// commit changed back at its old content, the new one under its
		// staging name.
		for rel, data := range after {
			if old, ok := snap[rel]; ok && bytes.Equal(old, data) {
				continue
			}
			if rel == manifestName {
				if !committed {
					writeFile(t, dir, rel, snap[rel])
				}
				continue
			}
			d, name := filepath.Split(rel)
			writeFile(t, dir, filepath.Join(d, stageName(vers[rel], name)), data)
			if old, ok := snap[rel]; ok {
				writeFile(t, dir, rel, old)
			} else {
				must(t, os.Remove(filepath.Join(dir, rel)))
			}
		}
		// Check, which writes nothing, reads what Open will: the staged
		// files of a commit that passed its point, the old ones otherwise.
		rep, err := Check(dir, pass(t, "correct horse"), testOpts)
		wantStray := 0
		if !committed {
			wantStray = 2 // the staging files of the commit that did not happen
		}
		if err != nil || !rep.OK() || len(rep.Stray) != wantStray || rep.Entries != 1+boolInt(committed) {
			t.Fatalf("committed %v: Check: %+v %v", committed, rep, err)
		}
		v, err = Open(dir, pass(t, "correct horse"), testOpts)
		must(t, err)
		got, _ := v.Get("state", "k")
		es, _ := v.Entries("conv")
		want, wantN := "old", 1
		if committed {
			want, wantN = "new", 2
		}
		if string(got) != want || len(es) != wantN {
			t.Fatalf("committed %v: k = %q, %d entries", committed, got, len(es))
		}
		v.Close()
		for _, d := range []string{recordDir, segmentDir} {
			ents, _ := os.ReadDir(filepath.Join(dir, d))
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), stagePrefix) {
					t.Fatalf("committed %v: %s left", committed, e.Name())
				}
			}
		}
	}
}

// vaultFiles reads the manifest and every file of r/ and s/, by path
// inside the vault.
func vaultFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{manifestName: readFile(t, dir, manifestName)}
	for _, d := range []string{recordDir, segmentDir} {
		ents, err := os.ReadDir(filepath.Join(dir, d))
		must(t, err)
		for _, e := range ents {
			out[d+"/"+e.Name()] = readFile(t, dir, d+"/"+e.Name())
		}
	}
	return out
}

// The message path's writes, three ways: one change per commit (as before
// batches: a received message, the ratchet state, an outbox removal), the
// same three changes as one Batch, and batches of one change each from
// many goroutines (group commit: ns/op is per batch).
func BenchmarkCommitSeparate3(b *testing.B) {
	v, _ := newVault(b)
	val := bytes.Repeat([]byte("m"), 300)
	for i := 0; b.Loop(); i++ {
		id := strconv.Itoa(i)
		must(b, v.Append("msgs", id, val))
		must(b, v.Put("ratchet", "c", val))
		must(b, v.Append("out", id, val))
	}
}

func BenchmarkCommitBatch3(b *testing.B) {
	v, _ := newVault(b)
	val := bytes.Repeat([]byte("m"), 300)
	for i := 0; b.Loop(); i++ {
		id := strconv.Itoa(i)
		bt := v.Batch()
		bt.Append("msgs", id, val)
		bt.Put("ratchet", "c", val)
		bt.Append("out", id, val)
		must(b, bt.Commit())
	}
}

func BenchmarkCommitGroup(b *testing.B) {
	v, _ := newVault(b)
	val := bytes.Repeat([]byte("m"), 300)
	var n atomic.Int64
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bt := v.Batch()
			bt.Append("msgs", strconv.FormatInt(n.Add(1), 10), val)
			if err := bt.Commit(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestBatchHotTail: batches of many appends to the same logs, with removals
// (of tail entries too), across segment roll-overs and merges, as the
// message path makes them. Within a commit an append reuses the tail the
// previous append decoded (logState.hot); after every commit the logs must
// read as a plain model says, from the live vault and after a reopen.
func TestBatchHotTail(t *testing.T) {
	t.Parallel()
	v, _ := newVault(t)
	rng := rand.New(rand.NewPCG(7, 9))
	type ent struct {
		id  string
		val []byte
	}
	model := map[string][]ent{}
	logs := []string{"a", "b"}
	n := 0
	check := func(v *Vault, when string) {
		t.Helper()
		for _, l := range logs {
			es, err := v.Entries(l)
			must(t, err)
			if len(es) != len(model[l]) {
				t.Fatalf("%s: log %s has %d entries, want %d", when, l, len(es), len(model[l]))
			}
			for i, e := range es {
				if e.ID != model[l][i].id || !bytes.Equal(e.Value, model[l][i].val) {
					t.Fatalf("%s: log %s entry %d is %s (%d bytes), want %s (%d bytes)", when, l, i, e.ID, len(e.Value), model[l][i].id, len(model[l][i].val))
				}
			}
		}
	}
	for round := range 40 {
		b := v.Batch()
		for range 1 + rng.IntN(60) {
			l := logs[rng.IntN(len(logs))]
			switch r := rng.IntN(10); {
			case r < 7 || len(model[l]) == 0:
				val := make([]byte, 1+rng.IntN(3000))
				for i := range val {
					val[i] = byte(rng.Uint32())
				}
				id := strconv.Itoa(n)
				n++
				b.Append(l, id, val)
				model[l] = append(model[l], ent{id, val})
			default:
				// Mostly near the end: the tail the appends keep hot.
				i := len(model[l]) - 1 - rng.IntN(min(len(model[l]), 5))
				if rng.IntN(3) == 0 {
					i = rng.IntN(len(model[l]))
				}
				b.Remove(l, model[l][i].id)
				model[l] = slices.Delete(model[l], i, i+1)
			}
		}
		must(t, b.Commit())
		check(v, fmt.Sprintf("round %d", round))
		if round%10 == 9 {
			v = reopen(t, v)
			check(v, fmt.Sprintf("round %d, reopened", round))
		}
	}
	if len(model["a"])+len(model["b"]) < 200 {
		t.Fatalf("only %d entries: the test did not fill segments", len(model["a"])+len(model["b"]))
	}
}

// BenchmarkCommitIOFloor is the file-system work of one BenchmarkCommitBatch3
// commit with no sealing, no encoding and no vault: the same files (a record
// shard and two log segments, 2 KiB each, about a sealed file's size, and the
// manifest) created and written at once, then each file and both directories
// fsynced at once, the manifest renamed over the old one and its directory
// fsynced (the commit point), the three staged files renamed into place.
// Beside BenchmarkCommitBatch3 it is how much of a commit is the disk: the
// floor of this layout (one file per change), which only fewer files per
// commit (a journal) would lower.
func BenchmarkCommitIOFloor(b *testing.B) {
	dir := b.TempDir()
	for _, d := range []string{recordDir, segmentDir} {
		must(b, os.Mkdir(filepath.Join(dir, d), 0o700))
	}
	data := bytes.Repeat([]byte("c"), 2048)
	names := []string{recordDir + "/r0", segmentDir + "/s0", segmentDir + "/s1"}
	for i := 0; b.Loop(); i++ {
		var wg sync.WaitGroup
		paths := make([]string, len(names)+1)
		files := make([]*os.File, len(paths))
		errs := make([]error, len(paths))
		for j, n := range names {
			d, name := filepath.Split(n)
			paths[j] = filepath.Join(dir, d, stageName(uint64(i+1), name))
		}
		paths[len(names)] = filepath.Join(dir, tmpPrefix+strconv.Itoa(i))
		for j := range paths {
			wg.Go(func() { files[j], errs[j] = writeUnsynced(paths[j], data, os.O_TRUNC) })
		}
		wg.Wait()
		must(b, errors.Join(errs...))
		for j, f := range files {
			wg.Go(func() {
				errs[j] = f.Sync()
				f.Close()
			})
		}
		var dirErrs [2]error
		for k, d := range []string{recordDir, segmentDir} {
			wg.Go(func() { dirErrs[k] = syncDir(filepath.Join(dir, d)) })
		}
		wg.Wait()
		must(b, errors.Join(append(errs, dirErrs[:]...)...))
		must(b, os.Rename(paths[len(names)], filepath.Join(dir, manifestName)))
		must(b, syncDir(dir))
		for j, n := range names {
			must(b, os.Rename(paths[j], filepath.Join(dir, n)))
		}
	}
}
