package sotto

import (
	"fmt"
	"time"
)

// Notices are lines Sotto writes into a conversation itself, so that nothing
// that happens to a conversation behind the user's back is silent: a text
// that expired before it was shown or delivered, a verification that an
// upgrade undid. They are System lines of kind NoticeMessage, stored like
// timer changes (in the vault unless the conversation keeps no history),
// never sent, and they do not expire. A notice about texts that expired
// unread counts as unread, so the conversation draws the user's eye.

// noticeText says a notice in words. It names no one: the conversation
// says whose it is.
func noticeText(n Notice, count int) string {
	switch n {
	case NoticeExpiredUnread:
		if count == 1 {
			return "a message expired before it was shown: its disappearing timer ran out unread"
		}
		return fmt.Sprintf("%d messages expired before they were shown: their disappearing timers ran out unread", count)
	case NoticeExpiredUndelivered:
		if count == 1 {
			return "your message expired before it was delivered; it will not be sent"
		}
		return fmt.Sprintf("%d of your messages expired before they were delivered; they will not be sent", count)
	case NoticeReverify:
		return "the safety code changed in this version of Sotto (it now covers both keys of each side): compare it again to mark this contact verified"
	}
	return ""
}

// noticeLocked stores a notice in the conversation and emits it.
func (e *Engine) noticeLocked(c *contact, n Notice, count int) error {
	m := &Message{
		ID: e.randomID(), Identity: c.id.name, Contact: c.rec.Petname, Dir: System, By: System, Kind: NoticeMessage,
		Text: noticeText(n, count), At: e.cfg.now().Truncate(time.Second), Notice: n, Count: count,
	}
	if err := e.storeMessageLocked(c, m); err != nil {
		return fmt.Errorf("sotto: storing a notice: %w", err)
	}
	if n == NoticeExpiredUnread {
		c.unread++
	}
	e.ev.emit(MessageEvent{Message: *m})
	return nil
}

// countsUnread reports whether a stored line counts as unread while it is
// after the conversation's read mark.
func countsUnread(m *Message) bool {
	return m.Dir == Incoming && m.Kind == TextMessage || m.Kind == NoticeMessage && m.Notice == NoticeExpiredUnread
}
