package vault

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/sottochat/sotto/vault/format"
)

// Rollback: someone who can write to the vault directory puts an older copy
// of one file back in place. Each test fails on 4749c9d, where the vault
// accepted it (SECURITY.md listed it as undetected).

// readFile and writeFile copy vault files as an attacker with the disk does.
func readFile(t *testing.T, dir, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, rel))
	must(t, err)
	return b
}

func writeFile(t *testing.T, dir, rel string, b []byte) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(dir, rel), b, 0o600))
}

// wantRolledBack checks that err reports file rel as rolled back, by name.
func wantRolledBack(t *testing.T, err error, rel string) {
	t.Helper()
	var fe *FileError
	if !errors.Is(err, ErrRolledBack) || !errors.As(err, &fe) || fe.Name != rel {
		t.Fatalf("got %v, want a FileError naming %s that wraps ErrRolledBack", err, rel)
	}
	if !strings.Contains(err.Error(), rel) || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("the message %q does not name %s or say it was rolled back", err, rel)
	}
}

func TestRollbackOfARecordShard(t *testing.T) {
	v, dir := newVault(t)
	must(t, v.Put("contact", "alice", []byte("key 1")))
	rel := v.shardPath(v.shardOf[recKey{"contact", "alice"}])
	old := readFile(t, dir, rel)
	must(t, v.Put("contact", "alice", []byte("key 2 (the current one)")))
	cur := readFile(t, dir, rel)
	v.Close()

	writeFile(t, dir, rel, old)
	_, err := Open(dir, pass(t, "correct horse"), testOpts)
	wantRolledBack(t, err, rel)
	rep, err := Check(dir, pass(t, "correct horse"), testOpts)
	must(t, err)
	if rep.OK() || len(rep.Damaged) != 1 || rep.Damaged[0].Name != rel || !errors.Is(rep.Damaged[0], ErrRolledBack) {
		t.Fatalf("Check: %+v", rep.Damaged)
	}

	// The current copy back: all is well again.
	writeFile(t, dir, rel, cur)
	w, err := Open(dir, pass(t, "correct horse"), testOpts)
	must(t, err)
	defer w.Close()
	if b, err := w.Get("contact", "alice"); err != nil || string(b) != "key 2 (the current one)" {
		t.Fatalf("Get: %q %v", b, err)
	}
}

func TestRollbackOfALogSegment(t *testing.T) {
	v, dir := newVault(t)
	must(t, v.Append("conv", "m1", []byte("first")))
	st := v.logs["conv"]
	rel := v.segPath(st, st.meta.Live[0])
	old := readFile(t, dir, rel)
	must(t, v.Append("conv", "m2", []byte("second: lost if the rollback went unnoticed")))
	v.Close()

	writeFile(t, dir, rel, old)
	w, err := Open(dir, pass(t, "correct horse"), testOpts)
	must(t, err) // segments are read when needed
	defer w.Close()
	_, err = w.Entries("conv")
	wantRolledBack(t, err, rel)
	_, err = w.Last("conv", 1)
	wantRolledBack(t, err, rel)
	// Appending after it would bury the rollback: refused too.
	wantRolledBack(t, w.Append("conv", "m3", []byte("third")), rel)
}

// TestRollbackOfAnEarlierSegment rolls back a segment that is not the last
// one (a Remove rewrote it).
func TestRollbackOfAnEarlierSegment(t *testing.T) {
	v, dir := newVault(t)
	segs := fiveSegments(t, v)
	st := v.logs["conv"]
	rel := v.segPath(st, st.meta.Live[1])
	old := readFile(t, dir, rel)
	_, err := v.Remove("conv", segs[1][0])
	must(t, err)
	v.Close()
	writeFile(t, dir, rel, old)
	w, err := Open(dir, pass(t, "correct horse"), testOpts)
	must(t, err)
	defer w.Close()
	_, err = w.Entries("conv")
	wantRolledBack(t, err, rel)
	_, err = w.Remove("conv", segs[1][1])
	wantRolledBack(t, err, rel)
}

func TestManifestDeletedOrRolledBack(t *testing.T) {
	v, dir := newVault(t)
	must(t, v.Put("contact", "alice", []byte("1")))
	manOld := readFile(t, dir, manifestName)
	for i := range 3 {
		must(t, v.Put("contact", "alice", []byte{byte('2' + i)}))
	}
	manCur := readFile(t, dir, manifestName)
	v.Close()

	must(t, os.Remove(filepath.Join(dir, manifestName)))
	_, err := Open(dir, pass(t, "correct horse"), testOpts)
	wantRolledBack(t, err, manifestName)

	// Three writes of alice's shard behind: more than a crash can leave.
	writeFile(t, dir, manifestName, manOld)
	_, err = Open(dir, pass(t, "correct horse"), testOpts)
	wantRolledBack(t, err, manifestName)

	writeFile(t, dir, manifestName, manCur)
	w, err := Open(dir, pass(t, "correct horse"), testOpts)
	must(t, err)
	w.Close()
}

