package sotto

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sottochat/sotto/files"
	"github.com/sottochat/sotto/internal/wire"
	"github.com/sottochat/sotto/scrub"
)

// Files.
//
// A file is offered in a conversation, accepted by the receiver's user (or
// at once when it is no larger than the user's auto-accept size), streamed
// in chunks inside the session's double ratchet, stored on both sides as
// segments in the vault (standard age files), checked end to end with its
// SHA-256, and written out in the clear only by SaveFile, to a path the
// user chose. Before sending, its metadata is removed (package scrub)
// unless the user explicitly keeps it. A transfer resumes where it stopped
// after a disconnection or a restart of either side. docs/PROTOCOL.md
// Part 4 specifies the messages.
//
// A file is also a line of its conversation (a Message of kind
// FileMessage whose ID is the file's ID and whose Text is its sanitised
// name); the line expires with the conversation's timer like a text, and
// the file's stored bytes with it.

// FileMessage is the kind of a conversation line that is a file.
const FileMessage MessageKind = 2

// FileState is the state of a file transfer.
type FileState int

const (
	FileOffered      FileState = files.Offered   // offered, waiting for the receiver's answer
	FileTransferring FileState = files.Accepted  // accepted: bytes are moving (or will on the next connection)
	FileComplete     FileState = files.Complete  // received and verified (both sides know)
	FileRefused      FileState = files.Refused   // the receiver said no
	FileCancelled    FileState = files.Cancelled // the sender withdrew it
	FileFailed       FileState = files.Failed    // a check failed; Err says which
)

func (s FileState) String() string {
	switch s {
	case FileOffered:
		return "offered"
	case FileTransferring:
		return "transferring"
	case FileComplete:
		return "complete"
	case FileRefused:
		return "refused"
	case FileCancelled:
		return "cancelled"
	case FileFailed:
		return "failed"
	}
	return "unknown"
}

// FileInfo describes one file of a conversation.
type FileInfo struct {
	ID        MessageID
	Identity  string
	Contact   string
	Dir       Direction // Outgoing or Incoming
	Name      string    // sanitised (files.Check holds); shown as it is, never used as a path by Sotto
	Size      int64
	SHA256    [32]byte
	State     FileState
	Done      int64 // bytes stored (incoming) or acknowledged by the receiver (outgoing)
	Sent      int64 // outgoing: bytes sent, counting what was sent again after a disconnection
	At        time.Time
	ExpiresAt time.Time // zero: never
	Err       string    // why it failed, for the user
	Removed   []string  // outgoing: the metadata removed before sending
	Method    string    // outgoing: "native", "mat2", "none" (nothing to remove) or "kept" (sent unchanged)
}

// Events of file transfers.
type (
	// FileOfferEvent: a contact offers a file (accept or reject it), or,
	// for one under the auto-accept size, offered and accepted at once.
	FileOfferEvent struct{ File FileInfo }
	// FileProgressEvent: bytes stored (incoming) or acknowledged (outgoing).
	FileProgressEvent struct{ File FileInfo }
	// FileReceivedEvent: an incoming file is complete, its SHA-256 checked.
	FileReceivedEvent struct{ File FileInfo }
	// FileDeliveredEvent: the contact verified and stored an outgoing file.
	FileDeliveredEvent struct{ File FileInfo }
	// FileFailedEvent: a transfer ended without the file: refused,
	// cancelled, or a check failed. File.Err says why.
	FileFailedEvent struct{ File FileInfo }
)

func (FileOfferEvent) isEvent()     {}
func (FileProgressEvent) isEvent()  {}
func (FileReceivedEvent) isEvent()  {}
func (FileDeliveredEvent) isEvent() {}
func (FileFailedEvent) isEvent()    {}

// File errors callers can branch on.
var (
	// ErrMetadata: the file's metadata cannot be removed (an unknown
	// format, or mat2 is missing or refused it). Send it with
	// SendFileOptions.KeepMetadata to send it unchanged.
	ErrMetadata = errors.New("sotto: the file's metadata cannot be removed")
	// ErrUnknownFile: no file has that ID.
	ErrUnknownFile = errors.New("sotto: no such file")
	// ErrFileTooLarge: over the size limit (FileLimits).
	ErrFileTooLarge = errors.New("sotto: the file is larger than the limit")
	// ErrFileNotReady: the file is not complete (or was refused, cancelled,
	// or removed), so there is nothing to save.
	ErrFileNotReady = errors.New("sotto: the file is not complete")
	// ErrFileExists: SaveFile would overwrite a file and was not told to.
	ErrFileExists = errors.New("sotto: a file exists at that path")
)

