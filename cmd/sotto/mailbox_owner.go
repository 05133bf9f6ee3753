package main

import (
	"errors"
	"fmt"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/onion"
)

// The owner's side of 'sotto mailbox': pair, unpair, status IDENTITY, on the
// messenger profile.

// torReadyTimeout bounds the wait for tor before a command that needs it.
const torReadyTimeout = 3 * time.Minute

// withOnlineEngine opens the profile with tor, waits until tor is ready and
// runs fn. The engine's other events are read and dropped.
func (a *app) withOnlineEngine(fn func(e *sotto.Engine) error) (err error) {
	e, err := a.open(false)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := e.Close(); err == nil && !errors.Is(cerr, sotto.ErrClosed) {
			err = cerr
		}
	}()
	ready := make(chan struct{})
	var once sync.Once
	go func() {
		for ev := range e.Events() {
			if te, ok := ev.(sotto.TorEvent); ok && te.Status.State == sotto.TorReady {
				once.Do(func() { close(ready) })
			}
		}
	}()
	if e.TorStatus().State != sotto.TorReady {
		select {
		case <-ready:
		case <-a.ctx.Done():
			return a.ctx.Err()
		case <-time.After(torReadyTimeout):
			return fmt.Errorf("%w: tor did not get ready in %v", onion.ErrTorUnavailable, torReadyTimeout)
		}
	}
	return fn(e)
}

func (a *app) mailboxPair(identity, code string) error {
	return a.withOnlineEngine(func(e *sotto.Engine) error {
		info, err := e.PairMailbox(a.ctx, identity, code)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "paired %s with the mailbox at %s\n", identity, onion.Abbrev(info.Onion))
		if info.Intake != "" {
			fmt.Fprintf(a.stdout, "its tip line takes contact requests at the mailbox while you are offline\n")
		}
		fmt.Fprintf(a.stdout, "your contacts are offered it the next time you are both online\n")
		return nil
	})
}

func (a *app) mailboxUnpair(identity string, force bool) error {
	return a.withOnlineEngine(func(e *sotto.Engine) error {
		if err := e.UnpairMailbox(a.ctx, identity, force); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "unpaired %s: its queues on the mailbox are wiped\n", identity)
		return nil
	})
}

func (a *app) mailboxClientStatus(identity string) error {
	return a.withEngine(func(e *sotto.Engine) error {
		info, err := e.Mailbox(identity)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		if info.State == sotto.MailboxNone {
			fmt.Fprintf(w, "%s\tno mailbox (pair one with: sotto mailbox pair %s CODE)\n", identity, identity)
			return w.Flush()
		}
		fmt.Fprintf(w, "identity\t%s\n", identity)
		fmt.Fprintf(w, "mailbox\t%s (the identity's own service there)\n", onion.Abbrev(info.Onion))
		if info.Intake != "" {
			fmt.Fprintf(w, "tip line intake\t%s\n", onion.Abbrev(info.Intake))
		}
		fmt.Fprintf(w, "contacts with a queue\t%d (%d confirmed)\n", info.Contacts, info.Confirmed)
		return w.Flush()
	})
}

// classifyMailboxOwner gives the owner commands' errors their hints.
func (a *app) classifyMailboxOwner(err error) (classified, bool) {
	switch {
	case errors.Is(err, sotto.ErrNoMailbox):
		return classified{exitNotFound, []string{"'sotto mailbox status IDENTITY' shows an identity's mailbox"}}, true
	case errors.Is(err, sotto.ErrMailboxPaired):
		return classified{exitExists, []string{"run 'sotto mailbox unpair IDENTITY' first"}}, true
	case errors.Is(err, sotto.ErrMailboxUnreachable):
		return classified{exitTor, []string{"is the mailbox running ('sotto mailbox serve' on its machine)? try again in a minute: a new onion service takes a moment to be reachable"}}, true
	}
	return classified{}, false
}
