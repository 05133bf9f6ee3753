package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sync/atomic"
	"time"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/internal/erase"
)

// 'sotto send': one text, read from standard input, to one contact, and a
// wait until it has arrived. For a person who wants one message out and
// Sotto closed again (an amnesic system, a throw-away session) and for
// scripts: without it a text stored by 'sotto headless' whose process ended
// before the contact was reached waited in the outbox for a next start.

// defaultSendWait is how long 'sotto send' waits for delivery without
// --wait: long enough for tor to bootstrap and reach a contact that is
// online, short enough that a person is not left wondering.
const defaultSendWait = 2 * time.Minute

// maxSendWait bounds --wait.
const maxSendWait = 24 * time.Hour

// outboxRecheck is how often the wait looks at the outbox itself, besides
// the delivery events: a reader that falls behind loses events
// (sotto.ErrEventsDropped), never the outbox's state.
const outboxRecheck = 2 * time.Second

// notArrivedError: the wait ended before the text reached the contact or
// the contact's mailbox. It is stored: exit code exitNotArrived.
type notArrivedError struct {
	contact string
	wait    time.Duration
}

// The contact's name is printed as it is: it is the user's own petname for
// the contact, checked when the contact was added (printable characters
// only: AddContact), and it is printed only once the engine found a
// contact by that name.
func (e *notArrivedError) Error() string {
	return fmt.Sprintf("the message did not reach %s or a mailbox within %v: it stays in the outbox and goes out the next time Sotto runs ('sotto' or 'sotto headless') while %s is online",
		e.contact, e.wait, e.contact)
}

func (a *app) cmdSend(args []string) error {
	wait := defaultSendWait
	pos, done, err := a.simple("send", sendUsage, args, 2, math.MaxInt, "IDENTITY CONTACT (the message comes from standard input)", func(fs *flag.FlagSet) {
		fs.DurationVar(&wait, "wait", defaultSendWait, "")
	})
	if done || err != nil {
		return err
	}
	if len(pos) > 2 {
		// The message itself, most likely: say why it is refused, and
		// that it may be in the shell's history now. Nothing of it is
		// repeated here.
		return usagef("run 'sotto send "+clip(pos[0])+" "+clip(pos[1])+"' and type the message when asked (end it with Ctrl-D), or pipe it in from a file; your shell may have kept this command line in its history ('history -d' removes it in bash)",
			"the message is never taken from the command line, where other programs (ps) can read it: nothing was sent")
	}
	if wait < 0 || wait > maxSendWait {
		return usagef("for example --wait 10m; --wait 0 stores it and exits without going online",
			"--wait is how long to wait for delivery: 0 to 24h")
	}
	return a.doSend(pos[0], pos[1], wait)
}

func (a *app) doSend(identity, contact string, wait time.Duration) error {
	// Interrupted (the hardened process exits at once on a signal): say
	// whether the text was stored.
	var stored atomic.Bool
	a.onSignal = func(os.Signal) {
		if stored.Load() {
			fmt.Fprintf(a.stderr, "\nsotto: interrupted: the message is stored in the outbox and goes out the next time Sotto runs while %s is online\n", contact)
		} else {
			fmt.Fprintln(a.stderr, "\nsotto: interrupted: nothing was sent")
		}
	}
	offline := wait == 0
	return a.withEngineOnline(!offline, func(e *sotto.Engine) error {
		// A wrong name fails now, with its did-you-mean, not after the
		// message was typed.
		if _, err := e.Outbox(identity, contact); err != nil {
			return err
		}
		var id sotto.MessageID
		var err error
		erase.Do(func() { id, err = a.readAndSend(e, identity, contact) })
		if err != nil {
			return err
		}
		stored.Store(true)
		if offline {
			fmt.Fprintf(a.stdout, "stored: %s\nqueued: it goes out when you run 'sotto' or 'sotto headless' and %s is online\n", id, contact)
			return nil
		}
		fmt.Fprintf(a.stdout, "stored: %s\n", id)
		return a.awaitArrival(e, identity, contact, id, wait)
	})
}

