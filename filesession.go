package sotto

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sottochat/sotto/files"
	"github.com/sottochat/sotto/internal/wire"
)

// The file protocol inside a session (docs/PROTOCOL.md Part 4).
//
// Sender: every session begins with an offer of each file not yet
// answered or finished (and a cancel of each withdrawal not yet
// confirmed). The receiver answers an offer it accepted with accept(its
// durable offset); the sender then sends chunks from there, at most
// files.Window bytes ahead of the receiver's acknowledgements. The
// receiver writes chunks to segments and acknowledges each committed
// segment; at the end it checks the SHA-256 and says done, or reject.
//
// The reader goroutine decrypts under Engine.mu and queues chunks; after
// releasing the lock it hands them to the session's storer (filestorer.go),
// which stores them while the reader goes on reading. The writer goroutine reads the next chunks
// from storage before taking the lock (readChunks).

// sessionFiles is a session's file state. Its fields are guarded by
// Engine.mu, except rd, which only the writer goroutine uses.
type sessionFiles struct {
	offered map[MessageID]bool // offers (or cancels) sent on this session
	ctl     []*wire.Message    // answers to send
	pend    []pendingChunk     // received chunks to store (reader goroutine)
	ignored uint64             // bytes of chunks for transfers no longer running
	rd      *files.Reader      // writer goroutine: the file being sent
	rdID    MessageID
	writers []*files.Writer // writers this session's reader created (closed when it ends)
	st      *storer         // stores received chunks (filestorer.go)
}

type pendingChunk struct {
	t    *transfer
	w    *files.Writer
	data []byte
}

func (s *session) fs() *sessionFiles {
	if s.files == nil {
		s.files = &sessionFiles{offered: map[MessageID]bool{}}
	}
	return s.files
}

// queueLocked sends m on this session with the next batch.
func (s *session) queueLocked(m *wire.Message) {
	s.fs().ctl = append(s.fs().ctl, m)
	s.nudge()
}

// queueAcceptLocked tells the sender where to resume an accepted file,
// and directs its chunks to this session, once per session. An offer that
// arrived on an earlier session and was accepted on this one before the
// sender's re-offer arrived here was answered by the click (acceptLocked);
// the re-offer, found accepted, is not answered again. A second accept
// sent the sender back to the durable offset after it had sent chunks from
// there: those it sent again reached a t.expect already past them, and the
// file failed as out of order.
func (s *session) queueAcceptLocked(t *transfer) {
	if t.wSess == s {
		return // answered on this session; its chunks come to t.expect
	}
	// Another session's reader may be writing with t.w right now, outside
	// the lock: it keeps (and closes) that writer; this session starts its
	// own at the durable offset.
	t.w = nil
	t.wSess, t.expect = s, t.rec.Offset
	s.queueLocked(&wire.Message{Kind: wire.KindFileAccept, ID: t.id, Offset: t.rec.Offset})
}

// ---- reader side ----

// handleFileLocked handles a file message from the contact.
func (s *session) handleFileLocked(m *wire.Message) error {
	e, c := s.e, s.c
	fx := e.fx()
	id := MessageID(m.ID)
	t := fx.byID[id]
	if t != nil && t.c != c {
		return errDrop // another contact's transfer ID: hostile
	}
	if m.Kind == wire.KindFileOffer {
		return s.offerLocked(t, m)
	}
	if t == nil {
		if m.Kind == wire.KindFileCancel {
			s.queueLocked(&wire.Message{Kind: wire.KindFileReject, ID: m.ID, Status: wire.RejectCancelled})
			return nil
		}
		if m.Kind == wire.KindFileChunk {
			return s.ignoreChunk(m)
		}
		return nil // an answer about a file we no longer hold
	}
	in := t.rec.Dir == files.In
	switch m.Kind {
	case wire.KindFileChunk:
		if !in {
			return errDrop
		}
		return s.chunkLocked(t, m)
	case wire.KindFileCancel:
		if !in {
			return errDrop
		}
		if t.rec.State == files.Offered || t.rec.State == files.Accepted {
			why := "the sender cancelled it"
			if m.Status == wire.CancelExpired {
				why = "the sender's copy expired or was deleted"
			} else if m.Status == wire.CancelStalled {
				why = "the sender gave up: this side stopped acknowledging"
			}
			e.endLocked(t, files.Cancelled, wire.RejectCancelled, why, true)
			return nil
		}
		s.queueLocked(&wire.Message{Kind: wire.KindFileReject, ID: m.ID, Status: wire.RejectCancelled})
	case wire.KindFileAccept:
		if in || m.Offset > t.rec.Size {
			return errDrop
		}
		return s.acceptedLocked(t, m.Offset)
	case wire.KindFileAck:
		if in {
			return errDrop
		}
		if t.sess == s && m.Offset > t.sent {
			return errDrop // acknowledges bytes never sent
		}
		if t.sess == s && m.Offset > t.acked {
			t.acked, t.fullSince = m.Offset, time.Time{}
			t.growWindow()
			e.ev.emit(FileProgressEvent{File: t.info()})
			s.nudge()
		}
	case wire.KindFileDone:
		if in {
			return errDrop
		}
		return s.deliveredLocked(t)
	case wire.KindFileReject:
		if in {
			return errDrop
		}
		if t.rec.State == files.Cancelled {
			t.rec.Notify = false
			return e.saveTransferLocked(t)
		}
		if t.rec.State == files.Offered || t.rec.State == files.Accepted {
			state, why := files.Failed, rejectText(m.Status, t.c.rec.Petname)
			if m.Status == wire.RejectDeclined {
				state = files.Refused
			}
			e.endLocked(t, state, 0, why, false)
			t.rec.Notify = false
			return e.saveTransferLocked(t)
		}
	}
	return nil
}

