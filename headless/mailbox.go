package headless

import (
	"context"
	"errors"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/mailbox"
)

// The mailbox commands and events (docs/headless.md, "Mailboxes").

// MailboxEngine is the part of *sotto.Engine the mailbox commands drive; an
// engine without it answers them with an error.
type MailboxEngine interface {
	PairMailbox(ctx context.Context, identity, code string) (sotto.MailboxInfo, error)
	UnpairMailbox(ctx context.Context, identity string, force bool) error
	Mailbox(identity string) (sotto.MailboxInfo, error)
}

var _ MailboxEngine = (*sotto.Engine)(nil)

// mailboxCommands are the mailbox's entries of the command table.
var mailboxCommands = map[string]spec{
	"mailbox_pair":   {required: []string{fIdentity, fCode}},
	"mailbox_unpair": {required: []string{fIdentity}, optional: []string{fForce}},
	"mailbox_status": {required: []string{fIdentity}},
}

// lookupCommand finds a command's spec in the core table or the mailbox's.
func lookupCommand(name string) (spec, bool) {
	if sp, ok := commands[name]; ok {
		return sp, true
	}
	sp, ok := mailboxCommands[name]
	return sp, ok
}

type mailboxJSON struct {
	Identity  string `json:"identity"`
	State     string `json:"state"`
	Onion     string `json:"onion,omitempty"`
	Intake    string `json:"intake,omitempty"`
	Waiting   int    `json:"waiting"`
	Left      int    `json:"left"`
	Contacts  int    `json:"contacts"`
	Confirmed int    `json:"confirmed"`
	Error     string `json:"error,omitempty"`
}

func toMailbox(i sotto.MailboxInfo) mailboxJSON {
	return mailboxJSON{Identity: i.Identity, State: i.State.String(), Onion: i.Onion, Intake: i.Intake,
		Waiting: i.Waiting, Left: i.Left, Contacts: i.Contacts, Confirmed: i.Confirmed, Error: i.Err}
}

var errNoMailboxSupport = errors.New("headless: this engine has no mailboxes")

// executeMailbox runs a mailbox command; handled is false for another one.
func executeMailbox(ctx context.Context, e Engine, c Command) (r reply, handled bool, err error) {
	if _, ok := mailboxCommands[c.Cmd]; !ok {
		return r, false, nil
	}
	me, ok := e.(MailboxEngine)
	if !ok {
		return r, true, errNoMailboxSupport
	}
	switch c.Cmd {
	case "mailbox_pair":
		info, err := me.PairMailbox(ctx, c.Identity, c.Code)
		if err != nil {
			return r, true, err
		}
		r.key, r.value = "mailbox", toMailbox(info)
	case "mailbox_unpair":
		return r, true, me.UnpairMailbox(ctx, c.Identity, c.Force)
	case "mailbox_status":
		info, err := me.Mailbox(c.Identity)
		if err != nil {
			return r, true, err
		}
		r.key, r.value = "mailbox", toMailbox(info)
	}
	return r, true, nil
}

type queuedEvent struct {
	Event    string `json:"event"` // "queued"
	Identity string `json:"identity"`
	Contact  string `json:"contact"`
	Message  string `json:"message"`
}

type mailboxEvent struct {
	Event    string `json:"event"` // "mailbox"
	Identity string `json:"identity"`
	State    string `json:"state"`
	Error    string `json:"error,omitempty"`
}

type contactNoticeEvent struct {
	Event    string `json:"event"` // "mailbox_unordered", "expired_unread"
	Identity string `json:"identity"`
	Contact  string `json:"contact"`
	Count    int    `json:"count,omitempty"`
}

// encodeMailboxEvent maps the mailbox's engine events.
func encodeMailboxEvent(ev sotto.Event) (any, bool) {
	switch ev := ev.(type) {
	case sotto.QueuedEvent:
		return queuedEvent{Event: "queued", Identity: ev.Identity, Contact: ev.Contact, Message: ev.ID.String()}, true
	case sotto.MailboxEvent:
		return mailboxEvent{Event: "mailbox", Identity: ev.Identity, State: ev.State.String(), Error: ev.Err}, true
	case sotto.MailboxUnorderedEvent:
		return contactNoticeEvent{Event: "mailbox_unordered", Identity: ev.Identity, Contact: ev.Contact}, true
	case sotto.ExpiredUnreadEvent:
		return contactNoticeEvent{Event: "expired_unread", Identity: ev.Identity, Contact: ev.Contact, Count: ev.Count}, true
	}
	return nil, false
}

// mailboxErrorCode names the mailbox's errors for scripts.
func mailboxErrorCode(err error) string {
	switch {
	case errors.Is(err, sotto.ErrNoMailbox):
		return "no_mailbox"
	case errors.Is(err, sotto.ErrMailboxPaired):
		return "exists"
	case errors.Is(err, mailbox.ErrBadCode):
		return "bad_code"
	case errors.Is(err, mailbox.ErrDenied):
		return "mailbox_denied"
	case errors.Is(err, sotto.ErrMailboxUnreachable):
		return "mailbox_unreachable"
	case errors.Is(err, errNoMailboxSupport):
		return "unsupported"
	}
	return ""
}
