package headless_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/headless"
	"github.com/sottochat/sotto/sottotest"
)

// withBob is alice with a contact bob (and carol).
func withBob(more ...string) *sottotest.Engine {
	e := withAlice()
	for _, name := range append([]string{"bob"}, more...) {
		e.PutContact(sotto.ContactInfo{Identity: "alice", Name: name, History: true})
	}
	return e
}

// msgID is the message ID of a send's "ok".
func msgID(t *testing.T, r map[string]any) sotto.MessageID {
	t.Helper()
	want(t, r, "event", "ok")
	var id sotto.MessageID
	if err := id.UnmarshalText([]byte(fmt.Sprint(r["message"]))); err != nil {
		t.Fatalf("message id in %v: %v", r, err)
	}
	return id
}

// waitLooked returns once the fake engine's outbox has been read more than
// before times: a wait sent before has looked at it and knows what it
// waits for.
func waitLooked(t *testing.T, e *sottotest.Engine, before int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); e.OutboxCalls() <= before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the wait never looked at the outbox")
		}
	}
}

// wantOutbox checks the "outbox" of a wait's ok.
func wantOutbox(t *testing.T, r map[string]any, delivered, queued, expired int) {
	t.Helper()
	want(t, r, "event", "ok")
	want(t, r, "cmd", "wait")
	o, ok := r["outbox"].(map[string]any)
	if !ok {
		t.Fatalf("ok of a wait without its outbox: %v", r)
	}
	want(t, o, "delivered", delivered)
	want(t, o, "queued", queued)
	want(t, o, "expired", expired)
}

// Nothing waits to leave: the wait answers at once, counting what is
// queued at a mailbox.
func TestWaitNothingPending(t *testing.T) {
	e := withBob()
	e.PutMessages(
		sotto.Message{ID: sottotest.ID(1), Identity: "alice", Contact: "bob", Dir: sotto.Outgoing, Text: "old", State: sotto.Delivered},
		sotto.Message{ID: sottotest.ID(2), Identity: "alice", Contact: "bob", Dir: sotto.Incoming, Text: "hi"},
		sotto.Message{ID: sottotest.ID(3), Identity: "alice", Contact: "bob", Dir: sotto.Outgoing, Text: "left at the mailbox", State: sotto.Queued},
	)
	s := start(t, e)
	r := s.call(`{"cmd":"wait","identity":"alice","contact":"bob","tag":"w"}`)
	want(t, r, "tag", "w")
	wantOutbox(t, r, 0, 1, 0)
	wantOutbox(t, s.call(`{"cmd":"wait","identity":"alice"}`), 0, 1, 0)
}

// A wait after pipelined sends answers after their oks, and once every
// text has left: the delivered and queued events come before its ok, and
// a command after it runs after its reply.
func TestWaitEndsWhenTextsLeave(t *testing.T) {
	e := withBob()
	s := start(t, e)
	release := e.BlockSend()
	s.send(`{"cmd":"send","identity":"alice","contact":"bob","text":"one","tag":"s1"}`)
	s.send(`{"cmd":"send","identity":"alice","contact":"bob","text":"two","tag":"s2"}`)
	s.send(`{"cmd":"wait","identity":"alice","contact":"bob","seconds":600,"tag":"w"}`)
	// Written now, read once the wait is over (the reader never reads ahead).
	go io.WriteString(s.in, `{"cmd":"ping","tag":"p"}`+"\n")
	release()
	r := s.next()
	want(t, r, "tag", "s1")
	id1 := msgID(t, r)
	r = s.next()
	want(t, r, "tag", "s2")
	id2 := msgID(t, r)
	waitLooked(t, e, 0)

	// The wait has not answered: the next line out is this event.
	e.Emit(sotto.ContactEvent{Identity: "alice", Contact: "bob", Online: true})
	want(t, s.next(), "event", "contact")

	e.SetState("alice", "bob", id1, sotto.Delivered)
	e.Emit(sotto.DeliveredEvent{Identity: "alice", Contact: "bob", ID: id1})
	e.SetState("alice", "bob", id2, sotto.Queued)
	e.Emit(sotto.QueuedEvent{Identity: "alice", Contact: "bob", ID: id2})
	r = s.next()
	want(t, r, "event", "delivered")
	want(t, r, "message", id1.String())
	r = s.next()
	want(t, r, "event", "queued")
	want(t, r, "message", id2.String())
	r = s.next()
	want(t, r, "tag", "w")
	want(t, r, "line", 3)
	wantOutbox(t, r, 1, 1, 0)
	want(t, s.next(), "tag", "p")
}