// FileLimits are the user's choices for files.
type FileLimits struct {
	// MaxSize is the largest file sent or accepted, in bytes.
	MaxSize int64
	// AutoAccept: an offered file no larger than this is accepted without
	// asking (0: always ask).
	AutoAccept int64
}

// DefaultFileLimits: files up to 2 GiB, always ask.
var DefaultFileLimits = FileLimits{MaxSize: 2 << 30, AutoAccept: 0}

const (
	kindFile     = "file"     // transfer records, key contact key "." hex(id)
	kindSettings = "settings" // profile settings, key "files"
	// maxIncomingPerContact bounds the files a contact may have offered or
	// moving at once; more are refused (busy).
	maxIncomingPerContact = 16
	// maxFailedPerContact bounds the refused-offer records kept per contact.
	maxFailedPerContact = 256
	// chunksPerBatch bounds the chunks written between two looks at the
	// outbox, so that texts keep flowing while a file moves.
	chunksPerBatch = 32
)

// transfer is one file, in memory. Guarded by Engine.mu.
type transfer struct {
	c   *contact
	id  MessageID
	key string
	rec files.Record

	// receiving
	w      *files.Writer // open while a session writes it
	wSess  *session      // the session whose chunks are written
	expect uint64        // next byte expected in wSess

	// sending
	sess      *session  // the session sending it
	sent      uint64    // next byte to send in sess
	acked     uint64    // the receiver's durable offset
	fullSince time.Time // when the window filled with no ack since (zero: not full)
	sentTotal uint64    // every byte sent, across sessions
	win       uint64    // the window now; 0 is files.Window (filewindow.go)
	lastCut   windowCut // the last lostSession that halved the window
}

// fileEngine is the engine's file state. Guarded by Engine.mu.
type fileEngine struct {
	byID   map[MessageID]*transfer
	limits FileLimits
}

func (e *Engine) fx() *fileEngine {
	if e.files == nil {
		e.files = &fileEngine{byID: map[MessageID]*transfer{}, limits: DefaultFileLimits}
	}
	return e.files
}

func (t *transfer) info() FileInfo {
	fi := FileInfo{
		ID: t.id, Identity: t.c.id.name, Contact: t.c.rec.Petname, Dir: Incoming,
		Name: t.rec.Name, Size: int64(t.rec.Size), State: FileState(t.rec.State),
		At: time.Unix(t.rec.At, 0), Err: t.rec.Err, Removed: t.rec.Removed, Method: t.rec.Method,
		Done: int64(t.rec.Offset), Sent: int64(t.sentTotal),
	}
	copy(fi.SHA256[:], t.rec.Hash)
	if t.rec.Dir == files.Out {
		fi.Dir = Outgoing
		fi.Done = int64(t.acked)
	}
	if t.rec.State == files.Complete {
		fi.Done = fi.Size
	}
	for _, m := range t.c.msgs {
		if m.ID == t.id {
			fi.ExpiresAt = m.ExpiresAt
		}
	}
	return fi
}

func (e *Engine) saveTransferLocked(t *transfer) error {
	b, err := t.rec.Marshal()
	if err != nil {
		return err
	}
	return e.msgStore(t.c).Put(kindFile, t.key, b)
}

// ---- loading ----

