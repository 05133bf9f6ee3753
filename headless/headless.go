package headless

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/internal/erase"
)

// Engine is the part of *sotto.Engine the headless mode drives. cmd/sotto
// passes the real engine; tests pass sottotest.Engine.
type Engine interface {
	Events() <-chan sotto.Event
	TorStatus() sotto.TorStatus
	Identities() []sotto.IdentityInfo
	NewIdentity(ctx context.Context, name string, o sotto.IdentityOptions) (sotto.IdentityInfo, error)
	BurnIdentity(ctx context.Context, name string) error
	Card(identity string) (string, error)
	AddContact(ctx context.Context, identity, petname, code string) (sotto.ContactInfo, error)
	RemoveContact(ctx context.Context, identity, petname string) error
	Contacts(identity string) ([]sotto.ContactInfo, error)
	SafetyCode(identity, contact string) (string, error)
	Verify(identity, contact string) error
	Messages(identity, contact string) ([]sotto.Message, error)
	MarkRead(identity, contact string) error
	MarkShown(identity, contact string, ids ...sotto.MessageID) ([]sotto.Message, error)
	Outbox(identity, contact string) ([]sotto.OutboxEntry, error)
	Send(ctx context.Context, identity, contact, text string) (sotto.MessageID, error)
	SendQueued(ctx context.Context, identity, contact, text string) (sotto.MessageID, func() error, error)
	SetTimer(ctx context.Context, identity, contact string, d time.Duration) error
	SetHistory(identity, contact string, keep bool) error
	Requests(identity string) ([]sotto.Request, error)
	AcceptRequest(ctx context.Context, identity, requestID, petname string) error
	RejectRequest(ctx context.Context, identity, requestID string) error
}