func rejectText(reason uint8, who string) string {
	switch reason {
	case wire.RejectDeclined:
		return who + " refused it"
	case wire.RejectTooLarge:
		return who + " refused it: larger than " + who + "'s size limit"
	case wire.RejectBusy:
		return who + " refused it: too many files at once; send it again later"
	case wire.RejectName:
		return who + " refused it: its name is not allowed"
	case wire.RejectBadData:
		return who + " refused it: the data failed a check (size, chunks, SHA-256 or a decompression bomb)"
	case wire.RejectStorage:
		return who + " could not store it"
	case wire.RejectCancelled:
		return "cancelled"
	}
	return who + " refused it"
}

// offerLocked handles an offer: a new one is checked and stored (and
// accepted at once under the auto-accept size); a known one is answered
// with its state, which is how a transfer resumes.
func (s *session) offerLocked(t *transfer, m *wire.Message) error {
	e, c := s.e, s.c
	fx := e.fx()
	if t != nil {
		if t.rec.Dir != files.In {
			return errDrop // our own transfer's ID offered back
		}
		switch t.rec.State {
		case files.Accepted:
			s.queueAcceptLocked(t)
		case files.Complete:
			s.queueLocked(&wire.Message{Kind: wire.KindFileDone, ID: m.ID})
		case files.Refused:
			s.queueLocked(&wire.Message{Kind: wire.KindFileReject, ID: m.ID, Status: wire.RejectDeclined})
		case files.Cancelled:
			s.queueLocked(&wire.Message{Kind: wire.KindFileReject, ID: m.ID, Status: wire.RejectCancelled})
		case files.Failed:
			s.queueLocked(&wire.Message{Kind: wire.KindFileReject, ID: m.ID, Status: wire.RejectBadData})
		}
		return nil
	}
	id := MessageID(m.ID)
	if c.seen[id] {
		// Received before, and expired since.
		s.queueLocked(&wire.Message{Kind: wire.KindFileDone, ID: m.ID})
		return nil
	}
	limit := fx.limits.MaxSize
	if c.inMemory() {
		limit = min(limit, memFileLimit)
	}
	active, failed := 0, 0
	for _, o := range fx.byID {
		if o.c == c && o.rec.Dir == files.In {
			switch o.rec.State {
			case files.Offered, files.Accepted:
				active++
			case files.Failed:
				failed++
			}
		}
	}
	refuse := func(reason uint8, why string) error {
		s.queueLocked(&wire.Message{Kind: wire.KindFileReject, ID: m.ID, Status: reason})
		rec := files.Record{V: files.RecordVersion, ID: id[:], Dir: files.In, Name: files.Clean(m.Name),
			Size: max(1, min(m.Size, files.MaxSize)), Hash: m.Hash[:], State: files.Failed, At: e.cfg.now().Unix(),
			Err: "refused: " + why}
		t := &transfer{c: c, id: id, key: c.key + "." + fmt.Sprintf("%x", id[:]), rec: rec}
		if failed < maxFailedPerContact {
			// Kept so that a re-sent offer gets the same answer, and listed.
			if err := e.saveTransferLocked(t); err != nil {
				return err
			}
			fx.byID[id] = t
		}
		e.ev.emit(FileFailedEvent{File: t.info()})
		return nil
	}
	if err := files.Check(m.Name); err != nil {
		return refuse(wire.RejectName, "its name is unsafe: "+strings.TrimPrefix(err.Error(), files.ErrName.Error()+": "))
	}
	if int64(m.Size) > limit {
		return refuse(wire.RejectTooLarge, fmt.Sprintf("it is %s, more than your limit of %s", humanSize(int64(m.Size)), humanSize(limit)))
	}
	if active >= maxIncomingPerContact {
		return refuse(wire.RejectBusy, fmt.Sprintf("%d files from this contact are already waiting or moving", active))
	}
	now := e.cfg.now()
	at := int64(m.At)
	if at < 0 || at > now.Unix()+24*3600 {
		at = now.Unix() // a time from the peer is informational, and bounded
	}
	rec := files.Record{V: files.RecordVersion, ID: id[:], Dir: files.In, Name: m.Name, Size: m.Size,
		Hash: m.Hash[:], State: files.Offered, At: at, Timer: int64(m.Timer)}
	t = &transfer{c: c, id: id, key: c.key + "." + fmt.Sprintf("%x", id[:]), rec: rec}
	if err := e.saveTransferLocked(t); err != nil {
		return err
	}
	msg := &Message{ID: id, Identity: c.id.name, Contact: c.rec.Petname, Dir: Incoming, Kind: FileMessage,
		Text: m.Name, Timer: time.Duration(m.Timer) * time.Second, At: time.Unix(at, 0)}
	if err := e.storeMessageLocked(c, msg); err != nil {
		return err
	}
	c.seenAdd(id)
	fx.byID[id] = t
	e.ev.emit(MessageEvent{Message: *msg})
	e.ev.emit(FileOfferEvent{File: t.info()})
	if int64(m.Size) <= fx.limits.AutoAccept {
		return e.acceptLocked(t)
	}
	return nil
}

