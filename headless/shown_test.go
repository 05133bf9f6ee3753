package headless_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/sottotest"
)

// Issue 18 item 1 for a script: a received disappearing text's clock starts
// when headless hands it over (its "message" event, or a "messages" reply),
// and the expires_at written is the started one, not the bound of its
// unshown life.
func TestDisappearingClockStartsWhenHandedOver(t *testing.T) {
	e := withAlice()
	e.PutContact(sotto.ContactInfo{Identity: "alice", Name: "bob"})
	now := sottotest.Epoch
	bound := now.Add(sotto.UnshownGrace + 30*time.Second)
	m := sotto.Message{ID: sotto.MessageID{1}, Identity: "alice", Contact: "bob", Dir: sotto.Incoming,
		Kind: sotto.TextMessage, Text: "hi", Timer: 30 * time.Second, At: now, ExpiresAt: bound, Unshown: true}
	e.PutMessages(m)
	s := start(t, e)
	e.Emit(sotto.MessageEvent{Message: m})
	ev := s.next()
	want(t, ev, "event", "message")
	want(t, ev, "expires_at", now.Add(30*time.Second).UTC().Format(time.RFC3339))
	if !strings.Contains(strings.Join(e.Calls(), "\n"), "MarkShown alice bob 1") {
		t.Fatalf("MarkShown not called: %v", e.Calls())
	}

	// A text listed by "messages" is handed over too.
	m2 := m
	m2.ID = sotto.MessageID{2}
	e.PutMessages(m2)
	r := s.call(`{"cmd":"messages","identity":"alice","contact":"bob"}`)
	want(t, r, "event", "ok")
	list := r["messages"].([]any)
	if got := list[1].(map[string]any)["expires_at"]; got != now.Add(30*time.Second).UTC().Format(time.RFC3339) {
		t.Fatalf("listed text expires at %v", got)
	}
}

func TestNoticeAndExpiredFlags(t *testing.T) {
	e := withAlice()
	s := start(t, e)
	e.Emit(sotto.MessageEvent{Message: sotto.Message{ID: sotto.MessageID{3}, Identity: "alice", Contact: "bob", Dir: sotto.System,
		Kind: sotto.NoticeMessage, Notice: sotto.NoticeExpiredUnread, Count: 2, Text: "2 messages expired", At: sottotest.Epoch}})
	ev := s.next()
	want(t, ev, "event", "notice")
	want(t, ev, "notice", "expired_unread")
	want(t, ev, "count", 2)
	e.Emit(sotto.ExpiredEvent{Identity: "alice", Contact: "bob", ID: sotto.MessageID{4}, Undelivered: true})
	ev = s.next()
	want(t, ev, "event", "expired")
	want(t, ev, "undelivered", true)
	if _, ok := ev["unread"]; ok {
		t.Fatalf("unread written for an undelivered expiry: %v", ev)
	}
}

// Issue 18: a timer change the user made is "by":"me" (the engine's timer
// lines are System lines; Message.By says who made them).
func TestTimerChangeBy(t *testing.T) {
	e := withAlice()
	s := start(t, e)
	for _, c := range []struct {
		by   sotto.Direction
		want string
	}{{sotto.Outgoing, "me"}, {sotto.Incoming, "contact"}} {
		e.Emit(sotto.MessageEvent{Message: sotto.Message{ID: sotto.MessageID{5}, Identity: "alice", Contact: "bob", Dir: sotto.System,
			By: c.by, Kind: sotto.TimerMessage, Timer: time.Minute, At: sottotest.Epoch}})
		ev := s.next()
		want(t, ev, "event", "timer")
		want(t, ev, "by", c.want)
	}
}