// Run reads commands from in and writes replies and events to out, one JSON
// object per line each way, until a "quit" command, the end of in, ctx being
// done, or the engine closing its event channel. It returns nil after quit or
// end of input, ctx.Err() when ctx is done, and an error when out cannot be
// written or the engine's events stop.
//
// Every command gets exactly one reply ("ok" or "error", with the command's
// "cmd" and "tag"), in the order of the commands; engine events are written
// as they happen, interleaved with replies, so a "sent" event may come before
// the "ok" of its "send". Every reply also carries the number of the input
// line it answers ("line", counting from 1 every line read, blank and
// skipped ones included), so that a script that wrote many lines without
// tags can tell which one an answer is for. A line that is not a valid
// command gets an "error" reply and Run carries on.
//
// Consecutive "send" lines are pipelined (sendPipe): a send's text is queued
// at once, in order, and its "ok" written once it is on disk, while the next
// lines are read and queued; texts queued together share a commit. So a
// script that writes many sends without waiting for each reply gets them
// stored about as fast as one, and one that waits sees no difference. Any
// other command runs once every send before it has its reply.
//
// Run does not close in or out. When it returns because ctx is done, the
// goroutine reading in ends at the next line or at the end of in; in belongs
// to the caller, who closes it.
func Run(ctx context.Context, e Engine, in io.Reader, out io.Writer) error {
	if ctx == nil {
		return errors.New("headless: nil context")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &writer{out: out}

	// Lines in and out carry message texts: every goroutine here handles
	// them inside erase.Do (T22), and wipes its buffers.

	// One goroutine pumps engine events to out; Run waits for it.
	pumpDone := make(chan error, 1)
	hub := newWaitHub() // the pump wakes a "wait" command (wait.go)
	go func() {
		var err error
		erase.Do(func() { err = pump(ctx, e, e.Events(), w, hub) })
		hub.pumpStopped()
		pumpDone <- err
	}()

	// One goroutine reads lines; it hands each over and waits to be asked for
	// the next, so it never reads ahead of the command being run.
	lines := make(chan lineResult)
	next := make(chan struct{})
	go erase.Do(func() { readLines(in, lines, next, ctx.Done()) })

	finish := func(err error) error {
		cancel()
		if perr := <-pumpDone; err == nil && perr != nil && !errors.Is(perr, context.Canceled) {
			err = perr
		}
		return err
	}
	var p sendPipe
	for {
		in := lines
		if p.full() {
			in = nil // a reply first
		}
		select {
		case <-ctx.Done():
			return finish(ctx.Err())
		case err := <-pumpDone:
			pumpDone <- err // finish reads it again
			return finish(err)
		case <-p.head():
			if err := p.replyHead(w); err != nil {
				return finish(err)
			}
		case lr, ok := <-in:
			if !ok {
				// End of input: the sends in flight get their replies.
				return finish(p.drain(w))
			}
			if lr.err != nil {
				return finish(errors.Join(p.drain(w), lr.err))
			}
			var quit bool
			var err error
			erase.Do(func() { quit, err = handleLine(ctx, e, w, hub, lr, &p) })
			clear(lr.line)
			if err != nil || quit {
				return finish(err)
			}
			select {
			case next <- struct{}{}:
			case <-ctx.Done():
				return finish(ctx.Err())
			}
		}
	}
}

// maxPipelined bounds the sends in flight in one Run (queued, their "ok"
// not yet written): each holds its text until then.
const maxPipelined = 64

// sendPipe holds the sends in flight, oldest first.
type sendPipe struct {
	q []*inflight
}

// inflight is one queued send: done closes once r, its reply, is known.
type inflight struct {
	done chan struct{}
	r    reply
}

func (p *sendPipe) full() bool { return len(p.q) >= maxPipelined }

// head is closed once the oldest send's reply is known; nil (never ready)
// with nothing in flight.
func (p *sendPipe) head() <-chan struct{} {
	if len(p.q) == 0 {
		return nil
	}
	return p.q[0].done
}

// replyHead writes the oldest send's reply, once known, and drops it.
func (p *sendPipe) replyHead(w *writer) error {
	f := p.q[0]
	<-f.done
	p.q[0] = nil
	p.q = p.q[1:]
	return w.write(f.r)
}

// drain writes every reply in flight, in order.
func (p *sendPipe) drain(w *writer) error {
	for len(p.q) > 0 {
		if err := p.replyHead(w); err != nil {
			return err
		}
	}
	return nil
}

// send queues c's text, read from input line n, and adds its reply to the
// pipe: known at once if the text could not be queued, else once it is
// stored.
func (p *sendPipe) send(ctx context.Context, e Engine, c Command, n int) {
	f := &inflight{done: make(chan struct{}), r: reply{Cmd: c.Cmd, Tag: c.Tag, Line: n}}
	p.q = append(p.q, f)
	id, stored, err := e.SendQueued(ctx, c.Identity, c.Contact, c.Text)
	if err != nil {
		f.r.setErr(err)
		close(f.done)
		return
	}
	go func() {
		if err := stored(); err != nil {
			f.r.setErr(err)
		} else {
			f.r.Event, f.r.key, f.r.value = "ok", "message", id.String()
		}
		close(f.done)
	}()
}

// setErr makes r the error reply for err.
func (r *reply) setErr(err error) {
	r.Event, r.Error, r.Code = "error", errorText(err), errorCode(err)
}

// errorText is err's message for a reply: the engine's, with what to do
// added where the engine cannot know it. A contact name that is not found
// and resembles none gets the command that lists the right ones.
func errorText(err error) string {
	var uc *sotto.UnknownContactError
	if errors.As(err, &uc) && uc.Suggestion == "" {
		return err.Error() + `; the "contacts" command lists the identity's contacts`
	}
	return err.Error()
}

// lineResult is one line read from in, or the reason reading stopped.
type lineResult struct {
	line    []byte
	n       int // its number: 1 for the first line read, blank ones counted
	tooLong bool
	err     error // a read error other than io.EOF
}

// readLines reads newline-terminated lines of at most MaxLineBytes. A longer
// line is skipped up to its newline and reported as tooLong. Blank lines are
// not handed over but are counted: a line's number is its position in the
// input, as a script (or an editor) counts it. It closes lines at the end
// of input.
func readLines(in io.Reader, lines chan<- lineResult, next <-chan struct{}, done <-chan struct{}) {
	defer close(lines)
	br := bufio.NewReaderSize(in, 4096)
	var buf []byte
	tooLong := false
	n := 0
	for {
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 {
			if !tooLong && len(buf)+len(frag) > MaxLineBytes+1 { // +1: the newline itself
				tooLong = true
				clear(buf)
				buf = buf[:0]
			}
			if !tooLong {
				buf = append(buf, frag...)
			}
			// Read already: wipe it from bufio's buffer (T22).
			clear(frag)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && err != io.EOF {
			select {
			case lines <- lineResult{err: fmt.Errorf("headless: reading input: %w", err)}:
			case <-done:
			}
			return
		}
		if len(frag) > 0 || tooLong || len(buf) > 0 {
			n++
			line := bytes.TrimSuffix(buf, []byte("\n"))
			line = bytes.TrimSuffix(line, []byte("\r"))
			lr := lineResult{line: append([]byte(nil), line...), n: n, tooLong: tooLong}
			clear(buf)
			buf, tooLong = buf[:0], false
			if len(bytes.TrimSpace(lr.line)) > 0 || lr.tooLong {
				select {
				case lines <- lr:
				case <-done:
					return
				}
				select {
				case <-next:
				case <-done:
					return
				}
			}
		}
		if err == io.EOF {
			return
		}
	}
}

// pump writes engine events until ctx is done or the channel closes, and
// tells hub of each once written.
func pump(ctx context.Context, e Engine, events <-chan sotto.Event, w *writer, hub *waitHub) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-events:
			if !ok {
				return errors.New("headless: the engine stopped")
			}
			var err error
			erase.Do(func() { // per event: its stack is erased at once
				if v, ok := encodeEvent(shown(e, ev)); ok {
					if amnesic(e) {
						v = markAmnesic(v)
					}
					err = w.write(v)
				}
			})
			if err != nil {
				return err
			}
			hub.saw(ev)
		}
	}
}

