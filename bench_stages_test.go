package sotto

import (
	"slices"
	"testing"
	"time"
)

// stageClock times each stage of every round trip a benchmark makes: it
// sets a probe (probe.go) on the sender and the receiver and, after each
// delivery, turns the marks of that message into the time spent between
// consecutive stages. report gives the median of each (µs) as benchmark
// metrics, so that `go test -bench` prints where a round trip's time goes.
type stageClock struct {
	ps, pr *probe // sender's, receiver's
	d      [numSegs][]time.Duration
}

// The segments of a round trip, in order, and the probe and stage each one
// ends at (it begins where the previous one ended; the first at Send).
var stageSegs = []struct {
	name     string
	receiver bool
	st       stage
}{
	{"queue", false, stPicked},       // Send returned -> the writer took it
	{"seal", false, stSealed},        // state loaded, ratchet step, padding
	{"save", false, stSaved},         // state persisted (an fsync on a vault)
	{"write", false, stWritten},      // the lock released, the frame handed to the connection
	{"wire", true, stRead},           // written, carried (tor, or a pipe), read by the receiver
	{"open", true, stOpened},         // state loaded, decrypted
	{"store", true, stStored},        // stored in the conversation (an fsync)
	{"ackq", true, stAckPicked},      // -> the receiver's writer took the ack
	{"ackseal", true, stAckSealed},   // ack encrypted
	{"acksave", true, stAckSaved},    // the receiver's state persisted (an fsync)
	{"ackwrite", true, stAckWritten}, // the ack frame handed to the connection
	{"ackwire", false, stAckRead},    // -> sender read it
	{"ackopen", false, stAckOpened},  // decrypted
	{"acked", false, stAcked},        // out of the outbox (an fsync)
}

const numSegs = 15 // stageSegs plus the last: acked -> the event seen

func startStages(sender, receiver *testPeer) *stageClock {
	s := &stageClock{ps: newProbe(), pr: newProbe()}
	sender.e.probe.Store(s.ps)
	receiver.e.probe.Store(s.pr)
	return s
}

// record adds one round trip: id sent at sent, its delivery seen at seen.
// A round trip with a missing mark (a resend, a lost connection) is skipped.
func (s *stageClock) record(id MessageID, sent, seen time.Time) {
	ts, tr := s.ps.times(id), s.pr.times(id)
	prev := sent
	var d [numSegs]time.Duration
	for i, g := range stageSegs {
		t := ts[g.st]
		if g.receiver {
			t = tr[g.st]
		}
		if t.IsZero() {
			return
		}
		d[i] = t.Sub(prev)
		prev = t
	}
	d[numSegs-1] = seen.Sub(prev)
	for i := range d {
		s.d[i] = append(s.d[i], d[i])
	}
}

// report stops the probes and reports each segment's median in µs.
func (s *stageClock) report(b *testing.B, sender, receiver *testPeer) {
	sender.e.probe.Store(nil)
	receiver.e.probe.Store(nil)
	if len(s.d[0]) == 0 {
		return
	}
	for i := range numSegs {
		name := "event"
		if i < len(stageSegs) {
			name = stageSegs[i].name
		}
		b.ReportMetric(float64(median(s.d[i]))/1e3, name+"-us")
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}