// Time runs out: an error with code "timeout" that says what still waits,
// to whom, and what becomes of it; texts and timer changes both count.
func TestWaitTimeout(t *testing.T) {
	e := withBob()
	s := start(t, e)
	msgID(t, s.call(`{"cmd":"send","identity":"alice","contact":"bob","text":"one"}`))
	r := s.call(`{"cmd":"wait","identity":"alice","contact":"bob","seconds":1,"tag":"w"}`)
	want(t, r, "event", "error")
	want(t, r, "code", "timeout")
	want(t, r, "tag", "w")
	want(t, r, "error", "headless: wait: 1 text to bob has not reached bob or bob's mailbox after 1 s: it stays in the outbox and goes out the next time Sotto runs while bob is online (or wait again)")

	want(t, s.call(`{"cmd":"timer","identity":"alice","contact":"bob","seconds":30}`), "event", "ok")
	r = s.call(`{"cmd":"wait","identity":"alice","contact":"bob","seconds":1}`)
	want(t, r, "code", "timeout")
	if !strings.HasPrefix(fmt.Sprint(r["error"]), "headless: wait: 2 messages to bob have not reached bob or bob's mailbox after 1 s: they stay") {
		t.Fatalf("error %q", r["error"])
	}
}

// Without a contact a wait covers every contact of the identity; with one,
// only that one.
func TestWaitAllContacts(t *testing.T) {
	e := withBob("carol")
	s := start(t, e)
	toBob := msgID(t, s.call(`{"cmd":"send","identity":"alice","contact":"bob","text":"b"}`))
	toCarol := msgID(t, s.call(`{"cmd":"send","identity":"alice","contact":"carol","text":"c"}`))
	r := s.call(`{"cmd":"wait","identity":"alice","seconds":1}`)
	want(t, r, "code", "timeout")
	want(t, r, "error", "headless: wait: 2 texts (1 text to bob, 1 text to carol) have not reached their contacts or their mailboxes after 1 s: they stay in the outbox and go out the next time Sotto runs while each contact is online (or wait again)")

	e.SetState("alice", "bob", toBob, sotto.Delivered)
	e.Emit(sotto.DeliveredEvent{Identity: "alice", Contact: "bob", ID: toBob})
	want(t, s.next(), "event", "delivered")
	wantOutbox(t, s.call(`{"cmd":"wait","identity":"alice","contact":"bob","seconds":1}`), 0, 0, 0)
	r = s.call(`{"cmd":"wait","identity":"alice","seconds":1}`)
	want(t, r, "code", "timeout")
	want(t, r, "error", "headless: wait: 1 text to carol has not reached carol or carol's mailbox after 1 s: it stays in the outbox and goes out the next time Sotto runs while carol is online (or wait again)")

	n := e.OutboxCalls()
	s.send(`{"cmd":"wait","identity":"alice","seconds":600,"tag":"all"}`)
	waitLooked(t, e, n)
	// Another contact's or identity's event does not end it.
	e.Emit(sotto.DeliveredEvent{Identity: "other", Contact: "carol", ID: toCarol})
	want(t, s.next(), "event", "delivered")
	e.SetState("alice", "carol", toCarol, sotto.Delivered)
	e.Emit(sotto.DeliveredEvent{Identity: "alice", Contact: "carol", ID: toCarol})
	want(t, s.next(), "event", "delivered")
	r = s.next()
	want(t, r, "tag", "all")
	wantOutbox(t, r, 1, 0, 0)
}