// writer serialises whole lines to out.
type writer struct {
	mu  sync.Mutex
	out io.Writer
	err error
}

// write encodes v as one line and writes it. The line (which may hold a
// message's text) is encoded into buffers of its own, not encoding/json's
// pooled ones, and wiped once written (threat T22).
func (w *writer) write(v any) error {
	b, err := appendJSON(nil, v)
	if err != nil {
		clear(b)
		return fmt.Errorf("headless: encoding output: %w", err)
	}
	b = append(b, '\n')
	line := escapeInvisible(b)
	defer clear(b)
	defer clear(line)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if _, err := w.out.Write(line); err != nil {
		w.err = fmt.Errorf("headless: writing output: %w", err)
	}
	return w.err
}

// handleLine runs one line's command and writes its reply. It reports quit
// for the "quit" command, and an error only when out cannot be written. A
// "send" joins p (its reply comes later); anything else first waits for the
// replies of the sends in p, so that replies keep the commands' order.
func handleLine(ctx context.Context, e Engine, w *writer, hub *waitHub, lr lineResult, p *sendPipe) (quit bool, err error) {
	var c Command
	var perr error
	if !lr.tooLong {
		c, perr = ParseCommand(lr.line)
		if perr == nil && c.Cmd == "send" {
			p.send(ctx, e, c, lr.n)
			return false, nil
		}
	}
	if err := p.drain(w); err != nil {
		return false, err
	}
	if lr.tooLong {
		return false, w.write(reply{Event: "error", Line: lr.n, Error: fmt.Sprintf("headless: line longer than %d bytes, skipped", MaxLineBytes), Code: "bad_command"})
	}
	if perr != nil {
		var ce *CommandError
		r := reply{Event: "error", Line: lr.n, Error: perr.Error(), Code: "bad_command"}
		if errors.As(perr, &ce) {
			r.Cmd, r.Tag = ce.Cmd, ce.Tag
		}
		return false, w.write(r)
	}
	var r reply
	if c.Cmd == "wait" {
		r, err = hub.wait(ctx, e, c)
	} else {
		r, err = execute(ctx, e, c)
	}
	r.Cmd, r.Tag, r.Line = c.Cmd, c.Tag, lr.n
	if err != nil {
		r = reply{Event: "error", Cmd: c.Cmd, Tag: c.Tag, Line: lr.n}
		r.setErr(err)
	} else {
		r.Event = "ok"
	}
	return c.Cmd == "quit", w.write(r)
}

