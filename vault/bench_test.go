package vault

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sottochat/sotto/vault/format"
)

const benchMessages = 100_000

// benchValue is a 200-byte message.
func benchValue(i int) []byte {
	v := make([]byte, 200)
	copy(v, fmt.Sprintf("message %d ", i))
	return v
}

func benchID(i int) string { return fmt.Sprintf("%032x", i) }

// bulkFill writes n entries into log as full segments, the way Append would
// have left them, without an fsync per entry (fixtures only).
func bulkFill(tb testing.TB, v *Vault, log string, n int, id func(int) string, value func(int) []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.stage = newStage()
	defer func() { must(tb, v.commitStage()) }()
	st, err := v.getLog(log, true)
	must(tb, err)
	m := st.meta
	seg := &format.Segment{Log: log, Seq: m.Next}
	flush := func() {
		must(tb, v.writeSegment(st, seg))
		m.Live = append(m.Live, seg.Seq)
		m.Next = seg.Seq + 1
		seg = &format.Segment{Log: log, Seq: m.Next}
	}
	for i := range n {
		id, val := id(i), value(i)
		if len(seg.Entries) >= maxSegmentEntries || (len(seg.Entries) > 0 && segSize(seg)+format.EntrySize(id, val) > format.SegmentTarget) {
			flush()
		}
		seg.Entries = append(seg.Entries, format.Entry{ID: id, Value: val})
	}
	flush()
	must(tb, v.putMeta(st, m))
	st.tail = nil
}

var fixture100k struct {
	once sync.Once
	dir  string
	err  error
}

// copy100k returns a fresh copy of a closed vault holding 100,000 messages
// in one log ("conv"), built once per test binary.
func copy100k(b *testing.B) string {
	fixture100k.once.Do(func() {
		d, err := os.MkdirTemp("", "vault-100k-")
		if err != nil {
			fixture100k.err = err
			return
		}
		fixture100k.dir = filepath.Join(d, "vault")
		p, _ := NewPassphrase([]byte("correct horse"))
		v, err := Create(fixture100k.dir, p, testOpts)
		if err != nil {
			fixture100k.err = err
			return
		}
		bulkFill(b, v, "conv", benchMessages, benchID, benchValue)
		for i := range 50 {
			v.Put("contact", fmt.Sprint(i), make([]byte, 300))
		}
		fixture100k.err = v.Close()
	})
	if fixture100k.err != nil {
		b.Fatal(fixture100k.err)
	}
	dst := filepath.Join(b.TempDir(), "vault")
	must(b, os.CopyFS(dst, os.DirFS(fixture100k.dir)))
	fixPerms(b, dst)
	return dst
}

// BenchmarkUnlock measures the passphrase KDF at the production work
// factor (calibrated to about a second on this machine).
func BenchmarkUnlock(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "vault")
	v, err := Create(dir, pass(b, "correct horse"), nil)
	must(b, err)
	defer v.Close()
	data, _ := os.ReadFile(filepath.Join(dir, keyFileName))
	_, logN, err := openKeyFile(data, pass(b, "correct horse"), 30)
	must(b, err)
	p := pass(b, "correct horse")
	b.ResetTimer()
	for b.Loop() {
		must(b, v.VerifyPassphrase(p))
	}
	b.ReportMetric(float64(logN), "logN")
}

// BenchmarkAppend100k appends to a log that already holds 100,000 messages.
func BenchmarkAppend100k(b *testing.B) {
	dir := copy100k(b)
	v, err := Open(dir, pass(b, "correct horse"), testOpts)
	must(b, err)
	defer v.Close()
	must(b, v.Append("conv", "warm", benchValue(0))) // loads the last segment
	i := 0
	for b.Loop() {
		must(b, v.Append("conv", fmt.Sprint("new", i), benchValue(i)))
		i++
	}
}

// BenchmarkOpen100k opens a vault holding 100,000 messages (the KDF at a
// test work factor, 2^10, so that it is out of the figure) and closes it.
func BenchmarkOpen100k(b *testing.B) {
	dir := copy100k(b)
	p := pass(b, "correct horse")
	for b.Loop() {
		v, err := Open(dir, p, testOpts)
		must(b, err)
		v.Close()
	}
}

// BenchmarkOpenRead100k opens a vault holding 100,000 messages and reads
// them all back, as a client showing the whole history would.
func BenchmarkOpenRead100k(b *testing.B) {
	dir := copy100k(b)
	p := pass(b, "correct horse")
	for b.Loop() {
		v, err := Open(dir, p, testOpts)
		must(b, err)
		es, err := v.Entries("conv")
		if err != nil || len(es) != benchMessages {
			b.Fatalf("%d entries, %v", len(es), err)
		}
		v.Close()
	}
}

// BenchmarkOpenLast100k opens a vault holding 100,000 messages and reads
// the last 100, as a client showing the end of a conversation would.
func BenchmarkOpenLast100k(b *testing.B) {
	dir := copy100k(b)
	p := pass(b, "correct horse")
	for b.Loop() {
		v, err := Open(dir, p, testOpts)
		must(b, err)
		if es, err := v.Last("conv", 100); err != nil || len(es) != 100 {
			b.Fatalf("%d entries, %v", len(es), err)
		}
		v.Close()
	}
}

// BenchmarkRemove100k removes one message from a log of 100,000 (after the
// first Remove has indexed the log).
func BenchmarkRemove100k(b *testing.B) {
	dir := copy100k(b)
	v, err := Open(dir, pass(b, "correct horse"), testOpts)
	must(b, err)
	defer v.Close()
	_, err = v.Remove("conv", "none") // builds the index
	must(b, err)
	i := 0
	for b.Loop() {
		n, err := v.Remove("conv", fmt.Sprintf("%032x", (i*7919)%benchMessages))
		must(b, err)
		if n != 1 && i < benchMessages {
			b.Fatalf("removed %d", n)
		}
		i++
	}
}

// BenchmarkPanic100k destroys a vault holding 100,000 messages.
func BenchmarkPanic100k(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := copy100k(b)
		b.StartTimer()
		must(b, Panic(dir))
	}
}

// BenchmarkAppend1k is BenchmarkAppend100k's baseline: the same append to
// a log with 1,000 messages (run both with -benchtime 600x or more, so that
// each averages over whole segments: the two should match).
func BenchmarkAppend1k(b *testing.B) {
	v, _ := newVault(b)
	bulkFill(b, v, "conv", 1000, benchID, benchValue)
	must(b, v.Append("conv", "warm", benchValue(0)))
	i := 0
	for b.Loop() {
		must(b, v.Append("conv", fmt.Sprint("new", i), benchValue(i)))
		i++
	}
}
