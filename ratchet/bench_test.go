package ratchet

import (
	"crypto/rand"
	"fmt"
	"math/bits"
	"slices"
	"testing"
	"time"
)

// meter times each operation of a benchmark on its own and reports, beside
// ns/op (the mean wall time), the fastest and the median operation
// (min-ns/op, median-ns/op) and the CPU time per operation (cpu-ns/op, see
// cpuTime). On a machine shared with other work the mean measures the queue
// for a core as much as the code; the fastest operation ran without waiting.
type meter struct {
	start time.Duration
	walls []time.Duration
}

func (m *meter) begin() { m.start = cpuTime() }

// time runs f once and records how long it took.
func (m *meter) time(f func()) {
	t := time.Now()
	f()
	m.walls = append(m.walls, time.Since(t))
}

func (m *meter) report(b *testing.B) {
	cpu := cpuTime() - m.start
	n := len(m.walls)
	if n == 0 {
		return
	}
	slices.Sort(m.walls)
	b.ReportMetric(float64(m.walls[0].Nanoseconds()), "min-ns/op")
	b.ReportMetric(float64(m.walls[n/2].Nanoseconds()), "median-ns/op")
	if cpu > 0 && m.start > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
	}
}

// BenchmarkHandshake is a full handshake, both sides (four messages).
func BenchmarkHandshake(b *testing.B) {
	x, y := newParty(b), newParty(b)
	var m meter
	m.begin()
	for b.Loop() {
		m.time(func() { handshake(b, x, y, nil, nil) })
	}
	m.report(b)
}

// BenchmarkHandshakeContinued is a handshake chained to an earlier epoch
// (continuity proofs in messages 3 and 4), both sides.
func BenchmarkHandshakeContinued(b *testing.B) {
	x, y := newParty(b), newParty(b)
	sx, sy := handshake(b, x, y, nil, nil)
	var m meter
	m.begin()
	for b.Loop() {
		m.time(func() { handshake(b, x, y, sx, sy) })
	}
	m.report(b)
}