// ignoreChunk drops a chunk for a transfer that is not running (it was
// refused or cancelled while chunks were in flight), up to a bound: a
// sender that keeps sending after that is dropped.
func (s *session) ignoreChunk(m *wire.Message) error {
	s.fs().ignored += uint64(len(m.Data))
	if s.fs().ignored > 2*files.Window {
		return errDrop
	}
	return nil
}

// chunkLocked checks a chunk and queues it for storage.
func (s *session) chunkLocked(t *transfer, m *wire.Message) error {
	if t.rec.State != files.Accepted || t.wSess != s {
		return s.ignoreChunk(m)
	}
	switch {
	case m.Offset+uint64(len(m.Data)) > t.rec.Size:
		s.e.failLocked(t, fmt.Sprintf("the sender sent more data than the %s it declared", humanSize(int64(t.rec.Size))))
		return nil
	case m.Offset != t.expect:
		s.e.failLocked(t, "the sender's chunks are out of order")
		return nil
	case uint64(len(m.Data)) != min(files.ChunkSize, t.rec.Size-m.Offset):
		s.e.failLocked(t, "the sender's chunks have the wrong size")
		return nil
	}
	if t.w == nil {
		w, err := files.NewWriter(s.e.blobStore(t.c), t.key, t.rec.Size, t.rec.Offset, t.rec.HashState)
		if err != nil {
			s.e.failLocked(t, "its stored state is damaged: "+err.Error())
			return nil
		}
		t.w = w
		s.fs().writers = append(s.fs().writers, w)
	}
	t.expect += uint64(len(m.Data))
	s.fs().pend = append(s.fs().pend, pendingChunk{t: t, w: t.w, data: m.Data})
	return nil
}

// failLocked ends an incoming transfer whose data failed a check.
func (e *Engine) failLocked(t *transfer, why string) {
	reason := uint8(wire.RejectBadData)
	e.endLocked(t, files.Failed, reason, "refused: "+why+"; nothing was kept", true)
}

// completeLocked records a verified incoming file and says done.
func (e *Engine) completeLocked(t *transfer) {
	t.w.Close()
	t.w = nil
	t.rec.State, t.rec.HashState = files.Complete, nil
	if err := e.saveTransferLocked(t); err != nil {
		e.endLocked(t, files.Failed, wire.RejectStorage, "could not store it: "+err.Error(), true)
		return
	}
	e.startClockLocked(t)
	if s := t.c.sess; s != nil {
		s.queueLocked(&wire.Message{Kind: wire.KindFileDone, ID: t.id})
	}
	e.ev.emit(FileReceivedEvent{File: t.info()})
}

