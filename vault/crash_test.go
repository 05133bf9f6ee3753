package vault

import (
	"bufio"
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var crashIters = flag.Int("vault.crash", 200, "iterations of the SIGKILL crash test")

// TestCrashKill kills a writer process with SIGKILL at random instants, again
// and again, and checks after each kill that the vault opens and holds every
// write the writer saw acknowledged (and none of the removals it saw
// acknowledged come back).
func TestCrashKill(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d, %d iterations", seed, *crashIters)
	v, dir := newVault(t)
	v.Close()
	exe, _ := os.Executable()
	acked := map[int]bool{}   // appended and acknowledged
	removed := map[int]bool{} // removal acknowledged
	counter := -1             // last acknowledged Put of the counter
	next := 0
	killedBeforeReady := 0
	var shardCopies map[string][]byte
	var copyVersions map[string]uint64
	rollbacks, crashWindow := 0, 0
	for iter := range *crashIters {
		cmd := child(t, exe, "TestCrashChild", "VAULT_CHILD=crash", "VAULT_DIR="+dir, "VAULT_START="+strconv.Itoa(next))
		out, err := cmd.StdoutPipe()
		must(t, err)
		cmd.Stderr = cmd.Stdout
		must(t, cmd.Start())
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		var log []string
		var pending [2]int // a removal started, not acknowledged: [from, to)
		handle := func(l string) {
			log = append(log, l)
			f := strings.Fields(l)
			if len(f) < 2 {
				return
			}
			n, err := strconv.Atoi(f[1])
			if err != nil {
				return
			}
			switch f[0] {
			case "ACK":
				acked[n] = true
			case "RMSTART":
				pending = [2]int{n, n + 1}
				if len(f) == 3 {
					m, _ := strconv.Atoi(f[2])
					pending[1] = m + 1
				}
			case "RM":
				for k := pending[0]; k < pending[1]; k++ {
					removed[k] = true
				}
				pending = [2]int{}
			case "PUT":
				counter = max(counter, n)
			}
		}
		// Kill during Open's recovery now and then, else soon after it.
		early := rng.IntN(5) == 0
		delay := time.Duration(rng.IntN(40000)) * time.Microsecond
		timer := time.NewTimer(delay)
		if !early {
			timer.Stop()
		wait:
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						break wait
					}
					handle(l)
					if l == "READY" {
						timer.Reset(delay)
						break wait
					}
				case <-time.After(30 * time.Second):
					t.Fatal("child never became ready")
				}
			}
		}
		killed := false
	run:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break run
				}
				handle(l)
			case <-timer.C:
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		timer.Stop()
		err = cmd.Wait()
		if !killed || !strings.Contains(fmt.Sprint(err), "killed") {
			t.Fatalf("iteration %d: child ended on its own (%v):\n%s", iter, err, strings.Join(log, "\n"))
		}
		if early && !contains(log, "READY") {
			killedBeforeReady++
		}
		// The vault must open and hold every acknowledged write.
		v, err := Open(dir, pass(t, "correct horse"), testOpts)
		if err != nil {
			t.Fatalf("iteration %d: Open after SIGKILL: %v", iter, err)
		}
		es, err := v.Entries("conv")
		if err != nil {
			t.Fatalf("iteration %d: Entries: %v", iter, err)
		}
		have := map[int]bool{}
		last := -1
		for _, e := range es {
			n, _ := strconv.Atoi(e.ID)
			if n <= last {
				t.Fatalf("iteration %d: entries out of order or repeated: %d after %d", iter, n, last)
			}
			last = n
			have[n] = true
			if !bytes.Equal(e.Value, crashValue(n)) {
				t.Fatalf("iteration %d: entry %d garbled", iter, n)
			}
		}
		for n := range acked {
			// Killed inside a Remove, its entries may be gone without an
			// acknowledgement, legitimately.
			inFlight := n >= pending[0] && n < pending[1]
			if !removed[n] && !have[n] && !inFlight {
				t.Fatalf("iteration %d: acknowledged entry %d lost", iter, n)
			}
		}
		for n := pending[0]; n < pending[1]; n++ {
			if !have[n] {
				removed[n] = true // the interrupted Remove took effect
			}
		}
		for n := range removed {
			if have[n] {
				t.Fatalf("iteration %d: acknowledged removal of %d undone", iter, n)
			}
		}
		got, err := v.Get("state", "counter")
		if counter >= 0 {
			if c, _ := strconv.Atoi(string(got)); err != nil || c < counter {
				t.Fatalf("iteration %d: counter %q (%v), acknowledged %d", iter, got, err, counter)
			}
		}
		if iter%50 == 49 {
			v.Close()
			rep, err := Check(dir, pass(t, "correct horse"), testOpts)
			if err != nil || !rep.OK() || len(rep.Stray) > 0 {
				t.Fatalf("iteration %d: Check: %+v %v", iter, rep, err)
			}
		}
		// The write counters Open found, and what the manifest on disk says.
		found, manifest := maps.Clone(v.ver), maps.Clone(v.man)
		v.Close()
		next = max(next, last+1)
		for n := range acked {
			next = max(next, n+1)
		}
		// Now and then, put back an older copy of a shard that changed
		// since (a rollback, not a crash): Open must refuse it, naming it,
		// unless the manifest never saw the newer write (the writer was
		// killed between the shard and the manifest): that state is what a
		// crash leaves, and the older copy is then accepted.
		switch iter % 20 {
		case 0:
			shardCopies, copyVersions = readShards(t, dir), found
		case 5:
			// A write of the parent's own, cleanly finished, so that a
			// shard has changed by case 10 however far the writer got.
			w, err := Open(dir, pass(t, "correct horse"), testOpts)
			must(t, err)
			must(t, w.Put("state", "parent", []byte(strconv.Itoa(iter))))
			must(t, w.Close())
		case 10:
			changed := changedShards(t, dir, shardCopies)
			slices.SortFunc(changed, func(a, b string) int { // a detectable one first
				return cmp.Compare(copyVersions[a]-manifest[a], copyVersions[b]-manifest[b])
			})
			if len(changed) > 0 {
				rel := changed[0]
				old, cur := shardCopies[rel], readFile(t, dir, rel)
				writeFile(t, dir, rel, old)
				if copyVersions[rel] < manifest[rel] {
					// Open fails on the shards, before it changes anything.
					_, err := Open(dir, pass(t, "correct horse"), testOpts)
					wantRolledBack(t, err, rel)
					rollbacks++
				} else {
					// Check, which writes nothing: an Open would recover
					// the log metadata of the older copy (and sweep the
					// segments only the newer one lists).
					rep, err := Check(dir, pass(t, "correct horse"), testOpts)
					if err != nil || !rep.OK() {
						t.Fatalf("iteration %d: %s put back at write %d, the manifest's %d (a crash's state): %+v %v",
							iter, rel, copyVersions[rel], manifest[rel], rep, err)
					}
					crashWindow++
				}
				writeFile(t, dir, rel, cur)
			}
		}
	}
	v, err := Open(dir, pass(t, "correct horse"), testOpts)
	must(t, err)
	es, _ := v.Entries("conv")
	t.Logf("%d entries acknowledged, %d removed, %d kills before the writer was ready; %d entries left in %d segments; "+
		"%d rollbacks refused, %d older copies accepted as a crash's state",
		len(acked), len(removed), killedBeforeReady, len(es), len(v.logs["conv"].meta.Live), rollbacks, crashWindow)
	v.Close()
	if *crashIters >= 40 && rollbacks == 0 {
		t.Error("no shard changed between a copy and its rollback: the rollback check never ran")
	}
}