// pingPong sends one message from x to y and returns (y, x): the next
// message goes the other way, so every message starts a new chain (a DH
// ratchet step on both sides).
func pingPong(tb testing.TB, x, y *State, pt []byte, now time.Time) (*State, *State) {
	m, err := x.Encrypt(rand.Reader, pt, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := y.Decrypt(now, m, nil); err != nil {
		tb.Fatal(err)
	}
	return y, x
}

// Kinds of message in a conversation that alternates.
const (
	kindDH     = iota // a DH step and nothing else
	kindKeygen        // the initiator mixes a round's secret and draws the next ML-KEM key
	kindEncaps        // the responder encapsulates to a complete key
	kindDecaps        // the last chunk of a ciphertext: the initiator decapsulates
)

// messageKind says which ML-KEM operation (if any) the next message from x
// to y costs, from the two states.
func messageKind(x, y *State) int {
	ex, ey := x.epochs[0], y.epochs[0]
	switch {
	case ex.initiator && ex.sendPending && (ex.pq.hasSecret || ex.pq.round == 0):
		return kindKeygen
	case !ex.initiator && !ex.pq.hasCT && ex.pq.have == pqAllEK:
		return kindEncaps
	case !ex.initiator && ex.pq.hasCT && ey.pq.hasSeed && bits.OnesCount8(ey.pq.have) == pqCTChunks-1 && ey.pq.have&(1<<ex.pq.next) == 0:
		return kindDecaps
	}
	return kindDH
}

// benchmarkKind times only the messages (encryption and decryption) of the
// given kind in an alternating conversation with 64-byte plaintexts: one
// such message per iteration.
func benchmarkKind(b *testing.B, kind int) {
	x, y := newParty(b), newParty(b)
	sa, sb := handshake(b, x, y, nil, nil)
	now := time.Now()
	pt := make([]byte, 64)
	from, to := sa, sb
	var m meter // no CPU time: it would include the untimed messages
	for b.Loop() {
		b.StopTimer()
		for messageKind(from, to) != kind {
			from, to = pingPong(b, from, to, pt, now)
		}
		b.StartTimer()
		m.time(func() { from, to = pingPong(b, from, to, pt, now) })
	}
	m.report(b)
}

// BenchmarkDHStep is one message that starts a new chain (a DH ratchet step
// for its sender and its receiver) and costs no ML-KEM operation.
func BenchmarkDHStep(b *testing.B) { benchmarkKind(b, kindDH) }

// BenchmarkPQStep is one message that starts a new chain and costs one
// ML-KEM-768 operation: key generation (the initiator mixes a round's
// secret and starts the next round), encapsulation (the responder answers a
// complete key) or decapsulation (the ciphertext's last chunk arrives).
// Each happens once per round, in one message.
func BenchmarkPQStep(b *testing.B) {
	b.Run("keygen", func(b *testing.B) { benchmarkKind(b, kindKeygen) })
	b.Run("encaps", func(b *testing.B) { benchmarkKind(b, kindEncaps) })
	b.Run("decaps", func(b *testing.B) { benchmarkKind(b, kindDecaps) })
}

// BenchmarkSymmetricStep encrypts and decrypts a 1 KiB message within a
// sending chain (no DH step), on each kind of chain: the initiator's while
// it sends its key's chunks ("offer"), the responder's while it sends its
// ciphertext's ("answer"), and a chain with an empty chunk ("idle").
func BenchmarkSymmetricStep(b *testing.B) {
	for _, c := range []struct {
		name string
		ok   func(from *State) bool
	}{
		{"offer", func(s *State) bool {
			return s.epochs[0].initiator && s.epochs[0].pq.hasSeed && s.epochs[0].pq.have == 0
		}},
		{"answer", func(s *State) bool { return !s.epochs[0].initiator && s.epochs[0].pq.hasCT }},
		{"idle", func(s *State) bool { return !s.epochs[0].initiator && !s.epochs[0].pq.hasCT }},
	} {
		b.Run(c.name, func(b *testing.B) {
			x, y := newParty(b), newParty(b)
			sa, sb := handshake(b, x, y, nil, nil)
			now := time.Now()
			small := make([]byte, 16)
			// Alternate until a message leaves its sender in a chain of
			// the kind wanted: its next messages stay in that chain.
			from, to := sa, sb
			for i := 0; ; i++ {
				if i > 100 {
					b.Fatal("no such chain")
				}
				pingPong(b, from, to, small, now)
				if c.ok(from) {
					break
				}
				from, to = to, from
			}
			pt := make([]byte, 1024)
			ad := []byte("ad")
			b.SetBytes(int64(len(pt)))
			var m meter
			m.begin()
			for b.Loop() {
				m.time(func() {
					msg, err := from.Encrypt(rand.Reader, pt, ad)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := to.Decrypt(now, msg, ad); err != nil {
						b.Fatal(err)
					}
				})
			}
			m.report(b)
		})
	}
}

// BenchmarkMarshal is a serialisation and a parse of a State in the middle
// of a post-quantum round, with one epoch and with MaxEpochs: what a caller
// that keeps the State serialised in protected memory pays per message.
func BenchmarkMarshal(b *testing.B) {
	for _, epochs := range []int{1, MaxEpochs} {
		b.Run(fmt.Sprintf("epochs=%d", epochs), func(b *testing.B) {
			x, y := newParty(b), newParty(b)
			var sa, sb *State
			for range epochs {
				sa, sb = handshake(b, x, y, sa, sb)
			}
			now := time.Now()
			pt := make([]byte, 16)
			from, to := sa, sb
			for range 3 {
				from, to = pingPong(b, from, to, pt, now)
			}
			buf, _ := sa.MarshalBinary()
			b.SetBytes(int64(len(buf)))
			var s State
			var m meter
			m.begin()
			for b.Loop() {
				m.time(func() {
					buf, _ = sa.AppendBinary(buf[:0])
					if err := s.UnmarshalBinary(buf); err != nil {
						b.Fatal(err)
					}
				})
			}
			m.report(b)
		})
	}
}
