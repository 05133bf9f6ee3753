package headless

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sottochat/sotto"
)

// The "wait" command (docs/headless.md, "Waiting for the outbox"): it
// answers once none of our texts and timer changes to a contact, or to
// every contact of an identity, still waits to leave: each is delivered,
// queued at a mailbox (out of our hands, waiting there for the contact) or
// expired. A script that writes sends and then closes its input writes a
// wait before, so that the process does not stop with the texts still in
// the outbox.

// Limits of a wait.
const (
	DefaultWaitSeconds = 60   // a wait without "seconds"
	MaxWaitSeconds     = 3600 // the longest a wait may last; the shortest is 1 s
)

// waitRecheck is the safety net of a wait: besides the events that wake
// it, it looks at the outbox this often. The engine drops events when
// nobody reads them fast enough, and a contact removed meanwhile says
// nothing of its entries: the wait must not hang on an event that never
// comes.
const waitRecheck = 5 * time.Second

// waitHub lets a wait learn of the engine events that may end it. The pump
// calls saw after it has written each event, so that the "delivered"
// events of the texts waited for come before the wait's "ok".
type waitHub struct {
	mu      sync.Mutex
	w       *waiter       // the wait in progress, if any: commands run one at a time
	stopped chan struct{} // closed once the pump has stopped
}

func newWaitHub() *waitHub { return &waitHub{stopped: make(chan struct{})} }

// waiter is one wait in progress.
type waiter struct {
	identity string
	contact  string                         // "": every contact of identity
	wake     chan struct{}                  // a recheck is due; buffered, 1
	outcome  map[sotto.MessageID]waitResult // what the events written say of each entry
}

// waitResult is what became of an outbox entry.
type waitResult int

const (
	waitDelivered waitResult = iota + 1
	waitQueued
	waitExpired
)