// loadFiles reads every transfer record of the profile (at Open) and
// removes stored pieces that no record refers to (a crash between storing
// a piece and recording it).
func (e *Engine) loadFiles() error {
	fx := e.fx()
	if b, err := e.cfg.disk.Get(kindSettings, "files"); err == nil {
		var l FileLimits
		if json.Unmarshal(b, &l) == nil && l.MaxSize > 0 && l.MaxSize <= files.MaxSize && l.AutoAccept >= 0 {
			fx.limits = l
		}
	}
	var live []string
	for _, id := range e.ids {
		for _, c := range id.contacts {
			st := e.msgStore(c)
			keys, err := st.Keys(kindFile)
			if err != nil {
				return err
			}
			for _, k := range keys {
				if len(k) <= len(c.key)+1 || k[:len(c.key)+1] != c.key+"." {
					continue
				}
				b, err := st.Get(kindFile, k)
				if err != nil {
					return err
				}
				rec, err := files.ParseRecord(b)
				if err != nil {
					return fmt.Errorf("sotto: reading a file's record: %w", err)
				}
				t := &transfer{c: c, key: k, rec: *rec}
				copy(t.id[:], rec.ID)
				fx.byID[t.id] = t
				for _, m := range c.msgs {
					if m.ID == t.id && m.Dir == Outgoing {
						m.State = Pending
						if rec.State == files.Complete {
							m.State = Delivered
						}
					}
				}
				if st == e.cfg.disk {
					live = append(live, t.segmentNames()...)
				}
			}
		}
	}
	if vs, ok := e.cfg.disk.(*vaultStore); ok {
		if err := vs.v.PruneBlobs(live); err != nil {
			return fmt.Errorf("sotto: cleaning up stored files: %w", err)
		}
	}
	return nil
}

// segmentNames lists the stored pieces a transfer's record accounts for.
func (t *transfer) segmentNames() []string {
	var n uint64
	switch {
	case t.rec.Dir == files.Out && (t.rec.State <= files.Complete):
		n = files.Segments(t.rec.Size)
	case t.rec.Dir == files.In && t.rec.State == files.Complete:
		n = files.Segments(t.rec.Size)
	case t.rec.Dir == files.In && t.rec.State == files.Accepted:
		n = t.rec.Offset / files.SegmentSize
	}
	out := make([]string, n)
	for i := range out {
		out[i] = files.SegmentName(t.key, uint64(i))
	}
	return out
}

// dropBlobsLocked deletes a transfer's stored bytes.
func (e *Engine) dropBlobsLocked(t *transfer) {
	// Its writer belongs to a session's storer, which may be writing with
	// it right now: the storer drops its unfinished segment (filestorer.go).
	t.w = nil
	n := files.Segments(t.rec.Size)
	if t.rec.Dir == files.In && t.rec.State != files.Complete {
		n = min(n, t.rec.Offset/files.SegmentSize+1) // and one being written
	}
	st := e.blobStore(t.c)
	for i := range n {
		st.RemoveBlob(files.SegmentName(t.key, i))
	}
}

// ---- limits ----

// FileLimits returns the user's file limits.
func (e *Engine) FileLimits() FileLimits {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fx().limits
}

// SetFileLimits sets the largest file sent or accepted and the size under
// which offers are accepted without asking; they are stored in the profile.
func (e *Engine) SetFileLimits(l FileLimits) error {
	if l.MaxSize <= 0 || l.MaxSize > files.MaxSize {
		return fmt.Errorf("%w: the size limit is 1 byte to %d bytes", ErrFileTooLarge, int64(files.MaxSize))
	}
	if l.AutoAccept < 0 || l.AutoAccept > l.MaxSize {
		return fmt.Errorf("sotto: the auto-accept size is 0 (always ask) up to the size limit")
	}
	b, _ := json.Marshal(l)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.checkOpen(); err != nil {
		return err
	}
	if err := e.cfg.disk.Put(kindSettings, "files", b); err != nil {
		return fmt.Errorf("sotto: saving the file limits: %w", err)
	}
	e.fx().limits = l
	return nil
}

// ---- listing ----

// Files lists the files of a conversation, oldest first.
func (e *Engine) Files(identity, contact string) ([]FileInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, c, err := e.contactLocked(identity, contact)
	if err != nil {
		return nil, err
	}
	var out []FileInfo
	for _, t := range e.fx().byID {
		if t.c == c {
			out = append(out, t.info())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return hex.EncodeToString(out[i].ID[:]) < hex.EncodeToString(out[j].ID[:])
	})
	return out, nil
}

// File returns one file by its ID.
func (e *Engine) File(id MessageID) (FileInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.transferLocked(id)
	if err != nil {
		return FileInfo{}, err
	}
	return t.info(), nil
}

