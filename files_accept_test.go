package sotto

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sottochat/sotto/files"
	"github.com/sottochat/sotto/internal/record"
	"github.com/sottochat/sotto/internal/wire"
)

// filePair is alice (sending) and bob (receiving) with the file protocol
// driven by hand: each side's session is a bare session value, a batch is
// what its writer would send next (readChunks, fileMsgsLocked), and the
// test decides when each batch reaches the other side, so an interleaving
// of two sessions, a user's click and messages in flight is replayed
// exactly, without a network or a goroutine. Bob's chunks are stored as
// his storer would store them, at once and in order.
type filePair struct {
	t      *testing.T
	a, b   *Engine
	ca, cb *contact // alice's contact bob, bob's contact alice
	as, bs *session // the current sessions
}

func newFilePair(t *testing.T) *filePair {
	t.Helper()
	p := &filePair{t: t}
	mk := func(name, petname string) (*Engine, *contact) {
		e, err := newEngine(engineConfig{timing: fastTiming, newSecret: testSecret, newLocked: testLocked, logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		id := &identity{key: name, name: name, st: newMemStore(),
			contacts: map[string]*contact{}, byPub: map[string]*contact{}, requests: map[string]*request{}}
		c := &contact{id: id, key: name + ".c", rec: record.Contact{Petname: petname}, seen: map[MessageID]bool{}}
		return e, c
	}
	p.a, p.ca = mk("alice", "bob")
	p.b, p.cb = mk("bob", "alice")
	return p
}

// offer stores data as alice's outgoing file, as SendFile does.
func (p *filePair) offer(data []byte) MessageID {
	p.t.Helper()
	var id MessageID
	rand.Read(id[:])
	key := p.ca.key + "." + hex.EncodeToString(id[:])
	w, err := files.NewWriter(p.a.blobStore(p.ca), key, 0, 0, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		p.t.Fatal(err)
	}
	size, sum, err := w.Finish()
	if err != nil {
		p.t.Fatal(err)
	}
	tr := &transfer{c: p.ca, id: id, key: key, rec: files.Record{V: files.RecordVersion, ID: id[:], Dir: files.Out,
		Name: "leak.pdf", Size: size, Hash: sum[:], State: files.Offered, At: 1, Method: "kept"}}
	p.a.mu.Lock()
	defer p.a.mu.Unlock()
	if err := p.a.saveTransferLocked(tr); err != nil {
		p.t.Fatal(err)
	}
	p.a.fx().byID[id] = tr
	return id
}

// reconnect ends the current sessions (as run does once their goroutines
// stopped) and makes new ones the contacts' current sessions.
func (p *filePair) reconnect() {
	for _, x := range []struct {
		e *Engine
		c *contact
		s **session
	}{{p.a, p.ca, &p.as}, {p.b, p.cb, &p.bs}} {
		x.e.mu.Lock()
		if *x.s != nil {
			(*x.s).closeFilesLocked()
		}
		*x.s = &session{e: x.e, c: x.c, wake: make(chan struct{}, 1), done: make(chan struct{})}
		x.c.sess = *x.s
		x.e.mu.Unlock()
	}
}

// batch is what s's writer sends next.
func batch(s *session) []*wire.Message {
	plan := s.readChunks()
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.fileMsgsLocked(plan)
}

// deliver has s's reader handle msgs, and stores the chunks they queued.
func (p *filePair) deliver(s *session, msgs []*wire.Message) {
	p.t.Helper()
	for _, m := range msgs {
		s.e.mu.Lock()
		err := s.handleFileLocked(m)
		var pend []pendingChunk
		if s.files != nil {
			pend, s.files.pend = s.files.pend, nil
		}
		s.e.mu.Unlock()
		if err != nil {
			p.t.Fatalf("kind %d at offset %d: the session would be dropped: %v", m.Kind, m.Offset, err)
		}
		for _, c := range pend {
			s.storeChunk(c)
		}
	}
}

func count(msgs []*wire.Message, k wire.Kind) int {
	n := 0
	for _, m := range msgs {
		if m.Kind == k {
			n++
		}
	}
	return n
}

// finish moves batches both ways until nothing is left to send, and
// returns how many rounds that took.
func (p *filePair) finish() int {
	p.t.Helper()
	for round := 1; round < 1000; round++ {
		toB, toA := batch(p.as), batch(p.bs)
		if len(toB) == 0 && len(toA) == 0 {
			return round
		}
		p.deliver(p.bs, toB)
		p.deliver(p.as, toA)
	}
	p.t.Fatal("the transfer did not settle in 1000 rounds")
	return 0
}

// TestAcceptOnNewSessionBeforeReoffer: bob received alice's offer on one
// session and accepts it on the next one before alice's re-offer reaches
// him there. His click answers accept(0) on the new session, and the
// re-offer, found accepted, used to be answered with a second accept(0).
// Alice had already sent chunks after the first; the second sent her back
// to 0, and bob, expecting the next chunk, failed the file: "the sender's
// chunks are out of order". Bob must answer once, and the file arrive,
// each byte sent once.
func TestAcceptOnNewSessionBeforeReoffer(t *testing.T) {
	acceptBeforeReoffer(t, false)
}

// TestRepeatedAcceptDoesNotRewindSender: the same interleaving with a
// receiver built before the fix, which answers the re-offer with a second
// accept(0) (here sent by hand, as queueAcceptLocked sent it: bob's
// expected offset back at 0, before any chunk of the session reached him).
// Alice ignores an accept on a session that was accepted already, and the
// file arrives, each byte sent once.
func TestRepeatedAcceptDoesNotRewindSender(t *testing.T) {
	acceptBeforeReoffer(t, true)
}

func acceptBeforeReoffer(t *testing.T, olderReceiver bool) {
	p := newFilePair(t)
	const size = files.SegmentSize + 3*files.ChunkSize + 77
	data := make([]byte, size)
	rand.Read(data)
	id := p.offer(data)

	// Session 1: the offer reaches bob, who does not answer it yet.
	p.reconnect()
	offer1 := batch(p.as)
	if count(offer1, wire.KindFileOffer) != 1 {
		t.Fatalf("alice's first batch on session 1: %d offers, want 1", count(offer1, wire.KindFileOffer))
	}
	p.deliver(p.bs, offer1)
	if fi, err := p.b.File(id); err != nil || fi.State != FileOffered {
		t.Fatalf("bob after the offer: %+v %v", fi, err)
	}

	// Session 2. Alice's first batch re-offers the file; it is in flight.
	p.reconnect()
	reoffer := batch(p.as)
	if count(reoffer, wire.KindFileOffer) != 1 {
		t.Fatalf("alice's first batch on session 2: %d offers, want 1", count(reoffer, wire.KindFileOffer))
	}
	// Bob accepts now: his accept goes out on session 2.
	if err := p.b.AcceptFile(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	accept1 := batch(p.bs)
	if count(accept1, wire.KindFileAccept) != 1 || accept1[0].Offset != 0 {
		t.Fatalf("bob's batch after his click: %d accepts, want 1 at 0", count(accept1, wire.KindFileAccept))
	}
	// The re-offer reaches bob, who already answered it on this session.
	p.deliver(p.bs, reoffer)
	again := batch(p.bs)
	if olderReceiver {
		again = []*wire.Message{{Kind: wire.KindFileAccept, ID: id, Offset: 0}}
	} else if n := count(again, wire.KindFileAccept); n != 0 {
		t.Fatalf("bob answered alice's re-offer with %d more accepts on the session he accepted on", n)
	}
	// Alice gets the accept and sends a batch of chunks.
	p.deliver(p.as, accept1)
	chunks := batch(p.as)
	if count(chunks, wire.KindFileChunk) == 0 || chunks[0].Offset != 0 {
		t.Fatalf("alice after the accept: %d chunks, want some from 0", count(chunks, wire.KindFileChunk))
	}
	sent := chunks[len(chunks)-1].Offset + uint64(len(chunks[len(chunks)-1].Data))
	// Then what bob said on the re-offer reaches her, and her chunks reach
	// him.
	p.deliver(p.as, again)
	next := batch(p.as)
	if len(next) == 0 || next[0].Kind != wire.KindFileChunk || next[0].Offset != sent {
		first := "none"
		if len(next) > 0 {
			first = fmt.Sprintf("kind %d at %d", next[0].Kind, next[0].Offset)
		}
		t.Fatalf("alice's next batch after bob's answer to the re-offer does not go on from %d: %d messages, the first %s", sent, len(next), first)
	}
	p.deliver(p.bs, chunks)
	p.deliver(p.bs, next)
	if fi, _ := p.b.File(id); fi.State != FileTransferring {
		t.Fatalf("bob after alice's first chunks: %s (%s)", fi.State, fi.Err)
	}
	rounds := p.finish()

	bi, _ := p.b.File(id)
	ai, _ := p.a.File(id)
	if bi.State != FileComplete || ai.State != FileComplete {
		t.Fatalf("after %d rounds: bob's copy %s (%s), alice's %s (%s)", rounds, bi.State, bi.Err, ai.State, ai.Err)
	}
	if ai.Sent != size {
		t.Fatalf("alice sent %d bytes for a file of %d: a resume must not send a byte twice here", ai.Sent, size)
	}
	out := filepath.Join(t.TempDir(), "out")
	if _, err := p.b.SaveFile(context.Background(), id, out, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatal("bob's saved copy differs from alice's file")
	}
}
