package vault

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
)

// segFiles lists the segment files of dir, by relative name.
func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, segmentDir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, segmentDir+"/"+e.Name())
	}
	return out
}

func flipByte(t testing.TB, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += len(b)
	}
	b[off] ^= 0x40
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// foreignAgeFile is a valid age file encrypted to some other key.
func foreignAgeFile(t testing.TB) []byte {
	id, _ := age.GenerateHybridIdentity()
	var buf bytes.Buffer
	w, _ := age.Encrypt(&buf, id.Recipient())
	w.Write(make([]byte, 4096))
	w.Close()
	return buf.Bytes()
}

var twoLogs struct {
	once sync.Once
	dir  string
	err  error
}

// fillTwoLogs returns a fresh copy of a closed vault with two logs: a
// (1500 entries, several segments) and b (10 entries), and a record.
func fillTwoLogs(t testing.TB) string {
	twoLogs.once.Do(func() {
		dir, err := os.MkdirTemp("", "vault-fixture-")
		if err != nil {
			twoLogs.err = err
			return
		}
		twoLogs.dir = filepath.Join(dir, "vault")
		p, _ := NewPassphrase([]byte("correct horse"))
		v, err := Create(twoLogs.dir, p, testOpts)
		if err != nil {
			twoLogs.err = err
			return
		}
		bulkFill(t, v, "a", 1500, func(i int) string { return fmt.Sprint(i) }, entryValue)
		for i := range 10 {
			v.Append("b", fmt.Sprint(i), entryValue(i))
		}
		twoLogs.err = v.Put("contact", "alice", []byte("card"))
		v.Close()
	})
	if twoLogs.err != nil {
		t.Fatal(twoLogs.err)
	}
	dst := filepath.Join(t.TempDir(), "vault")
	if err := os.CopyFS(dst, os.DirFS(twoLogs.dir)); err != nil {
		t.Fatal(err)
	}
	fixPerms(t, dst)
	return dst
}

// fixPerms sets the modes a vault has (CopyFS does not keep them).
func fixPerms(t testing.TB, dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.IsDir() {
			return os.Chmod(p, 0o700)
		}
		return os.Chmod(p, 0o600)
	})
}

func TestDamagedSegments(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"flipped-payload", func(t *testing.T, p string) { flipByte(t, p, -100) }},
		{"flipped-header", func(t *testing.T, p string) { flipByte(t, p, 40) }},
		{"truncated", func(t *testing.T, p string) {
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-17], 0o600)
		}},
		{"empty", func(t *testing.T, p string) { os.WriteFile(p, nil, 0o600) }},
		{"foreign", func(t *testing.T, p string) { os.WriteFile(p, foreignAgeFile(t), 0o600) }},
		{"garbage", func(t *testing.T, p string) { os.WriteFile(p, []byte("not an age file\n"), 0o600) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := fillTwoLogs(t)
			v, err := Open(dir, pass(t, "correct horse"), testOpts)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			full, _ := v.Entries("a")
			// Find the first segment of log a: damage it.
			st := v.logs["a"]
			rel := v.segPath(st, st.meta.Live[0])
			c.damage(t, filepath.Join(dir, rel))
			damaged, _ := os.ReadFile(filepath.Join(dir, rel))
			v.Close()
			v, err = Open(dir, pass(t, "correct horse"), testOpts)
			if err != nil {
				t.Fatalf("a damaged segment stops Open: %v", err)
			}
			defer v.Close()
			es, err := v.Entries("a")
			var fe *FileError
			if !errors.As(err, &fe) || fe.Name != rel || !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), rel) {
				t.Fatalf("Entries error %v does not name %s", err, rel)
			}
			if len(es) == 0 || len(es) >= len(full) || es[len(es)-1].ID != "1499" {
				t.Fatalf("the rest of the log is not readable: %d of %d entries", len(es), len(full))
			}
			if es, err := v.Entries("b"); err != nil || len(es) != 10 {
				t.Fatalf("the other log: %d, %v", len(es), err)
			}
			// Writes go on, and never overwrite the damaged file.
			if err := v.Append("a", "more", []byte("x")); err != nil {
				t.Fatal(err)
			}
			if _, err := v.Remove("a", "0", "1499"); !errors.Is(err, ErrDamaged) {
				t.Fatalf("Remove across a damaged segment: %v", err)
			}
			rep, err := Check(dir, pass(t, "correct horse"), testOpts)
			if err != nil || rep.OK() || len(rep.Damaged) != 1 || rep.Damaged[0].Name != rel {
				t.Fatalf("Check: %+v, %v", rep, err)
			}
			v.Close()
			if v, err = Open(dir, pass(t, "correct horse"), testOpts); err != nil {
				t.Fatal(err)
			}
			v.Close()
			now, _ := os.ReadFile(filepath.Join(dir, rel))
			if !bytes.Equal(now, damaged) {
				t.Fatal("the damaged file was overwritten")
			}
		})
	}
}

