package vaultfuzz

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sottochat/sotto/fuzz/fuzzcheck"
	"github.com/sottochat/sotto/vault"
	"github.com/sottochat/sotto/vault/format"
)

func mustMarshal(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// checkMalformed fails unless err is nil or wraps format.ErrMalformed.
func checkMalformed(t *testing.T, err error) {
	if err != nil && !errors.Is(err, format.ErrMalformed) {
		t.Fatalf("error of the wrong type: %v", err)
	}
}

func FuzzShard(f *testing.F) {
	seeds := []*format.Shard{
		{Index: 0},
		{Index: 3, Records: []format.Record{{Kind: "contact", Key: "alice", Value: []byte("card")}, {Kind: "contact", Key: "bob", Value: nil}, {Kind: "x", Key: "", Value: bytes.Repeat([]byte("v"), 3000)}}},
	}
	for _, s := range seeds {
		f.Add(mustMarshal(s.Marshal()))
	}
	f.Add([]byte("SVR1\x00\x00\x00\x00"))
	// Version 1 shards (written before write counters) still parse.
	legacy := &format.Shard{Index: 5, Legacy: true, Records: []format.Record{{Kind: "k", Key: "v1", Value: []byte("old")}}}
	f.Add(mustMarshal(legacy.Marshal()))
	fuzzcheck.RequireSeeds(f, len(seeds)+2)
	f.Fuzz(func(t *testing.T, b []byte) {
		sh, err := format.ParseShard(b)
		checkMalformed(t, err)
		if err != nil {
			return
		}
		out, err := sh.Marshal()
		if err != nil {
			t.Fatalf("a parsed shard does not marshal: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("parse then marshal changed the bytes")
		}
	})
}

func FuzzSegment(f *testing.F) {
	seeds := []*format.Segment{
		{Log: "l", Seq: 0},
		{Log: "conversation", Seq: 7, Version: 12, Entries: []format.Entry{{ID: "m1", Value: []byte("hello")}, {ID: "m2", Value: nil}, {ID: "m1", Value: bytes.Repeat([]byte("z"), 5000)}}},
		{Log: "old", Seq: 2, Legacy: true, Entries: []format.Entry{{ID: "m", Value: []byte("v1")}}},
	}
	for _, s := range seeds {
		f.Add(mustMarshal(s.Marshal()))
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, b []byte) {
		seg, err := format.ParseSegment(b)
		checkMalformed(t, err)
		if err != nil {
			return
		}
		out, err := seg.Marshal()
		if err != nil {
			t.Fatalf("a parsed segment does not marshal: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("parse then marshal changed the bytes")
		}
	})
}

func FuzzManifest(f *testing.F) {
	seeds := []*format.Manifest{
		{},
		format.ManifestOf(map[string]uint64{"r/0a1b": 1, "r/ffee": 7, "s/9c": 1 << 40}),
	}
	for _, s := range seeds {
		f.Add(mustMarshal(s.Marshal()))
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := format.ParseManifest(b)
		checkMalformed(t, err)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("parse then marshal: %v, changed %v", err, !bytes.Equal(out, b))
		}
	})
}

func FuzzLogMeta(f *testing.F) {
	seeds := []*format.LogMeta{
		{},
		{Next: 10, Live: []uint32{0, 3, 9}},
		{Next: 2, Dropping: true, Live: []uint32{1}},
		{Next: 9, Live: []uint32{2, 5, 8}, Merge: &format.Merge{From: 5, Into: 2, IntoCount: 40}},
	}
	for _, s := range seeds {
		f.Add(mustMarshal(s.Marshal()))
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := format.ParseLogMeta(b)
		checkMalformed(t, err)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("parse then marshal: %v, changed %v", err, !bytes.Equal(out, b))
		}
	})
}

func FuzzKeyFilePlaintext(f *testing.F) {
	f.Add(mustMarshal(format.MarshalKeyFile([]byte("AGE-SECRET-KEY-PQ-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"))))
	f.Add([]byte("# sotto vault key v1\nAGE-SECRET-KEY-PQ-1\n"))
	fuzzcheck.RequireSeeds(f, 2)
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := format.ParseKeyFile(b)
		checkMalformed(t, err)
		if err != nil {
			return
		}
		out, err := format.MarshalKeyFile(id)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("parse then marshal: %v", err)
		}
	})
}

// FuzzOpenKeyFile puts arbitrary bytes where the key file goes and opens the
// vault: the answer is an error of a known kind, never a crash, and the
// scrypt work factor limit holds (MaxWorkFactor 4 keeps each run cheap).
func FuzzOpenKeyFile(f *testing.F) {
	dir := f.TempDir()
	p, _ := vault.NewPassphrase([]byte("pw"))
	v, err := vault.Create(filepath.Join(dir, "v"), p, &vault.Options{UnsafeWorkFactor: 2})
	if err != nil {
		f.Fatal(err)
	}
	v.Close()
	good, err := os.ReadFile(filepath.Join(dir, "v", "vault.key"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(" 2\n"), []byte(" 5\n"), 1))
	f.Add([]byte("age-encryption.org/v1\n-> scrypt AAAAAAAAAAAAAAAAAAAAAA 1\nAAAA\n--- AAAA\n"))
	fuzzcheck.RequireSeeds(f, 3)
	f.Fuzz(func(t *testing.T, b []byte) {
		vd := filepath.Join(t.TempDir(), "v")
		for _, d := range []string{vd, filepath.Join(vd, "r"), filepath.Join(vd, "s")} {
			os.Mkdir(d, 0o700)
		}
		os.WriteFile(filepath.Join(vd, "vault.key"), b, 0o600)
		p, _ := vault.NewPassphrase([]byte("pw"))
		v, err := vault.Open(vd, p, &vault.Options{MaxWorkFactor: 4})
		if err == nil {
			// The right key file with empty shards: the shards are missing.
			v.Close()
			t.Fatal("opened a vault with no record shards")
		}
		var fe *vault.FileError
		if !errors.Is(err, vault.ErrWrongPassphrase) && !errors.Is(err, vault.ErrWorkFactor) && !errors.As(err, &fe) {
			t.Fatalf("unexpected error: %v", err)
		}
	})
}
