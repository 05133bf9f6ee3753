package headless

import (
	"errors"
	"strconv"
	"time"

	"github.com/sottochat/sotto"
)

// The JSON objects written to out. Field names are part of the documented
// interface (docs/headless.md): add, never rename.

// identityJSON describes a local identity.
type identityJSON struct {
	Name      string `json:"name"`
	Onion     string `json:"onion"`
	Ephemeral bool   `json:"ephemeral"`
	Open      bool   `json:"open"`
	Online    bool   `json:"online"`
}

// contactJSON describes a contact of one identity.
type contactJSON struct {
	Identity     string `json:"identity"`
	Name         string `json:"name"`
	Onion        string `json:"onion"`
	Verified     bool   `json:"verified"`
	Online       bool   `json:"online"`
	Unread       int    `json:"unread"`
	TimerSeconds int64  `json:"timer_seconds"`
	History      bool   `json:"history"`
}

// messageJSON is one line of a conversation.
type messageJSON struct {
	ID           string  `json:"id"`
	Identity     string  `json:"identity"`
	Contact      string  `json:"contact"`
	Direction    string  `json:"direction"` // "in", "out", "system"
	Kind         string  `json:"kind"`      // "text", "timer", "notice"
	Text         string  `json:"text,omitempty"`
	TimerSeconds *int64  `json:"timer_seconds,omitempty"` // kind "timer" only
	At           string  `json:"at"`
	ExpiresAt    *string `json:"expires_at"`
	State        string  `json:"state,omitempty"`      // direction "out" only: "pending", "sent", "delivered"
	Superseded   bool    `json:"superseded,omitempty"` // kind "timer": a later change was in force, this one never took effect
	Notice       string  `json:"notice,omitempty"`     // kind "notice": "expired_unread", "expired_undelivered", "reverify"
	Count        int     `json:"count,omitempty"`      // kind "notice": how many messages it is about
}

// requestJSON is a contact request waiting for accept or reject.
type requestJSON struct {
	ID       string `json:"id"`
	Identity string `json:"identity"`
	Onion    string `json:"onion"`
	Text     string `json:"text"`
	At       string `json:"at"`
}

// torJSON is the state of the tor daemon.
type torJSON struct {
	State    string `json:"state"` // "starting", "bootstrapping", "ready", "down"
	Progress int    `json:"progress"`
	Summary  string `json:"summary,omitempty"`
	Error    string `json:"error,omitempty"`
	Amnesic  bool   `json:"amnesic,omitempty"` // sotto --amnesic: nothing is written to disk
}

// reply answers one command: event "ok" with the command's result under
// one key (key, value), or event "error". Cmd and Tag echo the command; Line
// is the number of the input line it answers (0: none, left out).
type reply struct {
	Event string
	Cmd   string
	Tag   string
	Line  int
	Error string
	Code  string
	key   string
	value any
}

// MarshalJSON writes the keys in a fixed order, "event" first, and the
// result key even when its list is empty.
func (r reply) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil) }