// readShards copies every record shard file of the vault in dir.
func readShards(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	ents, err := os.ReadDir(filepath.Join(dir, recordDir))
	must(t, err)
	for _, e := range ents {
		rel := recordDir + "/" + e.Name()
		out[rel] = readFile(t, dir, rel)
	}
	return out
}

// changedShards returns the shards whose content differs from their copy
// in old.
func changedShards(t *testing.T, dir string, old map[string][]byte) []string {
	t.Helper()
	var out []string
	for rel, cur := range readShards(t, dir) {
		if o, ok := old[rel]; ok && !bytes.Equal(o, cur) {
			out = append(out, rel)
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// crashValue is entry n's value: 1 to 3 KiB, so that segments fill and new
// ones start often.
func crashValue(n int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("<%d>", n)), 1024/8+n%300)
}

// TestCrashChild is the writer TestCrashKill kills.
func TestCrashChild(t *testing.T) {
	if os.Getenv("VAULT_CHILD") != "crash" {
		t.Skip("runs as the child of TestCrashKill")
	}
	start, _ := strconv.Atoi(os.Getenv("VAULT_START"))
	v, err := Open(os.Getenv("VAULT_DIR"), pass(t, "correct horse"), testOpts)
	if err != nil {
		fmt.Println("OPEN-FAILED", err)
		t.Fatal(err)
	}
	fmt.Println("READY")
	for i := start; ; i++ {
		must(t, v.Append("conv", strconv.Itoa(i), crashValue(i)))
		fmt.Println("ACK", i)
		switch {
		case i%10 == 9:
			// A run of removals, 8 of every 10 entries: segments shrink
			// below a quarter and merge.
			var ids []string
			for k := i - 9; k <= i-2; k++ {
				ids = append(ids, strconv.Itoa(k))
			}
			fmt.Println("RMSTART", i-9, i-2)
			if _, err := v.Remove("conv", ids...); err != nil {
				t.Fatal(err)
			}
			fmt.Println("RM", i-9, i-2)
		case i%3 == 0:
			must(t, v.Put("state", "counter", []byte(strconv.Itoa(i))))
			fmt.Println("PUT", i)
		case i%5 == 1 && i >= 4:
			fmt.Println("RMSTART", i-4)
			if _, err := v.Remove("conv", strconv.Itoa(i-4)); err != nil {
				t.Fatal(err)
			}
			fmt.Println("RM", i-4)
		case i%11 == 2:
			must(t, v.Append("side", strconv.Itoa(i), crashValue(i)))
			must(t, v.DropLog("side"))
		}
	}
}
