package sotto

import "github.com/sottochat/sotto/internal/wire"

// A session's writer seals a batch (encrypts it and stores the ratchet
// state: one durable vault write, several fsyncs) and then writes its
// frames. Done in turn on one goroutine, the connection sat idle during
// every store: with a file moving, a batch of 32 chunks (928 KiB) every
// ~100 ms at loopback-Tor speed, and the store took a third of the file's
// time (BenchmarkPipeFileVault's trace: 1.8 s of fsync in the writer per
// 3 × 16 MiB). frameWriter writes the sealed batches, in order, on their own
// goroutine, so the writer seals and stores the next batch while this one
// is on the wire. The state is still stored before any frame of its batch
// is written (PROTOCOL §2.8's rule). At most one batch waits in the channel
// beside the one being written: about 2 MiB of ciphertext.

// textsPerBatch bounds the texts of the outbox one batch carries (the
// writer's loop in session.go fills batches up to it).
const textsPerBatch = 32

// frameBatch is one sealed batch: its frames, and the texts it carries
// (marked sent once written).
type frameBatch struct {
	cts     [][]byte
	sentIDs []MessageID
}

// frameWriter writes the batches from in until in is closed; a write
// error closes the session, and the rest of in is dropped.
func (s *session) frameWriter(fc *frameConn, in <-chan frameBatch, done chan<- struct{}) {
	defer close(done)
	e, c := s.e, s.c
	for b := range in {
		failed := false
		for _, ct := range b.cts {
			if err := fc.write(wire.FrameData, ct); err != nil {
				failed = true
				break
			}
		}
		if failed {
			s.close()
			for range in {
			}
			return
		}
		if len(b.sentIDs) == 0 {
			continue
		}
		e.mu.Lock()
		for _, id := range b.sentIDs {
			for _, m := range c.msgs {
				if m.ID == id && m.State == Pending {
					// Not if the ack already came back: events stay in order.
					m.State = Sent
					e.ev.emit(SentEvent{Identity: c.id.name, Contact: c.rec.Petname, ID: id})
				}
			}
		}
		e.mu.Unlock()
		if len(b.sentIDs) == textsPerBatch {
			s.nudge() // a full batch: more may be waiting
		}
	}
}