func TestDamagedShard(t *testing.T) {
	dir := fillTwoLogs(t)
	v, err := Open(dir, pass(t, "correct horse"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	s := v.shardOf[recKey{"contact", "alice"}]
	rel := v.shardPath(s)
	v.Close()
	flipByte(t, filepath.Join(dir, rel), -20)
	damaged, _ := os.ReadFile(filepath.Join(dir, rel))
	_, err = Open(dir, pass(t, "correct horse"), testOpts)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Name != rel {
		t.Fatalf("Open with a damaged shard: %v", err)
	}
	v, err = Open(dir, pass(t, "correct horse"), &Options{UnsafeWorkFactor: 10, AllowDamaged: true})
	if err != nil {
		t.Fatal(err)
	}
	if d := v.Damage(); len(d) != 1 || d[0].Name != rel {
		t.Fatalf("Damage() = %v", d)
	}
	if _, err := v.Get("contact", "alice"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if err := v.Put("contact", "alice", []byte("new")); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Put into a damaged shard: %v", err)
	}
	v.Close()
	now, _ := os.ReadFile(filepath.Join(dir, rel))
	if !bytes.Equal(now, damaged) {
		t.Fatal("the damaged shard was overwritten")
	}
	rep, err := Check(dir, pass(t, "correct horse"), testOpts)
	if err != nil || len(rep.Damaged) != 1 || rep.Damaged[0].Name != rel {
		t.Fatalf("Check: %+v %v", rep, err)
	}
}

func TestSwappedFiles(t *testing.T) {
	dir := fillTwoLogs(t)
	v, _ := Open(dir, pass(t, "correct horse"), testOpts)
	a, b := v.logs["a"], v.logs["b"]
	ra, rb := v.segPath(a, a.meta.Live[0]), v.segPath(b, b.meta.Live[0])
	v.Close()
	// Put log a's first segment in place of log b's.
	data, _ := os.ReadFile(filepath.Join(dir, ra))
	os.WriteFile(filepath.Join(dir, rb), data, 0o600)
	v, err := Open(dir, pass(t, "correct horse"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	_, err = v.Entries("b")
	var fe *FileError
	if !errors.As(err, &fe) || fe.Name != rb || !strings.Contains(err.Error(), "moved") {
		t.Fatalf("a segment moved to another log: %v", err)
	}
}

func TestDamagedKeyFile(t *testing.T) {
	v, dir := newVault(t)
	v.Close()
	kf := filepath.Join(dir, keyFileName)
	orig, _ := os.ReadFile(kf)
	for name, data := range map[string][]byte{
		"truncated": orig[:len(orig)-5],
		"foreign":   foreignAgeFile(t),
		"garbage":   []byte("hello"),
	} {
		os.WriteFile(kf, data, 0o600)
		_, err := Open(dir, pass(t, "correct horse"), testOpts)
		var fe *FileError
		if !errors.As(err, &fe) || fe.Name != keyFileName {
			t.Errorf("%s key file: %v", name, err)
		}
	}
	// A hostile work factor is refused before any work.
	os.WriteFile(kf, bytes.Replace(orig, []byte(" 10\n"), []byte(" 30\n"), 1), 0o600)
	if _, err := Open(dir, pass(t, "correct horse"), testOpts); !errors.Is(err, ErrWorkFactor) {
		t.Fatalf("work factor 30: %v", err)
	}
	os.WriteFile(kf, orig, 0o600)
	if _, err := Open(dir, pass(t, "correct horse"), &Options{MaxWorkFactor: 9}); !errors.Is(err, ErrWorkFactor) {
		t.Fatalf("work factor above MaxWorkFactor: %v", err)
	}
	v, err := Open(dir, pass(t, "correct horse"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
}

// TestAllowDamagedNeverOverwrites: with a log's metadata in a damaged shard,
// appending to that log must not write over its segments.
func TestAllowDamagedNeverOverwrites(t *testing.T) {
	dir := fillTwoLogs(t)
	v, err := Open(dir, pass(t, "correct horse"), testOpts)
	must(t, err)
	s := v.shardOf[recKey{metaKind, "b"}]
	rel := v.shardPath(s)
	st := v.logs["b"]
	seg0 := filepath.Join(dir, v.segPath(st, st.meta.Live[0]))
	v.Close()
	flipByte(t, filepath.Join(dir, rel), -20)
	before, _ := os.ReadFile(seg0)
	v, err = Open(dir, pass(t, "correct horse"), &Options{UnsafeWorkFactor: 10, AllowDamaged: true})
	must(t, err)
	defer v.Close()
	if err := v.Append("b", "new", []byte("x")); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Append to a log whose metadata is damaged: %v", err)
	}
	after, _ := os.ReadFile(seg0)
	if !bytes.Equal(before, after) {
		t.Fatal("a segment was overwritten")
	}
}