// execute runs a valid command against the engine.
func execute(ctx context.Context, e Engine, c Command) (reply, error) {
	var r reply
	switch c.Cmd {
	case "ping", "quit":
	case "status":
		t := toTor(e.TorStatus())
		t.Amnesic = amnesic(e)
		r.key, r.value = "tor", t
	case "identities":
		ids := []identityJSON{}
		for _, i := range e.Identities() {
			ids = append(ids, toIdentity(i))
		}
		r.key, r.value = "identities", ids
	case "new_identity":
		info, err := e.NewIdentity(ctx, c.Identity, sotto.IdentityOptions{Ephemeral: c.Ephemeral, Open: c.Open})
		if err != nil {
			return r, err
		}
		r.key, r.value = "identity_info", toIdentity(info)
	case "burn":
		return r, e.BurnIdentity(ctx, c.Identity)
	case "card":
		code, err := e.Card(c.Identity)
		r.key, r.value = "contact_code", code
		return r, err
	case "contacts":
		cs, err := e.Contacts(c.Identity)
		if err != nil {
			return r, err
		}
		list := []contactJSON{}
		for _, ci := range cs {
			list = append(list, toContact(ci))
		}
		r.key, r.value = "contacts", list
	case "add_contact":
		ci, err := e.AddContact(ctx, c.Identity, c.Contact, c.Code)
		if err != nil {
			return r, err
		}
		r.key, r.value = "contact_info", toContact(ci)
	case "remove_contact":
		return r, e.RemoveContact(ctx, c.Identity, c.Contact)
	case "safety_code":
		s, err := e.SafetyCode(c.Identity, c.Contact)
		r.key, r.value = "safety_code", s
		return r, err
	case "verify":
		return r, e.Verify(c.Identity, c.Contact)
	case "messages":
		ms, err := e.Messages(c.Identity, c.Contact)
		if err != nil {
			return r, err
		}
		ms = shownList(e, c.Identity, c.Contact, ms)
		list := []messageJSON{}
		for _, m := range ms {
			list = append(list, toMessage(m))
		}
		r.key, r.value = "messages", list
	case "read":
		return r, e.MarkRead(c.Identity, c.Contact)
	// "send" is pipelined: sendPipe.send. "wait" is waitHub.wait.
	case "timer":
		return r, e.SetTimer(ctx, c.Identity, c.Contact, time.Duration(*c.Seconds)*time.Second)
	case "history":
		return r, e.SetHistory(c.Identity, c.Contact, *c.Keep)
	case "requests":
		rs, err := e.Requests(c.Identity)
		if err != nil {
			return r, err
		}
		list := []requestJSON{}
		for _, q := range rs {
			list = append(list, toRequest(q))
		}
		r.key, r.value = "requests", list
	case "accept":
		return r, e.AcceptRequest(ctx, c.Identity, c.Request, c.Contact)
	case "reject":
		return r, e.RejectRequest(ctx, c.Identity, c.Request)
	default:
		if mr, ok, err := executeMailbox(ctx, e, c); ok {
			return mr, err
		}
		if isFileCommand(c.Cmd) {
			return executeFile(ctx, e, c)
		}
		// ParseCommand only lets known commands through.
		return r, fmt.Errorf("headless: command %q not handled", c.Cmd)
	}
	return r, nil
}