// readAndSend reads the text from standard input and stores it in the
// outbox. It runs inside erase.Do: the text is a secret to this process.
func (a *app) readAndSend(e *sotto.Engine, identity, contact string) (sotto.MessageID, error) {
	if f, ok := a.stdin.(*os.File); ok && isTerminal(f) {
		fmt.Fprintf(a.stderr, "Message to %s (end it with Ctrl-D on a line of its own):\n", contact)
	}
	// A terminal's last newline (Enter before Ctrl-D) is not part of it.
	b, err := io.ReadAll(io.LimitReader(a.stdin, sotto.MaxText+3))
	defer clear(b)
	if err != nil {
		return sotto.MessageID{}, fmt.Errorf("sotto: reading the message from standard input: %w", err)
	}
	text := bytes.TrimSuffix(b, []byte("\n"))
	text = bytes.TrimSuffix(text, []byte("\r"))
	switch {
	case len(bytes.TrimSpace(text)) == 0:
		return sotto.MessageID{}, usagef("type the message after the command (end it with Ctrl-D), or pipe it in: sotto send IDENTITY CONTACT < FILE",
			"the message is empty: nothing was sent")
	case len(text) > sotto.MaxText:
		return sotto.MessageID{}, usagef("split it, or send it as a file: sotto file send IDENTITY CONTACT PATH",
			"the message is longer than the %d bytes a message can hold: nothing was sent", sotto.MaxText)
	}
	return e.Send(a.ctx, identity, contact, string(text))
}

// awaitArrival waits until the text id has reached the contact (delivered)
// or a mailbox (queued there: the contact's, or ours, which the contact
// collects from), at most wait, and says which. Tor's bootstrap and the
// contact's connection are told on stderr as they happen.
func (a *app) awaitArrival(e *sotto.Engine, identity, contact string, id sotto.MessageID, wait time.Duration) error {
	who := contact
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	recheck := time.NewTicker(outboxRecheck)
	defer recheck.Stop()
	// arrived says whether the text left the outbox, and how: queued at
	// the contact's mailbox, delivered, or (its disappearing timer ran out
	// first) expired undelivered.
	arrived := func() (bool, error) {
		ob, err := e.Outbox(identity, contact)
		if err != nil {
			return false, err
		}
		for _, o := range ob {
			if o.ID == id {
				if o.State == sotto.Queued {
					fmt.Fprintf(a.stdout, "left at a mailbox for %s: %s collects it from there\n", who, who)
					return true, nil
				}
				return false, nil
			}
		}
		msgs, err := e.Messages(identity, contact)
		if err != nil {
			return false, err
		}
		for i := len(msgs) - 1; i >= 0; i-- {
			if msgs[i].ID == id && msgs[i].State == sotto.Delivered {
				fmt.Fprintf(a.stdout, "delivered to %s\n", who)
				return true, nil
			}
		}
		return true, fmt.Errorf("sotto: the message's disappearing timer ran out before it reached %s: it was not delivered", who)
	}
	if ok, err := arrived(); ok || err != nil {
		return err
	}
	lastTor := -1
	toldWaiting := false
	events := e.Events()
	for {
		select {
		case ev, open := <-events:
			if !open {
				return errors.New("sotto: the engine stopped before the message arrived; it stays in the outbox")
			}
			switch ev := ev.(type) {
			case sotto.TorEvent:
				st := ev.Status
				switch {
				case st.State == sotto.TorReady:
					if !toldWaiting {
						toldWaiting = true
						fmt.Fprintf(a.stderr, "tor is ready; reaching %s (the message is stored: Ctrl-C leaves it in the outbox)\n", who)
					}
				case st.State == sotto.TorDown:
					if lastTor != -2 {
						lastTor = -2
						fmt.Fprintf(a.stderr, "tor is down (%s); Sotto tries again\n", st.Err)
					}
				case st.Percent < 100 && st.Percent/25 != lastTor:
					lastTor = st.Percent / 25
					fmt.Fprintf(a.stderr, "tor: starting, %d%%\n", st.Percent)
				}
			case sotto.ContactEvent:
				if ev.Identity == identity && ev.Contact == contact && ev.Online {
					fmt.Fprintf(a.stderr, "connected to %s\n", who)
				}
			case sotto.DeliveredEvent, sotto.QueuedEvent, sotto.ExpiredEvent:
				if ok, err := arrived(); ok || err != nil {
					return err
				}
			}
		case <-recheck.C:
			if ok, err := arrived(); ok || err != nil {
				return err
			}
		case <-deadline.C:
			if ok, err := arrived(); ok || err != nil {
				return err
			}
			return &notArrivedError{contact: contact, wait: wait}
		case <-a.ctx.Done():
			return fmt.Errorf("sotto: interrupted: the message is stored in the outbox: %w", a.ctx.Err())
		}
	}
}