// A text whose disappearing timer runs out before it leaves counts as
// expired.
func TestWaitCountsExpired(t *testing.T) {
	e := withBob()
	s := start(t, e)
	id := msgID(t, s.call(`{"cmd":"send","identity":"alice","contact":"bob","text":"gone"}`))
	s.send(`{"cmd":"wait","identity":"alice","contact":"bob","tag":"w"}`)
	waitLooked(t, e, 0)
	e.SetState("alice", "bob", id, sotto.Delivered) // out of the fake's outbox
	e.Emit(sotto.ExpiredEvent{Identity: "alice", Contact: "bob", ID: id, Undelivered: true})
	want(t, s.next(), "event", "expired")
	r := s.next()
	want(t, r, "tag", "w")
	wantOutbox(t, r, 0, 0, 1)
}

// Bad "seconds" and unknown names get the usual errors.
func TestWaitBadArguments(t *testing.T) {
	s := start(t, withBob())
	for _, line := range []string{
		`{"cmd":"wait","identity":"alice","seconds":0}`,
		`{"cmd":"wait","identity":"alice","seconds":3601}`,
		`{"cmd":"wait","identity":"alice","seconds":-5}`,
	} {
		r := s.call(line)
		want(t, r, "code", "bad_command")
		want(t, r, "error", `headless: wait: "seconds" out of range: a wait lasts 1 to 3600 seconds`)
	}
	want(t, s.call(`{"cmd":"wait","identity":"alice","seconds":"9"}`), "code", "bad_command")
	want(t, s.call(`{"cmd":"wait","contact":"bob"}`), "code", "bad_command")
	want(t, s.call(`{"cmd":"wait","identity":"alice","text":"x"}`), "code", "bad_command")
	want(t, s.call(`{"cmd":"wait","identity":"nobody"}`), "code", "unknown_identity")
	r := s.call(`{"cmd":"wait","identity":"alice","contact":"bbo"}`)
	want(t, r, "code", "unknown_contact")
	want(t, r, "error", `sotto: no contact named "bbo" (did you mean "bob"?)`)
}

// The end of input after a wait lets the wait finish; Run then returns nil.
func TestWaitFinishesAfterEndOfInput(t *testing.T) {
	e := withBob()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := headless.Run(context.Background(), e, inR, outW)
		outW.CloseWithError(io.EOF)
		done <- err
	}()
	s := &session{t: t, e: e, in: inW, out: bufio.NewReader(outR), done: done}
	t.Cleanup(func() { go io.Copy(io.Discard, outR) })
	s.send(`{"cmd":"send","identity":"alice","contact":"bob","text":"last words"}`)
	s.send(`{"cmd":"wait","identity":"alice","contact":"bob","tag":"w"}`)
	inW.Close()
	id := msgID(t, s.next())
	waitLooked(t, e, 0)
	// Run is still there: its events flow.
	e.Emit(sotto.ContactEvent{Identity: "alice", Contact: "bob", Online: true})
	want(t, s.next(), "event", "contact")
	e.SetState("alice", "bob", id, sotto.Delivered)
	e.Emit(sotto.DeliveredEvent{Identity: "alice", Contact: "bob", ID: id})
	want(t, s.next(), "event", "delivered")
	wantOutbox(t, s.next(), 1, 0, 0)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after the wait and the end of input: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the wait at the end of input")
	}
}

// Stopping Sotto (ctx done) ends a wait at once, not when its time is up.
func TestWaitEndsWithContext(t *testing.T) {
	e := withBob()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inR, inW := io.Pipe()
	defer inW.Close()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- headless.Run(ctx, e, inR, outW) }()
	s := &session{t: t, e: e, in: inW, out: bufio.NewReader(outR), done: done}
	s.send(`{"cmd":"send","identity":"alice","contact":"bob","text":"x"}`)
	s.send(`{"cmd":"wait","identity":"alice","seconds":3600}`)
	msgID(t, s.next())
	waitLooked(t, e, 0)
	go io.Copy(io.Discard, outR)
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a wait held Run after its context was done")
	}
}