// saw tells the wait in progress of an event written to out: it wakes the
// wait for the events that change what its identity's outbox holds, or
// whether its contacts are online.
func (h *waitHub) saw(ev sotto.Event) {
	var identity, contact string
	var id sotto.MessageID
	var res waitResult
	switch ev := ev.(type) {
	case sotto.DeliveredEvent:
		identity, contact, id, res = ev.Identity, ev.Contact, ev.ID, waitDelivered
	case sotto.QueuedEvent:
		identity, contact, id, res = ev.Identity, ev.Contact, ev.ID, waitQueued
	case sotto.ExpiredEvent:
		identity, contact = ev.Identity, ev.Contact
		if ev.Undelivered {
			id, res = ev.ID, waitExpired
		}
	case sotto.SentEvent:
		identity, contact = ev.Identity, ev.Contact
	case sotto.ContactEvent:
		identity, contact = ev.Identity, ev.Contact
	default:
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.w
	if w == nil || w.identity != identity || w.contact != "" && w.contact != contact {
		return
	}
	if res != 0 {
		w.outcome[id] = res
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// pumpStopped is called by the pump as it returns.
func (h *waitHub) pumpStopped() { close(h.stopped) }

// outboxLook is what the outboxes waited on hold at one moment.
type outboxLook struct {
	waiting []contactWaiting         // per contact with entries still to leave, in the engine's order
	left    map[sotto.MessageID]bool // entries still to leave
	queued  map[sotto.MessageID]bool // entries left at a mailbox
}

// contactWaiting counts one contact's entries still to leave.
type contactWaiting struct {
	contact      string
	texts, other int // texts; timer changes
}

func (l *outboxLook) done() bool { return len(l.left) == 0 }

// look reads the outboxes of w's contact, or of all its identity's
// contacts.
func (w *waiter) look(e Engine) (*outboxLook, error) {
	names := []string{w.contact}
	if w.contact == "" {
		cs, err := e.Contacts(w.identity)
		if err != nil {
			return nil, err
		}
		names = names[:0]
		for _, c := range cs {
			names = append(names, c.Name)
		}
	}
	l := &outboxLook{left: map[sotto.MessageID]bool{}, queued: map[sotto.MessageID]bool{}}
	for _, name := range names {
		entries, err := e.Outbox(w.identity, name)
		if err != nil {
			if w.contact == "" && errors.Is(err, sotto.ErrUnknownContact) {
				continue // removed since Contacts: nothing of it waits any more
			}
			return nil, err
		}
		cw := contactWaiting{contact: name}
		for _, o := range entries {
			if o.State == sotto.Queued {
				l.queued[o.ID] = true
				continue
			}
			l.left[o.ID] = true
			if o.Kind == sotto.TextMessage {
				cw.texts++
			} else {
				cw.other++
			}
		}
		if cw.texts+cw.other > 0 {
			l.waiting = append(l.waiting, cw)
		}
	}
	return l, nil
}

// waitResultJSON is the "outbox" of a wait's "ok".
type waitResultJSON struct {
	Delivered int `json:"delivered"` // of those waiting to leave when the wait began: acknowledged by the contact since
	Queued    int `json:"queued"`    // ours left at a mailbox, waiting there for the contact (all of them, queued before the wait too)
	Expired   int `json:"expired"`   // of those waiting to leave when the wait began: their disappearing timer ran out first
}

// wait runs a "wait" command: it returns once nothing to c's contact (or
// to any contact of c's identity) waits to leave, the error of the timeout
// otherwise.
func (h *waitHub) wait(ctx context.Context, e Engine, c Command) (reply, error) {
	var r reply
	secs := int64(DefaultWaitSeconds)
	if c.Seconds != nil {
		secs = *c.Seconds
	}
	w := &waiter{identity: c.Identity, contact: c.Contact, wake: make(chan struct{}, 1), outcome: map[sotto.MessageID]waitResult{}}
	// Registered before the first look, so that no event after it is missed.
	h.mu.Lock()
	h.w = w
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.w = nil
		h.mu.Unlock()
	}()

	first, err := w.look(e)
	if err != nil {
		return r, err
	}
	began := first.left // the entries the wait is about
	deadline := time.NewTimer(time.Duration(secs) * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(waitRecheck)
	defer tick.Stop()

	l := first
	var doneAt time.Time // when the outbox was first seen done with an event not yet written
	for {
		if l.done() {
			// Done once every entry waited on has had its event written,
			// or the outbox has been seen done for a recheck period (an
			// event dropped or never sent).
			h.mu.Lock()
			reported := true
			for id := range began {
				if w.outcome[id] == 0 {
					reported = false
				}
			}
			h.mu.Unlock()
			if reported || !doneAt.IsZero() && time.Since(doneAt) >= waitRecheck {
				r.key, r.value = "outbox", h.result(w, began, l)
				return r, nil
			}
			if doneAt.IsZero() {
				doneAt = time.Now()
			}
		} else {
			doneAt = time.Time{}
		}
		timedOut := false
		select {
		case <-w.wake:
		case <-tick.C:
		case <-deadline.C:
			timedOut = true
		case <-ctx.Done():
			return r, fmt.Errorf("headless: wait: Sotto is stopping (%w); %s", ctx.Err(), stillWaiting(l))
		case <-h.stopped:
			return r, fmt.Errorf("headless: wait: the engine stopped; %s", stillWaiting(l))
		}
		if l, err = w.look(e); err != nil {
			return r, err
		}
		if timedOut {
			if l.done() {
				r.key, r.value = "outbox", h.result(w, began, l)
				return r, nil
			}
			return r, &timeoutError{msg: timeoutText(l, secs)}
		}
	}
}

// result counts what became of the entries waited on.
func (h *waitHub) result(w *waiter, began map[sotto.MessageID]bool, l *outboxLook) waitResultJSON {
	h.mu.Lock()
	defer h.mu.Unlock()
	res := waitResultJSON{Queued: len(l.queued)}
	for id := range began {
		switch {
		case l.queued[id], l.left[id]:
		case w.outcome[id] == waitExpired:
			res.Expired++
		default:
			// Acknowledged: the engine takes an entry out of the outbox
			// when the contact acknowledges it, or when it expires (its
			// event says so) or the contact is removed.
			res.Delivered++
		}
	}
	return res
}

// timeoutError is the error of a wait whose time ran out (code "timeout").
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string        { return e.msg }
func (e *timeoutError) Is(target error) bool { return target == errTimeout }

// errTimeout is the sentinel a timeoutError matches (codes.go).
var errTimeout = errors.New("headless: timed out")

// timeoutText says what still waits after secs, and what becomes of it.
func timeoutText(l *outboxLook, secs int64) string {
	if len(l.waiting) == 1 {
		cw := l.waiting[0]
		n := cw.texts + cw.other
		verb, stay, goes := "have", "they stay", "go"
		if n == 1 {
			verb, stay, goes = "has", "it stays", "goes"
		}
		return fmt.Sprintf("headless: wait: %s to %s %s not reached %s or %s's mailbox after %d s: %s in the outbox and %s out the next time Sotto runs while %s is online (or wait again)",
			count(cw.texts, cw.other), cw.contact, verb, cw.contact, cw.contact, secs, stay, goes, cw.contact)
	}
	return fmt.Sprintf("headless: wait: %s have not reached their contacts or their mailboxes after %d s: they stay in the outbox and go out the next time Sotto runs while each contact is online (or wait again)",
		stillList(l), secs)
}

// stillWaiting says what still waits to leave, for an error.
func stillWaiting(l *outboxLook) string {
	if l.done() {
		return "nothing waits in the outbox"
	}
	return "in the outbox, to go out the next time Sotto runs: " + stillList(l)
}

// stillList lists what waits per contact, the first few by name.
func stillList(l *outboxLook) string {
	const named = 3
	var parts []string
	texts, other := 0, 0
	for i, cw := range l.waiting {
		texts, other = texts+cw.texts, other+cw.other
		if i < named {
			parts = append(parts, count(cw.texts, cw.other)+" to "+cw.contact)
		}
	}
	if len(l.waiting) == 1 {
		return parts[0]
	}
	if n := len(l.waiting) - named; n > 0 {
		parts = append(parts, fmt.Sprintf("%d more contacts", n))
	}
	return count(texts, other) + " (" + strings.Join(parts, ", ") + ")"
}

// count names texts texts and other timer changes: "2 texts", "1 timer
// change", "3 messages".
func count(texts, other int) string {
	n, one, many := texts+other, "message", "messages"
	switch {
	case other == 0:
		one, many = "text", "texts"
	case texts == 0:
		one, many = "timer change", "timer changes"
	}
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