func (e *Engine) transferLocked(id MessageID) (*transfer, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	t := e.fx().byID[id]
	if t == nil || t.c.removed {
		return nil, ErrUnknownFile
	}
	return t, nil
}

// ---- sending ----

// SendFileOptions are the choices made when sending a file.
type SendFileOptions struct {
	// Name is the name the contact sees; "" means the file's own name.
	// Either way it is cleaned (files.Clean).
	Name string
	// KeepMetadata sends the file unchanged, metadata and all. Without
	// it, a file whose metadata cannot be removed is refused with
	// ErrMetadata.
	KeepMetadata bool
}

// SendFile removes the metadata of the file at path (unless
// o.KeepMetadata), stores the result in the vault and offers it to the
// contact. It returns once the file is stored: the transfer then runs
// whenever both sides are online, across restarts, with FileProgressEvents
// and a FileDeliveredEvent or FileFailedEvent. FileInfo.Removed says what
// was removed.
func (e *Engine) SendFile(ctx context.Context, identity, contact, path string, o SendFileOptions) (FileInfo, error) {
	if ctx == nil {
		return FileInfo{}, ErrNilContext
	}
	e.mu.Lock()
	_, c, err := e.contactLocked(identity, contact)
	var limit int64
	if err == nil {
		limit = e.fx().limits.MaxSize
		if c.inMemory() {
			limit = min(limit, memFileLimit)
		}
	}
	e.mu.Unlock()
	if err != nil {
		return FileInfo{}, err
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return FileInfo{}, fmt.Errorf("sotto: there is no file %s there: check the path", filepath.Base(path))
	case errors.Is(err, fs.ErrPermission):
		return FileInfo{}, fmt.Errorf("sotto: you may not read %s: check its permissions", filepath.Base(path))
	case err != nil:
		return FileInfo{}, fmt.Errorf("sotto: %w", err)
	case fi.IsDir():
		return FileInfo{}, fmt.Errorf("sotto: %s is a folder: send its files one by one, or an archive of it", filepath.Base(path))
	case !fi.Mode().IsRegular():
		return FileInfo{}, fmt.Errorf("sotto: %s is not a regular file (a device, pipe or socket)", filepath.Base(path))
	}
	if fi.Size() == 0 {
		return FileInfo{}, fmt.Errorf("sotto: %s is empty: there is nothing to send", filepath.Base(path))
	}
	if fi.Size() > limit {
		return FileInfo{}, fmt.Errorf("%w: %s is %s, the limit is %s", ErrFileTooLarge, filepath.Base(path), humanSize(fi.Size()), humanSize(limit))
	}
	name := o.Name
	if name == "" {
		name = filepath.Base(path)
	}
	name = files.Clean(name)
	id := e.randomID()
	key := c.key + "." + hex.EncodeToString(id[:])
	w, err := files.NewWriter(e.blobStore(c), key, 0, 0, nil)
	if err != nil {
		return FileInfo{}, err
	}
	rec := files.Record{V: files.RecordVersion, ID: id[:], Dir: files.Out, Name: name, State: files.Offered}
	if o.KeepMetadata {
		rec.Method = "kept"
		f, err := os.Open(path)
		if err != nil {
			return FileInfo{}, fmt.Errorf("sotto: %w", err)
		}
		_, err = io.Copy(&ctxWriter{ctx: ctx, w: &capWriter{w: w, left: limit}}, f)
		f.Close()
		if err != nil {
			w.Discard()
			return FileInfo{}, fmt.Errorf("sotto: storing the file: %w", err)
		}
	} else {
		rep, err := scrub.Clean(ctx, path, name, &capWriter{w: w, left: limit}, nil)
		if err != nil {
			w.Discard()
			if errors.Is(err, scrub.ErrUnsupported) || errors.Is(err, scrub.ErrMalformed) || errors.Is(err, scrub.ErrBomb) {
				return FileInfo{}, fmt.Errorf("%w: %v; to send it unchanged, with its metadata, choose to keep the metadata (sotto file send --keep-metadata)", ErrMetadata, err)
			}
			return FileInfo{}, fmt.Errorf("sotto: storing the file: %w", err)
		}
		rec.Method, rec.Removed = string(rep.Method), rep.Removed
		if len(rec.Removed) > 64 {
			rec.Removed = rec.Removed[:64]
		}
	}
	size, sum, err := w.Finish()
	if err != nil {
		w.Discard()
		return FileInfo{}, fmt.Errorf("sotto: storing the file: %w", err)
	}
	rec.Size, rec.Hash = size, sum[:]
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.checkOpen(); err != nil || c.removed {
		w.Discard()
		if err == nil {
			// Removed while the file was being stored: the same error as
			// the lookup gives now, naming the contact, not the bare
			// sentinel ("no such contact", but which?).
			err = unknownContact(c.id, contact)
		}
		return FileInfo{}, err
	}
	now := e.cfg.now()
	rec.At, rec.Timer = now.Unix(), c.rec.Timer
	t := &transfer{c: c, id: id, key: key, rec: rec}
	if err := e.saveTransferLocked(t); err != nil {
		w.Discard()
		return FileInfo{}, fmt.Errorf("sotto: storing the file: %w", err)
	}
	m := &Message{ID: id, Identity: c.id.name, Contact: c.rec.Petname, Dir: Outgoing, Kind: FileMessage,
		Text: name, Timer: time.Duration(rec.Timer) * time.Second, At: now.Truncate(time.Second), State: Pending}
	if err := e.storeMessageLocked(c, m); err != nil {
		return FileInfo{}, fmt.Errorf("sotto: storing the file: %w", err)
	}
	e.fx().byID[id] = t
	c.nudge()
	return t.info(), nil
}

