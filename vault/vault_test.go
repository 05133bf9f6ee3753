package vault

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testOpts keeps the KDF cheap in tests.
var testOpts = &Options{UnsafeWorkFactor: 10}

func pass(t testing.TB, s string) *Passphrase {
	t.Helper()
	p, err := NewPassphrase([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newVault(t testing.TB) (*Vault, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "vault")
	v, err := Create(dir, pass(t, "correct horse"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v, dir
}

func reopen(t testing.TB, v *Vault) *Vault {
	t.Helper()
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	w, err := Open(v.Dir(), pass(t, "correct horse"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// snapshot maps every path under dir to a digest of its mode and content.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h := fmt.Sprintf("%v %d", fi.Mode(), fi.ModTime().UnixNano())
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		out[p] = h
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRecords(t *testing.T) {
	v, _ := newVault(t)
	if err := v.Put("contact", "alice", []byte("alice's card")); err != nil {
		t.Fatal(err)
	}
	if err := v.Put("contact", "bob", []byte("bob's card")); err != nil {
		t.Fatal(err)
	}
	if err := v.Put("settings", "", nil); err != nil {
		t.Fatal(err)
	}
	if err := v.Put("contact", "alice", []byte("alice v2")); err != nil {
		t.Fatal(err)
	}
	v = reopen(t, v)
	got, err := v.Get("contact", "alice")
	if err != nil || string(got) != "alice v2" {
		t.Fatalf("Get alice = %q, %v", got, err)
	}
	if got, err := v.Get("settings", ""); err != nil || len(got) != 0 {
		t.Fatalf("Get settings = %q, %v", got, err)
	}
	keys, _ := v.Keys("contact")
	if !slices.Equal(keys, []string{"alice", "bob"}) {
		t.Fatalf("Keys = %q", keys)
	}
	if err := v.Delete("contact", "alice"); err != nil {
		t.Fatal(err)
	}
	v = reopen(t, v)
	if _, err := v.Get("contact", "alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted record: %v", err)
	}
	if keys, _ := v.Keys("contact"); !slices.Equal(keys, []string{"bob"}) {
		t.Fatalf("Keys after delete = %q", keys)
	}
	if err := v.Put("\x00log", "x", nil); err == nil {
		t.Fatal("a reserved kind was accepted")
	}
	if err := v.Put("", "x", nil); err == nil {
		t.Fatal("an empty kind was accepted")
	}
	if err := v.Put("k", "x", make([]byte, 1<<20+1)); err == nil {
		t.Fatal("an oversized value was accepted")
	}
	if keys, _ := v.Keys("\x00log"); len(keys) != 0 {
		t.Fatal("the reserved kind is listed")
	}
}

func TestWrongPassphraseWritesNothing(t *testing.T) {
	v, dir := newVault(t)
	v.Put("contact", "alice", []byte("x"))
	v.Append("log", "1", []byte("hello"))
	v.Close()
	before := snapshot(t, dir)
	_, err := Open(dir, pass(t, "wrong horse"), testOpts)
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("Open with a wrong passphrase: %v", err)
	}
	if err.Error() != "vault: wrong passphrase" {
		t.Fatalf("message %q", err)
	}
	if _, err := Check(dir, pass(t, "wrong horse"), testOpts); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("Check with a wrong passphrase: %v", err)
	}
	after := snapshot(t, dir)
	if !maps2Equal(before, after) {
		t.Fatalf("a wrong passphrase changed the vault:\n%v\n%v", before, after)
	}
}

func maps2Equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		if b[k] != x {
			return false
		}
	}
	return true
}

// TestLockSharedWithAChild: a child process started while the vault was
// open holds a copy of its lock (as every child does between its fork and
// its exec; here for 200 ms, passed on purpose). Once the vault is closed,
// Open waits for the copy to go instead of calling the vault in use.
func TestLockSharedWithAChild(t *testing.T) {
	v, dir := newVault(t)
	cmd := exec.Command("sleep", "0.2")
	cmd.ExtraFiles = []*os.File{v.lock}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	defer cmd.Wait()
	v.Close()
	w, err := Open(dir, pass(t, "correct horse"), testOpts)
	if err != nil {
		t.Fatalf("Open while a child still held the closed vault's lock: %v", err)
	}
	w.Close()
}

func TestLocked(t *testing.T) {
	v, dir := newVault(t)
	_, err := Open(dir, pass(t, "correct horse"), testOpts)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "in use by another") {
		t.Fatalf("second Open: %v", err)
	}
	v.Close()
	w, err := Open(dir, pass(t, "correct horse"), testOpts)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	w.Close()
}

func TestCreateRefusesNonEmpty(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x"), nil, 0o600)
	os.Chmod(dir, 0o700)
	if _, err := Create(dir, pass(t, "p"), testOpts); !errors.Is(err, ErrExists) {
		t.Fatalf("Create in a non-empty dir: %v", err)
	}
	if _, err := Open(t.TempDir(), pass(t, "p"), testOpts); !errors.Is(err, ErrNoVault) {
		t.Fatalf("Open of an empty dir: %v", err)
	}
}

func entryValue(i int) []byte {
	return []byte(fmt.Sprintf("message number %06d: %s", i, strings.Repeat("x", i%200)))
}

// bigValue is 300 to 800 bytes, so that a few hundred entries fill segments.
func bigValue(i int) []byte {
	return []byte(fmt.Sprintf("message number %06d: %s", i, strings.Repeat("x", 300+i*7%500)))
}

func TestLog(t *testing.T) {
	t.Parallel()
	v, dir := newVault(t)
	const n = 600
	for i := range n {
		if err := v.Append("conv", fmt.Sprint(i), bigValue(i)); err != nil {
			t.Fatal(err)
		}
	}
	v.Append("other", "a", []byte("other log"))
	segs, _ := os.ReadDir(filepath.Join(dir, segmentDir))
	if len(segs) < 3 {
		t.Fatalf("%d segment files for %d entries", len(segs), n)
	}
	v = reopen(t, v)
	es, err := v.Entries("conv")
	if err != nil || len(es) != n {
		t.Fatalf("Entries: %d, %v", len(es), err)
	}
	for i, e := range es {
		if e.ID != fmt.Sprint(i) || !bytes.Equal(e.Value, bigValue(i)) {
			t.Fatalf("entry %d = %q", i, e.ID)
		}
	}
	last, err := v.Last("conv", 5)
	if err != nil || len(last) != 5 || last[4].ID != fmt.Sprint(n-1) || last[0].ID != fmt.Sprint(n-5) {
		t.Fatalf("Last: %v %v", last, err)
	}
	if logs, _ := v.Logs(); !slices.Equal(logs, []string{"conv", "other"}) {
		t.Fatalf("Logs = %q", logs)
	}
	// Remove the whole first segment's worth and a few others.
	var ids []string
	for i := range 200 {
		ids = append(ids, fmt.Sprint(i))
	}
	ids = append(ids, "300", "599", "nonexistent")
	got, err := v.Remove("conv", ids...)
	if err != nil || got != 202 {
		t.Fatalf("Remove = %d, %v", got, err)
	}
	segs2, _ := os.ReadDir(filepath.Join(dir, segmentDir))
	if len(segs2) >= len(segs) {
		t.Fatalf("emptied segments not deleted: %d -> %d files", len(segs), len(segs2))
	}
	if err := v.Append("conv", "new", []byte("after remove")); err != nil {
		t.Fatal(err)
	}
	v = reopen(t, v)
	es, err = v.Entries("conv")
	if err != nil || len(es) != n-202+1 {
		t.Fatalf("Entries after Remove: %d, %v", len(es), err)
	}
	for _, e := range es {
		if e.ID == "300" || e.ID == "599" || e.ID == "0" {
			t.Fatalf("removed entry %s still there", e.ID)
		}
	}
	if es[len(es)-1].ID != "new" || es[0].ID != "200" {
		t.Fatalf("order after remove: first %s last %s", es[0].ID, es[len(es)-1].ID)
	}
	if err := v.DropLog("conv"); err != nil {
		t.Fatal(err)
	}
	segs3, _ := os.ReadDir(filepath.Join(dir, segmentDir))
	if len(segs3) != 1 {
		t.Fatalf("%d segment files after DropLog (want only other's)", len(segs3))
	}
	v = reopen(t, v)
	if es, _ := v.Entries("conv"); len(es) != 0 {
		t.Fatal("dropped log still has entries")
	}
	if es, _ := v.Entries("other"); len(es) != 1 {
		t.Fatal("the other log was hurt")
	}
	if err := v.Append("conv", "again", []byte("x")); err != nil {
		t.Fatal(err)
	}
}

func TestPermissions(t *testing.T) {
	v, dir := newVault(t)
	v.Append("log", "1", []byte("x"))
	v.Close()
	os.Chmod(dir, 0o755)
	_, err := Open(dir, pass(t, "correct horse"), testOpts)
	var pe *PermissionError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "chmod 700 "+dir) {
		t.Fatalf("group-readable dir: %v", err)
	}
	os.Chmod(dir, 0o700)
	segs, _ := os.ReadDir(filepath.Join(dir, segmentDir))
	p := filepath.Join(dir, segmentDir, segs[0].Name())
	os.Chmod(p, 0o644)
	_, err = Open(dir, pass(t, "correct horse"), testOpts)
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "chmod 600 "+p) {
		t.Fatalf("world-readable file: %v", err)
	}
	os.Chmod(p, 0o600)
	w, err := Open(dir, pass(t, "correct horse"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	// What Create makes.
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		fi, _ := d.Info()
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v", p, fi.Mode().Perm())
		}
		return nil
	})
}

