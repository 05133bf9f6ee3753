package sotto

import (
	"bytes"
	"fmt"

	"github.com/sottochat/sotto/files"
	"github.com/sottochat/sotto/internal/wire"
	"github.com/sottochat/sotto/scrub"
)

// The receiver's storer.
//
// A received chunk is age-encrypted into its segment's blob, and a full
// segment is committed (fsync, rename, fsync of its directory). Done on
// the reading goroutine, the session stopped reading its connection during
// every store: tor's flow control then stopped the sender too, and on a
// busy disk (an fsync of hundreds of milliseconds while other programs
// write) the transfer ran at the disk's pace, not the circuit's. So the
// reader hands its chunks to the session's storer, one goroutine that
// stores them in order and acknowledges each committed segment, and goes
// back to reading at once.
//
// Memory stays bounded: at most storeQueue chunks wait for the storer
// (3.6 MiB); a reader that gets ahead of the disk blocks on the queue, and
// the sender's window (files.Window) bounds what is in flight beyond it.
//
// Durability is unchanged: a segment is acknowledged, and shown stored
// (file_progress), only once it and the record of the transfer's new
// durable offset are on disk. The storer commits the record (a group
// commit, vault.Batch) without holding Engine.mu, so the reader is not held
// either. Lost in a crash before that commit, the segment was never
// acknowledged: the blob is swept at the next Open and the sender sends it
// again.
//
// Ownership: the storer alone writes with the files.Writers of its
// session's transfers (a transfer that ends meanwhile only loses its
// pointer to its writer, dropBlobsLocked); run stops the storer (stopFiles),
// after the reader stopped, before the session's writers are closed.

// storeQueue bounds the chunks waiting for the storer: 128 × 29 KiB.
const storeQueue = 128

// storer is a session's storing goroutine (guarded by Engine.mu; the
// channel's use is the reader's, and stopFiles').
type storer struct {
	in   chan pendingChunk
	done chan struct{}
}

// flushFiles hands the chunks the last frame queued to the storer. Called
// by the reader goroutine after each frame, outside Engine.mu; it blocks
// while the storer's queue is full.
func (s *session) flushFiles() error {
	e := s.e
	e.mu.Lock()
	if s.files == nil || len(s.files.pend) == 0 {
		e.mu.Unlock()
		return nil
	}
	fs := s.files
	pend := fs.pend
	fs.pend = nil
	if fs.st == nil {
		fs.st = &storer{in: make(chan pendingChunk, storeQueue), done: make(chan struct{})}
		go s.storeLoop(fs.st)
	}
	in := fs.st.in
	e.mu.Unlock()
	for i, p := range pend {
		select {
		case in <- p:
		case <-s.done:
			// The session is closing: these chunks were not stored and
			// will not be acknowledged; the sender sends them again.
			for _, q := range pend[i:] {
				clear(q.data)
			}
			return nil
		}
	}
	return nil
}

// stopFiles stops the session's storer after it stored what was queued.
// run calls it once the reader has stopped.
func (s *session) stopFiles() {
	s.e.mu.Lock()
	var st *storer
	if s.files != nil {
		st = s.files.st
	}
	s.e.mu.Unlock()
	if st != nil {
		close(st.in)
		<-st.done
	}
}

// storeLoop stores chunks in order until its queue is closed.
func (s *session) storeLoop(st *storer) {
	defer close(st.done)
	for p := range st.in {
		s.storeChunk(p)
	}
}

// storeChunk writes one chunk with its transfer's writer, outside
// Engine.mu; when a segment was committed it records the new durable
// offset and acknowledges it, and after the last one it checks the whole
// file.
func (s *session) storeChunk(p pendingChunk) {
	e := s.e
	before := p.w.Durable()
	_, werr := p.w.Write(p.data)
	clear(p.data)
	after := p.w.Durable()
	if werr == nil && after == before {
		// Inside a segment: nothing durable to record. A transfer that
		// ended meanwhile is found at its next commit (below), and this
		// writer's uncommitted segment dropped then, or when the session
		// ends.
		return
	}
	var sum [32]byte
	var sumErr, bombErr error
	var img scrub.Info
	if werr == nil && after == p.t.rec.Size {
		sum, sumErr = p.w.Sum()
		if sumErr == nil && bytes.Equal(sum[:], p.t.rec.Hash) {
			r := files.NewReader(e.blobStore(p.t.c), p.t.key, p.t.rec.Size, 0)
			img, bombErr = scrub.Inspect(r)
			r.Close()
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t := p.t
	defer func() {
		if t.w != p.w {
			p.w.Close() // the transfer ended: a segment the chunk began goes
		}
	}()
	if t.w != p.w || t.rec.State != files.Accepted {
		// Taken over by a newer session, or ended meanwhile: this
		// writer's unfinished segment is dropped; if the transfer ended,
		// so is what it committed since.
		if t.rec.State != files.Accepted && t.rec.State != files.Complete {
			bs := e.blobStore(t.c)
			for i := before / files.SegmentSize; i*files.SegmentSize < after; i++ {
				bs.RemoveBlob(files.SegmentName(t.key, i))
			}
		}
		return
	}
	if werr != nil {
		e.endLocked(t, files.Failed, wire.RejectStorage, "could not store it: "+werr.Error(), true)
		return
	}
	t.rec.Offset, t.rec.HashState = after, p.w.HashState()
	switch {
	case after < t.rec.Size:
		// The record is committed outside the lock (the reader goes on);
		// anything submitted after it, a frame's state included, is
		// committed after it, so no frame can tell the sender of this
		// offset before it is on disk. The ack and the progress follow
		// the commit.
		wait, err := e.saveTransferAsyncLocked(t)
		if err == nil {
			e.mu.Unlock()
			err = wait()
			e.mu.Lock()
		}
		if t.w != p.w || t.rec.State != files.Accepted {
			return // ended meanwhile: its end was recorded after this
		}
		if err != nil {
			e.endLocked(t, files.Failed, wire.RejectStorage, "could not store it: "+err.Error(), true)
			return
		}
		s.queueLocked(&wire.Message{Kind: wire.KindFileAck, ID: t.id, Offset: after})
		e.ev.emit(FileProgressEvent{File: t.info()})
	case sumErr != nil || !bytes.Equal(sum[:], t.rec.Hash):
		e.failLocked(t, "the file's data does not match its SHA-256: it was damaged or altered")
	case bombErr != nil:
		e.failLocked(t, fmt.Sprintf("it is %s, more than Sotto accepts: a decompression bomb", img))
	default:
		e.completeLocked(t)
	}
}

// saveTransferAsyncLocked submits t's record for the next commit and
// returns the wait for it, so the caller can release Engine.mu meanwhile.
func (e *Engine) saveTransferAsyncLocked(t *transfer) (wait func() error, err error) {
	b, err := t.rec.Marshal()
	if err != nil {
		return nil, err
	}
	st := e.msgStore(t.c)
	if vs, ok := st.(*vaultStore); ok {
		return vs.putAsync(kindFile, t.key, b), nil
	}
	return func() error { return nil }, st.Put(kindFile, t.key, b)
}