// startClockLocked starts the disappearing clock of a delivered file's line.
func (e *Engine) startClockLocked(t *transfer) {
	if t.rec.Timer == 0 {
		return
	}
	c := t.c
	for _, m := range c.msgs {
		if m.ID == t.id {
			m.ExpiresAt = e.cfg.now().Add(time.Duration(t.rec.Timer) * time.Second).Truncate(time.Second).Add(time.Second)
			if err := e.rewriteMessageLocked(c, m); err != nil {
				e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: storing a file's timer: %w", err)})
			}
			e.armExpiryLocked(c, m)
		}
	}
}

// ---- sender side ----

// acceptedLocked: the receiver accepted (or resumes) from offset.
func (s *session) acceptedLocked(t *transfer, offset uint64) error {
	e := s.e
	switch t.rec.State {
	case files.Offered:
		t.rec.State = files.Accepted
		if err := e.saveTransferLocked(t); err != nil {
			return err
		}
	case files.Accepted:
		if t.sess == s {
			// This session was accepted already: what it sent since
			// stands. A receiver answers once per session
			// (queueAcceptLocked); an older one answered a re-offer it had
			// accepted on this session again, with the same offset, before
			// any chunk of this session reached it. Going back to that
			// offset resent what this session had sent, which it then
			// failed as out of order.
			return nil
		}
	case files.Cancelled:
		s.queueLocked(&wire.Message{Kind: wire.KindFileCancel, ID: t.id, Status: wire.CancelUser})
		return nil
	default:
		return nil
	}
	if t.sess != nil && t.sess != s {
		// The file moves here from a session whose reader has not ended
		// yet (a reconnect faster than the old connection's end): what
		// it had in flight is lost all the same, so the window halves
		// now; closeFilesLocked, when that reader ends, no longer finds
		// the file its own.
		t.lostSession()
	}
	t.sess, t.sent, t.acked, t.fullSince = s, offset, offset, time.Time{}
	e.ev.emit(FileProgressEvent{File: t.info()})
	s.nudge()
	return nil
}

// deliveredLocked: the receiver verified and stored the file.
func (s *session) deliveredLocked(t *transfer) error {
	e, c := s.e, s.c
	if t.rec.State != files.Offered && t.rec.State != files.Accepted {
		return nil
	}
	t.rec.State, t.acked, t.sess = files.Complete, t.rec.Size, nil
	if err := e.saveTransferLocked(t); err != nil {
		return err
	}
	for _, m := range c.msgs {
		if m.ID == t.id {
			m.State = Delivered
		}
	}
	e.startClockLocked(t)
	e.ev.emit(DeliveredEvent{Identity: c.id.name, Contact: c.rec.Petname, ID: t.id})
	e.ev.emit(FileDeliveredEvent{File: t.info()})
	return nil
}

// chunkPlan is what readChunks read for the writer.
type chunkPlan struct {
	t    *transfer
	from uint64
	data [][]byte
}

// readChunks picks the file to send on this session and reads its next
// chunks from storage, outside Engine.mu. The writer goroutine calls it
// before each batch.
func (s *session) readChunks() *chunkPlan {
	e, c := s.e, s.c
	e.mu.Lock()
	fs := s.fs()
	var t *transfer
	var from, n uint64
	for _, o := range e.fx().byID {
		if o.c != c || o.sess != s || o.rec.Dir != files.Out || o.rec.State != files.Accepted || o.sent >= o.rec.Size {
			continue
		}
		if t == nil || o.rec.At < t.rec.At {
			t = o
		}
	}
	if t != nil {
		win := t.window()
		room := t.acked + win - t.sent
		if t.sent >= t.acked+win {
			room = 0
		}
		if room < files.ChunkSize && t.sent+room < t.rec.Size {
			// The receiver's time runs from when the window filled, not
			// from the last ack: with a small window (filewindow.go) on a
			// slow circuit, sending the window alone may take longer.
			if t.fullSince.IsZero() {
				t.fullSince = time.Now()
			}
			if time.Since(t.fullSince) > e.cfg.timing.Idle {
				e.endLocked(t, files.Failed, wire.CancelStalled,
					fmt.Sprintf("%s stopped acknowledging the data for %v; the transfer was stopped", c.rec.Petname, e.cfg.timing.Idle), true)
			}
			t = nil
		} else {
			from = t.sent
			left := t.rec.Size - from
			if left <= room {
				n = min(chunksPerBatch, (left+files.ChunkSize-1)/files.ChunkSize)
			} else {
				n = min(chunksPerBatch, room/files.ChunkSize) // never past the window
			}
		}
	}
	var st files.Store
	var key string
	var size uint64
	if t != nil {
		st, key, size = e.blobStore(c), t.key, t.rec.Size
	}
	e.mu.Unlock()
	if t == nil {
		return nil
	}
	if fs.rd == nil || fs.rdID != t.id || fs.rd.Pos() != from {
		if fs.rd != nil {
			fs.rd.Close()
		}
		fs.rd, fs.rdID = files.NewReader(st, key, size, from), t.id
	}
	plan := &chunkPlan{t: t, from: from}
	pos := from
	for i := uint64(0); i < n && pos < size; i++ {
		b := make([]byte, min(files.ChunkSize, size-pos))
		if _, err := io.ReadFull(fs.rd, b); err != nil {
			fs.rd.Close()
			fs.rd = nil
			e.mu.Lock()
			if t.rec.State == files.Accepted {
				e.endLocked(t, files.Failed, wire.CancelFailed, "its stored copy could not be read: "+err.Error(), true)
			}
			e.mu.Unlock()
			return nil
		}
		plan.data = append(plan.data, b)
		pos += uint64(len(b))
	}
	return plan
}