// AppendJSON is MarshalJSON into dst (jsonenc.Appender).
func (r reply) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"event":`...)
	b = appendString(b, r.Event)
	for _, f := range []struct{ k, v string }{{"cmd", r.Cmd}, {"tag", r.Tag}} {
		if f.v != "" {
			b = append(b, `,"`+f.k+`":`...)
			b = appendString(b, f.v)
		}
	}
	if r.Line > 0 {
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, int64(r.Line), 10)
	}
	for _, f := range []struct{ k, v string }{{"error", r.Error}, {"code", r.Code}} {
		if f.v != "" {
			b = append(b, `,"`+f.k+`":`...)
			b = appendString(b, f.v)
		}
	}
	if r.key != "" {
		b = append(b, `,"`+r.key+`":`...)
		var err error
		if b, err = appendJSON(b, r.value); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// Events, one struct per kind so that the key order is stable and "event"
// comes first.
type (
	torEvent struct {
		Event    string `json:"event"` // "tor"
		Progress int    `json:"progress"`
		State    string `json:"state"`
		Summary  string `json:"summary,omitempty"`
		Error    string `json:"error,omitempty"`
		Amnesic  bool   `json:"amnesic,omitempty"` // sotto --amnesic: nothing is written to disk
	}
	identityEvent struct {
		Event    string `json:"event"` // "ready" or "offline"
		Identity string `json:"identity"`
		Onion    string `json:"onion"`
		Amnesic  bool   `json:"amnesic,omitempty"`
	}
	contactEvent struct {
		Event    string `json:"event"` // "contact"
		Identity string `json:"identity"`
		Contact  string `json:"contact"`
		State    string `json:"state"` // "online", "offline"
	}
	messageIDEvent struct {
		Event       string `json:"event"` // "sent", "delivered", "expired"
		Identity    string `json:"identity"`
		Contact     string `json:"contact"`
		Message     string `json:"message"`
		Unread      bool   `json:"unread,omitempty"`      // "expired": a received text that was never handed over
		Undelivered bool   `json:"undelivered,omitempty"` // "expired": one of ours the contact never acknowledged
	}
	noticeEvent struct {
		Event    string `json:"event"` // "notice"
		Identity string `json:"identity"`
		Contact  string `json:"contact"`
		Message  string `json:"message"`
		Notice   string `json:"notice"` // "expired_unread", "expired_undelivered", "reverify"
		Count    int    `json:"count,omitempty"`
		Text     string `json:"text"`
		At       string `json:"at"`
	}
	messageEvent struct {
		Event     string  `json:"event"` // "message"
		Identity  string  `json:"identity"`
		Contact   string  `json:"contact"`
		Message   string  `json:"message"`
		Text      string  `json:"text"`
		At        string  `json:"at"`
		ExpiresAt *string `json:"expires_at"`
	}
	timerEvent struct {
		Event     string  `json:"event"` // "timer"
		Identity  string  `json:"identity"`
		Contact   string  `json:"contact"`
		Message   string  `json:"message"`
		Seconds   int64   `json:"seconds"`
		By        string  `json:"by"` // "me" or "contact"
		At        string  `json:"at"`
		ExpiresAt *string `json:"expires_at"`
	}
	requestEvent struct {
		Event    string `json:"event"` // "request"
		Identity string `json:"identity"`
		Request  string `json:"request"`
		Onion    string `json:"onion"`
		Text     string `json:"text"`
		At       string `json:"at"`
	}
	errorEvent struct {
		Event string `json:"event"` // "error"
		Error string `json:"error"`
		Code  string `json:"code,omitempty"`
	}
)

// encodeEvent maps an engine event to its JSON object; ok is false for an
// event kind this version does not know (it is skipped, not guessed at).
func encodeEvent(ev sotto.Event) (v any, ok bool) {
	switch ev := ev.(type) {
	case sotto.TorEvent:
		return torEvent{Event: "tor", Progress: ev.Status.Percent, State: torState(ev.Status.State), Summary: ev.Status.Summary, Error: ev.Status.Err}, true
	case sotto.IdentityEvent:
		name := "ready"
		if !ev.Online {
			name = "offline"
		}
		return identityEvent{Event: name, Identity: ev.Identity, Onion: ev.Onion}, true
	case sotto.ContactEvent:
		st := "offline"
		if ev.Online {
			st = "online"
		}
		return contactEvent{Event: "contact", Identity: ev.Identity, Contact: ev.Contact, State: st}, true
	case sotto.SentEvent:
		return messageIDEvent{Event: "sent", Identity: ev.Identity, Contact: ev.Contact, Message: ev.ID.String()}, true
	case sotto.DeliveredEvent:
		return messageIDEvent{Event: "delivered", Identity: ev.Identity, Contact: ev.Contact, Message: ev.ID.String()}, true
	case sotto.ExpiredEvent:
		return messageIDEvent{Event: "expired", Identity: ev.Identity, Contact: ev.Contact, Message: ev.ID.String(),
			Unread: ev.Unread, Undelivered: ev.Undelivered}, true
	case sotto.MessageEvent:
		m := ev.Message
		if m.Kind == sotto.FileMessage {
			return nil, false // file_offer says it
		}
		if m.Kind == sotto.NoticeMessage {
			return noticeEvent{Event: "notice", Identity: m.Identity, Contact: m.Contact, Message: m.ID.String(),
				Notice: noticeName(m.Notice), Count: m.Count, Text: m.Text, At: timestamp(m.At)}, true
		}
		if m.Kind == sotto.TimerMessage {
			by := "contact"
			if m.By == sotto.Outgoing && m.Dir != sotto.Incoming {
				by = "me" // the engine stores who made a change (Message.By)
			}
			return timerEvent{Event: "timer", Identity: m.Identity, Contact: m.Contact, Message: m.ID.String(),
				Seconds: seconds(m.Timer), By: by, At: timestamp(m.At), ExpiresAt: expiry(m.ExpiresAt)}, true
		}
		return messageEvent{Event: "message", Identity: m.Identity, Contact: m.Contact, Message: m.ID.String(),
			Text: m.Text, At: timestamp(m.At), ExpiresAt: expiry(m.ExpiresAt)}, true
	case sotto.RequestEvent:
		r := ev.Request
		return requestEvent{Event: "request", Identity: r.Identity, Request: r.ID, Onion: r.Onion, Text: r.Text, At: timestamp(r.At)}, true
	case sotto.ErrorEvent:
		msg := "unknown error"
		if ev.Err != nil {
			msg = ev.Err.Error()
		}
		return errorEvent{Event: "error", Error: msg, Code: errorCode(ev.Err)}, true
	}
	if v, ok := encodeMailboxEvent(ev); ok {
		return v, true
	}
	return encodeFileEvent(ev)
}

func torState(s sotto.TorState) string {
	switch s {
	case sotto.TorStarting:
		return "starting"
	case sotto.TorBootstrapping:
		return "bootstrapping"
	case sotto.TorReady:
		return "ready"
	case sotto.TorDown:
		return "down"
	}
	return "unknown"
}

func toTor(s sotto.TorStatus) *torJSON {
	return &torJSON{State: torState(s.State), Progress: s.Percent, Summary: s.Summary, Error: s.Err}
}

func toIdentity(i sotto.IdentityInfo) identityJSON {
	return identityJSON{Name: i.Name, Onion: i.Onion, Ephemeral: i.Ephemeral, Open: i.Open, Online: i.Online}
}

func toContact(c sotto.ContactInfo) contactJSON {
	return contactJSON{Identity: c.Identity, Name: c.Name, Onion: c.Onion, Verified: c.Verified, Online: c.Online,
		Unread: c.Unread, TimerSeconds: seconds(c.Timer), History: c.History}
}

func toMessage(m sotto.Message) messageJSON {
	out := messageJSON{ID: m.ID.String(), Identity: m.Identity, Contact: m.Contact, Text: m.Text,
		At: timestamp(m.At), ExpiresAt: expiry(m.ExpiresAt)}
	switch m.Dir {
	case sotto.Outgoing:
		out.Direction = "out"
		switch m.State {
		case sotto.Pending:
			out.State = "pending"
		case sotto.Sent:
			out.State = "sent"
		case sotto.Delivered:
			out.State = "delivered"
		case sotto.Queued:
			out.State = "queued"
		}
	case sotto.Incoming:
		out.Direction = "in"
	default:
		out.Direction = "system"
	}
	switch m.Kind {
	case sotto.FileMessage:
		out.Kind = "file" // Text is its name; "files" lists its state
	case sotto.TimerMessage:
		out.Kind = "timer"
		s := seconds(m.Timer)
		out.TimerSeconds = &s
		out.Superseded = m.Superseded
	case sotto.NoticeMessage:
		out.Kind = "notice"
		out.Notice, out.Count = noticeName(m.Notice), m.Count
	default:
		out.Kind = "text"
	}
	return out
}

func toRequest(r sotto.Request) requestJSON {
	return requestJSON{ID: r.ID, Identity: r.Identity, Onion: r.Onion, Text: r.Text, At: timestamp(r.At)}
}

func noticeName(n sotto.Notice) string {
	switch n {
	case sotto.NoticeExpiredUnread:
		return "expired_unread"
	case sotto.NoticeExpiredUndelivered:
		return "expired_undelivered"
	case sotto.NoticeReverify:
		return "reverify"
	}
	return "other"
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func expiry(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// errorCode gives scripts a stable, machine-readable name for the errors
// they can act on; "" for anything else. The list is in docs/headless.md.
func errorCode(err error) string {
	if err == nil {
		return ""
	}
	var ce *CommandError
	if errors.As(err, &ce) {
		return "bad_command"
	}
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return mailboxErrorCode(err)
}

// amnesic reports whether e runs an amnesic session (sotto --amnesic): an
// engine that says so with an Amnesic method. The status reply, the tor
// events and the ready events then carry "amnesic":true.
func amnesic(e Engine) bool {
	a, ok := e.(interface{ Amnesic() bool })
	return ok && a.Amnesic()
}

// markAmnesic sets the amnesic field of the events that carry one.
func markAmnesic(v any) any {
	switch ev := v.(type) {
	case torEvent:
		ev.Amnesic = true
		return ev
	case identityEvent:
		ev.Amnesic = true
		return ev
	}
	return v
}
