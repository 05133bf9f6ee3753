package format

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// The encoders write into one buffer sized in advance (framed). These are
// the builder-based encoders they replaced, kept as the oracle: the bytes
// on disk must not change.

func frameRef(magic string, body []byte) []byte {
	out := make([]byte, 8, PaddedSize(8+len(body)))
	copy(out, magic)
	out[4], out[5], out[6], out[7] = byte(len(body)>>24), byte(len(body)>>16), byte(len(body)>>8), byte(len(body))
	out = append(out, body...)
	return out[:PaddedSize(8+len(body))]
}

func shardRef(s *Shard) []byte {
	var b cryptobyte.Builder
	b.AddUint16(s.Index)
	if !s.Legacy {
		b.AddUint64(s.Version)
	}
	b.AddUint32(uint32(len(s.Records)))
	for _, r := range s.Records {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(r.Kind)) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(r.Key)) })
		b.AddUint32LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.Value) })
	}
	magic := shardMagic
	if s.Legacy {
		magic = shardMagicV1
	}
	return frameRef(magic, b.BytesOrPanic())
}

func segmentRef(s *Segment) []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(s.Log)) })
	b.AddUint32(s.Seq)
	if !s.Legacy {
		b.AddUint64(s.Version)
	}
	b.AddUint32(uint32(len(s.Entries)))
	for _, e := range s.Entries {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(e.ID)) })
		b.AddUint32LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.Value) })
	}
	magic := segmentMagic
	if s.Legacy {
		magic = segmentMagicV1
	}
	return frameRef(magic, b.BytesOrPanic())
}

func manifestRef(m *Manifest) []byte {
	var b cryptobyte.Builder
	b.AddUint32(uint32(len(m.Files)))
	for _, f := range m.Files {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(f.Name)) })
		b.AddUint64(f.Version)
	}
	return frameRef(manifestMagic, b.BytesOrPanic())
}

func randString(r *rand.Rand, lo, hi int) string {
	b := make([]byte, lo+r.IntN(hi-lo+1))
	for i := range b {
		b[i] = byte('!' + r.IntN(94))
	}
	return string(b)
}

func randValue(r *rand.Rand) []byte {
	sizes := []int{0, 1, 100, 1000, 5000, 70000}
	v := make([]byte, sizes[r.IntN(len(sizes))])
	for i := range v {
		v[i] = byte(r.Uint32())
	}
	return v
}

// TestMarshalSameBytes: shards, segments and manifests of random shapes
// (empty, legacy, long names, values across the padding buckets and past
// SegmentTarget) encode to the same bytes as the builder-based encoders,
// and parse back.
func TestMarshalSameBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		legacy := i%5 == 0
		var version uint64
		if !legacy {
			version = r.Uint64()
		}
		sh := &Shard{Index: uint16(r.Uint32()), Version: version, Legacy: legacy}
		for j := range r.IntN(20) {
			sh.Records = append(sh.Records, Record{Kind: fmt.Sprintf("k%03d", j), Key: randString(r, 0, 300), Value: randValue(r)})
		}
		got, err := sh.Marshal()
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		if !bytes.Equal(got, shardRef(sh)) {
			t.Fatalf("shard %d: the encoding changed", i)
		}
		if _, err := ParseShard(got); err != nil {
			t.Fatalf("shard %d does not parse back: %v", i, err)
		}

		seg := &Segment{Log: randString(r, 1, MaxLogName), Seq: r.Uint32(), Version: version, Legacy: legacy}
		for range r.IntN(40) {
			seg.Entries = append(seg.Entries, Entry{ID: randString(r, 1, MaxID), Value: randValue(r)})
		}
		got, err = seg.Marshal()
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if !bytes.Equal(got, segmentRef(seg)) {
			t.Fatalf("segment %d: the encoding changed", i)
		}
		if _, err := ParseSegment(got); err != nil {
			t.Fatalf("segment %d does not parse back: %v", i, err)
		}

		files := map[string]uint64{}
		for range r.IntN(300) {
			files[randString(r, 1, MaxFileName)] = r.Uint64()
		}
		m := ManifestOf(files)
		got, err = m.Marshal()
		if err != nil {
			t.Fatalf("manifest %d: %v", i, err)
		}
		if !bytes.Equal(got, manifestRef(m)) {
			t.Fatalf("manifest %d: the encoding changed", i)
		}
		if _, err := ParseManifest(got); err != nil {
			t.Fatalf("manifest %d does not parse back: %v", i, err)
		}
	}
}

// TestMarshalOverLimit: an encoding that could not be read back (over
// MaxPlaintext) is refused when written, as a malformed error.
func TestMarshalOverLimit(t *testing.T) {
	big := make([]byte, MaxValue)
	seg := &Segment{Log: "l"}
	for i := range MaxPlaintext/MaxValue + 1 {
		seg.Entries = append(seg.Entries, Entry{ID: fmt.Sprint(i), Value: big})
	}
	if _, err := seg.Marshal(); err == nil {
		t.Fatal("a segment over MaxPlaintext was encoded")
	}
}

func BenchmarkSegmentMarshal(b *testing.B) {
	seg := &Segment{Log: "conversation", Seq: 3, Version: 9}
	for i := range 100 {
		seg.Entries = append(seg.Entries, Entry{ID: fmt.Sprintf("m%05d", i), Value: make([]byte, 500)})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := seg.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSegmentMarshalBuilder(b *testing.B) {
	seg := &Segment{Log: "conversation", Seq: 3, Version: 9}
	for i := range 100 {
		seg.Entries = append(seg.Entries, Entry{ID: fmt.Sprintf("m%05d", i), Value: make([]byte, 500)})
	}
	b.ReportAllocs()
	for b.Loop() {
		segmentRef(seg)
	}
}