// fileMsgsLocked returns the file messages for the next batch: answers,
// offers not yet made on this session, and the chunks readChunks read if
// they are still wanted.
func (s *session) fileMsgsLocked(plan *chunkPlan) []*wire.Message {
	e, c := s.e, s.c
	fs := s.fs()
	out := fs.ctl
	fs.ctl = nil
	for _, t := range e.fx().byID {
		if t.c != c || t.rec.Dir != files.Out || fs.offered[t.id] {
			continue
		}
		switch {
		case t.rec.State == files.Offered || t.rec.State == files.Accepted:
			out = append(out, &wire.Message{Kind: wire.KindFileOffer, ID: t.id, At: uint64(t.rec.At),
				Timer: uint32(t.rec.Timer), Size: t.rec.Size, Hash: [32]byte(t.rec.Hash), Name: t.rec.Name})
		case t.rec.State == files.Cancelled && t.rec.Notify:
			out = append(out, &wire.Message{Kind: wire.KindFileCancel, ID: t.id, Status: wire.CancelUser})
		default:
			continue
		}
		fs.offered[t.id] = true
	}
	if plan != nil {
		t := plan.t
		if t.sess == s && t.sent == plan.from && t.rec.State == files.Accepted {
			for _, d := range plan.data {
				out = append(out, &wire.Message{Kind: wire.KindFileChunk, ID: t.id, Offset: t.sent, Data: d})
				t.sent += uint64(len(d))
				t.sentTotal += uint64(len(d))
			}
			if t.sent < t.rec.Size && t.sent < t.acked+t.window() {
				s.nudge() // more to send
			}
		}
	}
	return out
}

// closeFilesLocked releases what a session held for files (when it ends,
// after its writer stopped).
func (s *session) closeFilesLocked() {
	if s.files == nil {
		return
	}
	if s.files.rd != nil {
		s.files.rd.Close()
		s.files.rd = nil
	}
	for _, t := range s.e.fx().byID {
		if t.sess == s {
			t.sess = nil
			t.lostSession()
		}
		if t.wSess == s {
			t.wSess = nil
			t.w = nil
		}
	}
	// The reader has stopped: its writers' unfinished segments go.
	for _, w := range s.files.writers {
		w.Close()
	}
	s.files.writers = nil
}

// ---- conversation hooks ----

// fileExpiredLocked removes a file whose line expired.
func (e *Engine) fileExpiredLocked(c *contact, id MessageID) {
	t := e.fx().byID[id]
	if t == nil || t.c != c {
		return
	}
	if t.rec.Dir == files.Out && (t.rec.State == files.Offered || t.rec.State == files.Accepted) {
		e.endLocked(t, files.Cancelled, wire.CancelExpired, "its disappearing timer ran out", true)
	}
	e.dropBlobsLocked(t)
	if err := e.msgStore(c).Delete(kindFile, t.key); err != nil {
		e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: removing an expired file: %w", err)})
	}
	delete(e.fx().byID, id)
}

// deleteFilesLocked removes every file of a contact (contact removed,
// identity burned).
func (e *Engine) deleteFilesLocked(c *contact) error {
	var first error
	for id, t := range e.fx().byID {
		if t.c != c {
			continue
		}
		e.dropBlobsLocked(t)
		if err := e.msgStore(c).Delete(kindFile, t.key); err != nil && first == nil {
			first = err
		}
		delete(e.fx().byID, id)
	}
	return first
}