// TestManifestOneWriteBehind is what a crash between a file and the
// manifest leaves: the file one write ahead. It opens, and the next write
// brings the manifest up to date.
func TestManifestOneWriteBehind(t *testing.T) {
	v, dir := newVault(t)
	must(t, v.Put("contact", "alice", []byte("1")))
	must(t, v.Append("conv", "m1", []byte("a")))
	manOld := readFile(t, dir, manifestName)
	must(t, v.Append("conv", "m2", []byte("b")))
	v.Close()
	writeFile(t, dir, manifestName, manOld)
	w, err := Open(dir, pass(t, "correct horse"), testOpts)
	must(t, err)
	es, err := w.Entries("conv")
	if err != nil || len(es) != 2 {
		t.Fatalf("Entries: %d %v", len(es), err)
	}
	must(t, w.Append("conv", "m3", []byte("c")))
	w.Close()
	w, err = Open(dir, pass(t, "correct horse"), testOpts)
	must(t, err)
	defer w.Close()
	if es, err := w.Entries("conv"); err != nil || len(es) != 3 {
		t.Fatalf("Entries after: %d %v", len(es), err)
	}
}

// TestWholeVaultRollbackIsNotDetected documents the limit (SECURITY.md):
// the whole directory put back as it was is a consistent older vault.
func TestWholeVaultRollbackIsNotDetected(t *testing.T) {
	v, dir := newVault(t)
	must(t, v.Put("contact", "alice", []byte("old")))
	v.Close()
	before := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			before[p] = b
		}
		return nil
	})
	w, err := Open(dir, pass(t, "correct horse"), testOpts)
	must(t, err)
	must(t, w.Put("contact", "alice", []byte("new")))
	w.Close()
	for p, b := range before {
		must(t, os.WriteFile(p, b, 0o600))
	}
	w, err = Open(dir, pass(t, "correct horse"), testOpts)
	must(t, err)
	defer w.Close()
	if b, _ := w.Get("contact", "alice"); string(b) != "old" {
		t.Fatalf("got %q", b)
	}
}

// legacyVault rewrites every shard of a fresh vault in the encoding of
// vaults written before manifests (no write counter) and deletes the
// manifest: a vault as an older Sotto left it.
func legacyVault(t *testing.T) string {
	v, dir := newVault(t)
	must(t, v.Put("contact", "alice", []byte("from before manifests")))
	must(t, v.key.withIdentity(func(id age.Identity, _ []byte) error {
		for i := range NumShards {
			sh, err := v.readShard(id, i)
			must(t, err)
			sh.Legacy, sh.Version = true, 0
			plain, err := sh.Marshal()
			must(t, err)
			ct, err := v.seal(plain)
			must(t, err)
			must(t, writeAtomic(filepath.Join(dir, recordDir), v.shardNames[i], ct))
		}
		return nil
	}))
	v.Close()
	must(t, os.Remove(filepath.Join(dir, manifestName)))
	return dir
}

func TestLegacyVaultGetsAManifest(t *testing.T) {
	dir := legacyVault(t)
	v, err := Open(dir, pass(t, "correct horse"), testOpts)
	must(t, err)
	if b, err := v.Get("contact", "alice"); err != nil || string(b) != "from before manifests" {
		t.Fatalf("Get: %q %v", b, err)
	}
	rel := v.shardPath(v.shardOf[recKey{"contact", "alice"}])
	old := readFile(t, dir, rel)
	must(t, v.Put("contact", "alice", []byte("after")))
	v.Close()
	if _, err := os.Stat(filepath.Join(dir, manifestName)); err != nil {
		t.Fatalf("no manifest after the first write: %v", err)
	}
	// From now on the legacy copy is a rollback.
	writeFile(t, dir, rel, old)
	_, err = Open(dir, pass(t, "correct horse"), testOpts)
	wantRolledBack(t, err, rel)
}

// TestManifestFormat: shards and segments carry their counter; a version 1
// encoding still parses and marshals back to the same bytes.
func TestManifestFormat(t *testing.T) {
	m := format.ManifestOf(map[string]uint64{"s/b": 2, "r/a": 7})
	b, err := m.Marshal()
	must(t, err)
	back, err := format.ParseManifest(b)
	must(t, err)
	if len(back.Files) != 2 || back.Files[0] != (format.FileVersion{Name: "r/a", Version: 7}) {
		t.Fatalf("%+v", back)
	}
	for _, legacy := range []bool{false, true} {
		ver := uint64(9)
		if legacy {
			ver = 0
		}
		sh := &format.Shard{Index: 3, Version: ver, Legacy: legacy, Records: []format.Record{{Kind: "k", Key: "a", Value: []byte("v")}}}
		b, err := sh.Marshal()
		must(t, err)
		got, err := format.ParseShard(b)
		must(t, err)
		if got.Legacy != legacy || got.Version != ver {
			t.Fatalf("shard legacy %v: %+v", legacy, got)
		}
		seg := &format.Segment{Log: "l", Seq: 1, Version: ver, Legacy: legacy}
		b, err = seg.Marshal()
		must(t, err)
		gs, err := format.ParseSegment(b)
		must(t, err)
		if gs.Legacy != legacy || gs.Version != ver {
			t.Fatalf("segment legacy %v: %+v", legacy, gs)
		}
	}
}