// capWriter fails once more than left bytes are written (a file that grew
// past the limit while it was read, or a mat2 output larger than allowed).
type capWriter struct {
	w    io.Writer
	left int64
}

func (c *capWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > c.left {
		return 0, fmt.Errorf("%w while it was being stored", ErrFileTooLarge)
	}
	c.left -= int64(len(p))
	return c.w.Write(p)
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// ---- answering offers ----

// AcceptFile accepts an offered file: it is received when both sides are
// online, and a FileReceivedEvent reports it complete.
func (e *Engine) AcceptFile(ctx context.Context, id MessageID) error {
	if ctx == nil {
		return ErrNilContext
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.transferLocked(id)
	if err != nil {
		return err
	}
	if t.rec.Dir != files.In {
		return fmt.Errorf("%w: you sent that file; only its receiver accepts it", ErrUnknownFile)
	}
	switch t.rec.State {
	case files.Offered:
	case files.Accepted, files.Complete:
		return nil
	default:
		return fmt.Errorf("%w: it was %s", ErrFileNotReady, FileState(t.rec.State))
	}
	return e.acceptLocked(t)
}

func (e *Engine) acceptLocked(t *transfer) error {
	t.rec.State = files.Accepted
	if err := e.saveTransferLocked(t); err != nil {
		return fmt.Errorf("sotto: saving the file's state: %w", err)
	}
	if s := t.c.sess; s != nil {
		s.queueAcceptLocked(t)
	}
	e.ev.emit(FileProgressEvent{File: t.info()})
	return nil
}

// RejectFile refuses an offered file (or stops receiving it): what was
// received is deleted and the sender is told.
func (e *Engine) RejectFile(ctx context.Context, id MessageID) error {
	if ctx == nil {
		return ErrNilContext
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.transferLocked(id)
	if err != nil {
		return err
	}
	if t.rec.Dir != files.In {
		return e.cancelLocked(t)
	}
	if t.rec.State != files.Offered && t.rec.State != files.Accepted {
		return nil
	}
	e.endLocked(t, files.Refused, wire.RejectDeclined, "you refused it", true)
	return nil
}

// CancelFile withdraws a file being sent (or refuses one being received).
func (e *Engine) CancelFile(ctx context.Context, id MessageID) error {
	if ctx == nil {
		return ErrNilContext
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.transferLocked(id)
	if err != nil {
		return err
	}
	if t.rec.Dir == files.In {
		if t.rec.State == files.Offered || t.rec.State == files.Accepted {
			e.endLocked(t, files.Refused, wire.RejectDeclined, "you refused it", true)
		}
		return nil
	}
	return e.cancelLocked(t)
}

func (e *Engine) cancelLocked(t *transfer) error {
	if t.rec.State != files.Offered && t.rec.State != files.Accepted {
		return nil
	}
	e.endLocked(t, files.Cancelled, wire.CancelUser, "you cancelled it", true)
	return nil
}

// endLocked ends a transfer without the file: it records why, deletes the
// stored bytes (an outgoing file's copy too: its sender still has the
// original), tells the contact now if connected (else at its next offer,
// or with Notify), and reports it.
func (e *Engine) endLocked(t *transfer, state int, reason uint8, why string, tell bool) {
	e.dropBlobsLocked(t)
	t.rec.State = state
	t.rec.Err = why
	t.rec.Offset = 0
	t.rec.HashState = nil
	t.rec.Notify = t.rec.Dir == files.Out // the receiver learns of a cancel only if told
	if err := e.saveTransferLocked(t); err != nil {
		e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: saving the file's state: %w", err)})
	}
	if s := t.c.sess; s != nil && tell {
		kind := wire.KindFileReject
		if t.rec.Dir == files.Out {
			kind = wire.KindFileCancel
		}
		s.queueLocked(&wire.Message{Kind: kind, ID: t.id, Status: reason})
		s.fs().offered[t.id] = true
	}
	t.sess, t.wSess = nil, nil
	e.ev.emit(FileFailedEvent{File: t.info()})
}

// ---- export ----

// SaveFile writes a complete file, in the clear, to path (a file, or an
// existing directory to put it in under its name). It never overwrites an
// existing file unless overwrite is set, checks the file's SHA-256 while
// writing (a damaged copy is not left behind), and never opens or runs
// what it wrote. It returns the path written.
func (e *Engine) SaveFile(ctx context.Context, id MessageID, path string, overwrite bool) (string, error) {
	if ctx == nil {
		return "", ErrNilContext
	}
	if path == "" {
		return "", errors.New("sotto: say where to save the file")
	}
	e.mu.Lock()
	t, err := e.transferLocked(id)
	var st files.Store
	var rec files.Record
	var key string
	if err == nil {
		rec, key, st = t.rec, t.key, e.blobStore(t.c)
		ready := rec.State == files.Complete || rec.Dir == files.Out && (rec.State == files.Offered || rec.State == files.Accepted)
		if !ready {
			err = fmt.Errorf("%w (%s, %s of %s)", ErrFileNotReady, FileState(rec.State), humanSize(int64(rec.Offset)), humanSize(int64(rec.Size)))
		}
	}
	e.mu.Unlock()
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, rec.Name)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".sotto-save-*")
	if err != nil {
		return "", fmt.Errorf("sotto: saving the file: %w", err)
	}
	tmpName := tmp.Name()
	fail := func(err error) (string, error) {
		tmp.Close()
		os.Remove(tmpName)
		return "", err
	}
	h := sha256.New()
	r := files.NewReader(st, key, rec.Size, 0)
	_, err = io.Copy(io.MultiWriter(&ctxWriter{ctx: ctx, w: tmp}, h), r)
	r.Close()
	if err != nil {
		return fail(fmt.Errorf("sotto: saving the file: %w", err))
	}
	if string(h.Sum(nil)) != string(rec.Hash) {
		return fail(errors.New("sotto: the stored copy of the file is damaged (its SHA-256 does not match); nothing was saved"))
	}
	if err := tmp.Sync(); err != nil {
		return fail(fmt.Errorf("sotto: saving the file: %w", err))
	}
	if err := tmp.Close(); err != nil {
		return fail(fmt.Errorf("sotto: saving the file: %w", err))
	}
	if overwrite {
		err = os.Rename(tmpName, path)
	} else {
		// Never replaces an existing file, atomically.
		err = renameNoReplace(tmpName, path)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENOTSUP) {
			if err = os.Link(tmpName, path); err == nil {
				os.Remove(tmpName)
			}
		}
	}
	if err != nil {
		os.Remove(tmpName)
		if errors.Is(err, os.ErrExist) || errors.Is(err, unix.EEXIST) {
			return "", fmt.Errorf("%w: %s (choose another path, or overwrite explicitly)", ErrFileExists, path)
		}
		return "", fmt.Errorf("sotto: saving the file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return path, nil
}

// humanSize writes a byte count for people.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
