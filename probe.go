package sotto

import (
	"sync"
	"time"

	"github.com/sottochat/sotto/internal/wire"
)

// A probe records when each message passes each stage of its round trip
// (send, seal, frame, tor, open, store, ack), so that a benchmark can say
// where the time of a round trip goes. Benchmarks set one on both engines
// of a pair (Engine.probe); a product engine has none, and every mark is
// then one atomic load. The probe holds message IDs and times, nothing
// else.
type probe struct {
	mu sync.Mutex
	at map[probeKey]time.Time
}

type probeKey struct {
	id MessageID
	st stage
}

// stage is a point on a message's path. The sender marks the first ones,
// the receiver the middle ones, the sender again the last ones.
type stage uint8

const (
	stPicked     stage = iota // sender's writer took the message from the outbox
	stSealed                  // encrypted (state loaded, ratchet step, state kept)
	stSaved                   // the sending state persisted
	stWritten                 // its frame handed to the connection (the lock released)
	stRead                    // receiver: the frame read from the connection
	stOpened                  // decrypted
	stStored                  // stored in the conversation (its commit is the ack's: stAckSaved)
	stAckPicked               // receiver's writer took the acknowledgement
	stAckSealed               // the acknowledgement encrypted
	stAckSaved                // the receiving side's state persisted
	stAckWritten              // the acknowledgement's frame handed to the connection
	stAckRead                 // sender: the acknowledgement's frame read
	stAckOpened               // decrypted
	stAcked                   // the message left the outbox (durable), delivered
	numStages
)

func newProbe() *probe { return &probe{at: map[probeKey]time.Time{}} }

// mark records stage st of the messages ids at time t (the first time
// only: a message sent again keeps its first marks).
func (p *probe) mark(st stage, t time.Time, ids ...MessageID) {
	if p == nil || len(ids) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		k := probeKey{id, st}
		if _, ok := p.at[k]; !ok {
			p.at[k] = t
		}
	}
}

// times returns the marks of one message (zero where a stage was not
// seen) and forgets them.
func (p *probe) times(id MessageID) (ts [numStages]time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for st := range numStages {
		k := probeKey{id, st}
		ts[st] = p.at[k]
		delete(p.at, k)
	}
	return ts
}

// mark records a stage on the engine's probe, if it has one.
func (e *Engine) mark(st stage, ids ...MessageID) {
	if p := e.probe.Load(); p != nil {
		p.mark(st, time.Now(), ids...)
	}
}

// markAt is mark with a time taken earlier.
func (e *Engine) markAt(st stage, t time.Time, ids ...MessageID) {
	if p := e.probe.Load(); p != nil {
		p.mark(st, t, ids...)
	}
}

// probing reports whether the engine has a probe (to skip collecting IDs).
func (e *Engine) probing() bool { return e.probe.Load() != nil }

// probeIDs returns the IDs of the texts and timer changes among msgs and
// the IDs their acknowledgements acknowledge.
func probeIDs(msgs []*wire.Message) (sent, acked []MessageID) {
	for _, m := range msgs {
		switch m.Kind {
		case wire.KindText, wire.KindTimer:
			sent = append(sent, MessageID(m.ID))
		case wire.KindAck:
			for _, id := range m.Acks {
				acked = append(acked, MessageID(id))
			}
		}
	}
	return sent, acked
}

// probeRead marks a received message read (at the time its frame was read)
// and opened (now).
func (s *session) probeRead(m *wire.Message, readAt time.Time) {
	sent, acked := probeIDs([]*wire.Message{m})
	s.e.markAt(stRead, readAt, sent...)
	s.e.mark(stOpened, sent...)
	s.e.markAt(stAckRead, readAt, acked...)
	s.e.mark(stAckOpened, acked...)
}
