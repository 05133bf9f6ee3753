package threatmodel

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto/internal/e2e"
	"github.com/sottochat/sotto/onion"
)

// TestT34SeizedMailboxHoldsNothingOfItsUsers is issue 13's search of a
// mailbox (T34): alice writes to bob while he is away, so that her texts
// wait at bob's mailbox; then the memory of the running mailbox process and
// of its tor (read as root through /proc/PID/mem, as T22 reads a client's)
// and every file of the mailbox's profile are searched for what the mailbox
// must never hold: the texts, the petnames alice and bob gave each other,
// their identities' onion addresses (text and raw public key), their
// identity and client-auth keys in every form (keyNeedles) and their
// passphrases. None may be found. A control needle in this process's own
// memory shows the reader finds what is there.
func TestT34SeizedMailboxHoldsNothingOfItsUsers(t *testing.T) {
	needNetwork(t)
	t.Parallel()
	mbp := harness.NewProfile(t, "mbox")
	mbp.Must("mailbox", "init")
	mb := mbp.Command([]string{"mailbox", "serve"})
	mb.WaitFor(0, readyWithin, "the mailbox ready", e2e.Is(map[string]any{"event": "ready"}))
	alice, ac := newUser(t, "alice", false)
	bob, bc := newUser(t, "bob", false)
	// Petnames are words: letters and digits.
	petBob, petAlice := "pb"+randomText("x")[2:26], "pa"+randomText("x")[2:26]
	alice.Must("contact", "add", "alice", petBob, bc)
	bob.Must("contact", "add", "bob", petAlice, ac)
	na, nb := startReady(t, alice, []string{"alice"}), startReady(t, bob, []string{"bob"})
	e2e.DumpOnFailure(t, map[string]*e2e.Node{"alice": na, "bob": nb, "mailbox": mb})

	r := mb.Do(time.Minute, map[string]any{"cmd": "code"})
	r = nb.Do(deliverWithin, map[string]any{"cmd": "mailbox_pair", "identity": "bob", "code": r["code"]})
	if r["event"] != "ok" {
		t.Fatalf("mailbox_pair: %v", r)
	}
	deadline := time.Now().Add(deliverWithin)
	for {
		r := nb.Do(time.Minute, map[string]any{"cmd": "mailbox_status", "identity": "bob"})
		if r["mailbox"].(map[string]any)["confirmed"] == float64(1) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("alice never confirmed bob's mailbox")
		}
		time.Sleep(time.Second)
	}
	nb.Stop()
	var texts []string
	from := na.Mark()
	for i := range 3 {
		text := randomText(fmt.Sprintf("mailbox secret %d", i))
		texts = append(texts, text)
		r := na.Do(time.Minute, map[string]any{"cmd": "send", "identity": "alice", "contact": petBob, "text": text})
		na.WaitFor(from, deliverWithin, "queued", e2e.Is(map[string]any{"event": "queued", "message": r["message"]}))
	}
	na.Stop()
	st := mb.Do(time.Minute, map[string]any{"cmd": "status"})
	if st["for_owners"] == float64(0) {
		t.Fatalf("the mailbox holds %v, want alice's texts", st)
	}

	needles := map[string][]byte{
		"petname alice gave bob": []byte(petBob),
		"petname bob gave alice": []byte(petAlice),
		"alice's passphrase":     []byte(alice.Passphrase),
		"bob's passphrase":       []byte(bob.Passphrase),
	}
	for i, s := range texts {
		needles[fmt.Sprintf("text %d", i)] = []byte(s)
	}
	for who, p := range map[string]*e2e.Profile{"alice": alice, "bob": bob} {
		for _, id := range identityKeys(t, p) {
			pub := ed25519.NewKeyFromSeed(id.Seed).Public().(ed25519.PublicKey)
			addr := onion.AddressFromPublicKey(pub)
			needles[who+"'s onion address"] = []byte(addr)
			needles[who+"'s onion address, upper case"] = []byte(strings.ToUpper(addr))
			needles[who+"'s identity public key"] = pub
			for k, v := range keyNeedles(id) {
				needles[who+"'s "+k] = v
			}
		}
	}

	t.Run("memory", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("reading another process's memory needs root (the mailbox is not dumpable)")
		}
		// The reader finds what is there: a needle live in this process.
		control := []byte(randomText("control needle"))
		found, _, err := searchMemory(os.Getpid(), map[string][]byte{"control": control})
		runtime.KeepAlive(control)
		if err != nil || len(found["control"]) == 0 {
			t.Fatalf("the memory reader does not find a live needle in its own process (%v)", err)
		}
		pid := mb.PID(false)
		pids := map[string]int{"the mailbox": pid}
		// Its tor is a child of whichever of its threads started it.
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
		for _, task := range tasks {
			b, _ := os.ReadFile(task)
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					pids["its tor ("+f+")"] = c
				}
			}
		}
		if len(pids) < 2 {
			t.Fatalf("the mailbox %d has no tor child", pid)
		}
		for name, p := range pids {
			found, n, err := searchMemory(p, needles)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if n < 1<<20 {
				t.Fatalf("%s: read only %d bytes of memory", name, n)
			}
			for _, k := range sortedKeys(found) {
				if len(found[k]) > 0 {
					t.Errorf("%s's memory holds %s (%d times, first at %v)", name, k, len(found[k]), found[k][0].region)
				}
			}
			t.Logf("%s: %d MiB read, none of %d needles found", name, n>>20, len(needles))
		}
	})

	t.Run("disk", func(t *testing.T) {
		files, total := 0, 0
		err := filepath.WalkDir(mbp.Dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			total += len(b)
			for _, k := range sortedKeys(needles) {
				if bytes.Contains(b, needles[k]) {
					t.Errorf("%s holds %s", path, k)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if files == 0 {
			t.Fatal("the mailbox profile has no file")
		}
		t.Logf("%d files, %d bytes searched", files, total)
	})
}