func TestChangePassphrase(t *testing.T) {
	v, dir := newVault(t)
	v.Put("k", "k", []byte("v"))
	if err := v.ChangePassphrase(pass(t, "not it"), pass(t, "new one")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("ChangePassphrase with a wrong old passphrase: %v", err)
	}
	if err := v.ChangePassphrase(pass(t, "correct horse"), pass(t, "new one")); err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyPassphrase(pass(t, "new one")); err != nil {
		t.Fatal(err)
	}
	v.Close()
	if _, err := Open(dir, pass(t, "correct horse"), testOpts); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("old passphrase after change: %v", err)
	}
	w, err := Open(dir, pass(t, "new one"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got, _ := w.Get("k", "k"); string(got) != "v" {
		t.Fatal("record lost by ChangePassphrase")
	}
}

func TestPanic(t *testing.T) {
	v, dir := newVault(t)
	v.Append("log", "1", []byte("x"))
	// Panic works while the vault is open, without the passphrase.
	if err := Panic(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("vault dir still there: %v", err)
	}
	v.Close()
	if err := Panic(dir); err != nil {
		t.Fatalf("Panic of a missing vault: %v", err)
	}
}

func TestRemoveRepeatedID(t *testing.T) {
	v, _ := newVault(t)
	// The same ID in three segments, and twice in the last.
	for i := range 400 {
		id := fmt.Sprint(i)
		if i%150 == 0 {
			id = "dup"
		}
		must(t, v.Append("conv", id, bigValue(i)))
	}
	must(t, v.Append("conv", "dup", []byte("last")))
	if n := len(v.logs["conv"].meta.Live); n < 3 {
		t.Fatalf("only %d segments", n)
	}
	check := func(want int) {
		t.Helper()
		n, err := v.Remove("conv", "dup")
		if err != nil || n != want {
			t.Fatalf("Remove dup: %d (want %d) %v", n, want, err)
		}
		es, _ := v.Entries("conv")
		for _, e := range es {
			if e.ID == "dup" {
				t.Fatal("a repeated ID survived Remove")
			}
		}
	}
	v = reopen(t, v)
	check(4) // index built by Remove
	v = reopen(t, v)
	v.Entries("conv") // index built by Entries, then kept up by Append
	must(t, v.Append("conv", "dup", []byte("again")))
	for i := range 200 {
		must(t, v.Append("conv", fmt.Sprint("more", i), bigValue(i)))
	}
	must(t, v.Append("conv", "dup", []byte("and again")))
	check(2)
}
