package sotto

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

// Regression tests of issue 14 (items 2 and 6) and issue 18 (item 1): who
// orders timer changes, and when the disappearing clocks start.

// switchClock is a test clock that can be set to any instant, even one
// time.Time cannot compare (an attacker's).
type switchClock struct{ testClock }

func (c *switchClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func messagesOf(t *testing.T, p *testPeer, id, contact string) []Message {
	t.Helper()
	ms, err := p.e.Messages(id, contact)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func findMessage(ms []Message, id MessageID) *Message {
	for i := range ms {
		if ms[i].ID == id {
			return &ms[i]
		}
	}
	return nil
}

func notices(ms []Message, n Notice) (lines, count int) {
	for _, m := range ms {
		if m.Kind == NoticeMessage && m.Notice == n {
			lines++
			count += m.Count
		}
	}
	return lines, count
}

func contactInfo(t *testing.T, p *testPeer, id, contact string) ContactInfo {
	t.Helper()
	cs, err := p.e.Contacts(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Name == contact {
			return c
		}
	}
	t.Fatalf("no contact %s", contact)
	return ContactInfo{}
}

func TestPeerTimeBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	limit := now.Add(MaxClockSkew)
	for _, tc := range []struct {
		at   uint64
		want time.Time
	}{
		{0, time.Unix(0, 0)},
		{1_699_999_000, time.Unix(1_699_999_000, 0)},
		{uint64(limit.Unix()), limit},
		{uint64(limit.Unix()) + 1, limit},
		{math.MaxInt64, limit},
		{math.MaxInt64 + 1, limit},
		{math.MaxUint64, limit},
	} {
		if got := peerTime(tc.at, now); !got.Equal(tc.want) {
			t.Errorf("peerTime(%d) = %v, want %v", tc.at, got.Unix(), tc.want.Unix())
		}
	}
}

// Issue 14 item 2: a contact sends a timer change with at = 2^63-1. On
// 4749c9d the victim adopted it, and its own later SetTimer computed
// TimerAt+1, which overflowed, so it was never adopted: the victim's screen
// said its messages disappear while they went out with no timer.
func TestTimerLockAttack(t *testing.T) {
	n := newMemNet()
	vc := &testClock{t: time.Now()}
	mc := &switchClock{testClock{t: time.Now()}}
	victim, mallory := startPeerClock(t, n, nil, vc.now), startPeerClock(t, n, nil, mc.now)
	mustID(t, victim, "alice", IdentityOptions{})
	mustID(t, mallory, "mallory", IdentityOptions{})
	befriend(t, victim, "alice", "alice", mallory, "mallory", "mallory")
	ctx := context.Background()

	// Mallory's change carries at = 2^63-1: his clock says so.
	mc.set(time.Unix(math.MaxInt64, 0))
	if err := mallory.e.SetTimer(ctx, "mallory", "alice", 0); err != nil {
		t.Fatal(err)
	}
	mc.set(time.Now())
	var evil MessageID
	for _, m := range messagesOf(t, mallory, "mallory", "alice") {
		if m.Kind == TimerMessage {
			evil = m.ID
			if m.At.Unix() != math.MaxInt64 {
				t.Fatalf("the attack's at is %d, not 2^63-1", m.At.Unix())
			}
		}
	}
	victim.wait("mallory's timer change", func(ev Event) bool {
		m, ok := ev.(MessageEvent)
		return ok && m.Message.ID == evil
	})
	got := findMessage(messagesOf(t, victim, "alice", "mallory"), evil)
	if got == nil || got.At.After(vc.now().Add(MaxClockSkew)) {
		t.Fatalf("the contact's time was not bounded: %+v", got)
	}

	// The victim sets a timer: it is in force at once, its screen says so,
	// and the next text goes out with it.
	if err := victim.e.SetTimer(ctx, "alice", "mallory", 45*time.Second); err != nil {
		t.Fatal(err)
	}
	if c := contactInfo(t, victim, "alice", "mallory"); c.Timer != 45*time.Second {
		t.Fatalf("victim's timer in force: %v, want 45s", c.Timer)
	}
	for _, m := range messagesOf(t, victim, "alice", "mallory") {
		if m.Kind == TimerMessage && m.Dir == System && m.Timer == 45*time.Second && m.Superseded {
			t.Fatal("the victim's own change is marked superseded")
		}
	}
	id, err := victim.e.Send(ctx, "alice", "mallory", "this must disappear")
	if err != nil {
		t.Fatal(err)
	}
	m := mallory.waitMessage("this must disappear")
	if m.ID != id || m.Timer != 45*time.Second {
		t.Fatalf("the text went out with timer %v, want 45s", m.Timer)
	}

	// A change stored by an older version with at = 2^63-1 is brought back
	// within reach when the profile opens.
	disk := victim.disk
	victim.close()
	victim = startPeerClock(t, n, disk, vc.now)
	victim.e.mu.Lock()
	c := victim.e.ids["alice"].contacts["mallory"]
	c.rec.TimerAt = math.MaxInt64
	if err := victim.e.saveContactLocked(c); err != nil {
		victim.e.mu.Unlock()
		t.Fatal(err)
	}
	victim.e.mu.Unlock()
	victim.close()
	victim = startPeerClock(t, n, disk, vc.now)
	if err := victim.e.SetTimer(ctx, "alice", "mallory", time.Hour); err != nil {
		t.Fatal(err)
	}
	if c := contactInfo(t, victim, "alice", "mallory"); c.Timer != time.Hour {
		t.Fatalf("after a stored 2^63-1, the victim's timer in force is %v, want 1h", c.Timer)
	}
}

// Two changes made at the same moment on both sides settle on one timer,
// and the line of the change that lost says it never took effect.
func TestTimerChangesCrossed(t *testing.T) {
	n := newMemNet()
	clock := &testClock{t: time.Now()}
	a, b := startPeerClock(t, n, nil, clock.now), startPeerClock(t, n, nil, clock.now)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	// Each changes the timer while the other is offline, in the same
	// second of the (frozen) clock: the tie is broken by the ids.
	bdisk := b.disk
	b.close()
	if err := a.e.SetTimer(ctx, "alice", "bob", time.Minute); err != nil {
		t.Fatal(err)
	}
	adisk := a.disk
	a.close()
	b = startPeerClock(t, n, bdisk, clock.now)
	if err := b.e.SetTimer(ctx, "bob", "alice", time.Hour); err != nil {
		t.Fatal(err)
	}
	a = startPeerClock(t, n, adisk, clock.now)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ta, tb := contactInfo(t, a, "alice", "bob").Timer, contactInfo(t, b, "bob", "alice").Timer
		ma, mb := messagesOf(t, a, "alice", "bob"), messagesOf(t, b, "bob", "alice")
		if ta == tb && timerLines(ma) == 2 && timerLines(mb) == 2 {
			superseded := 0
			for _, ms := range [][]Message{ma, mb} {
				var last time.Duration = -1
				for _, m := range ms {
					if m.Kind != TimerMessage {
						continue
					}
					if m.Superseded {
						superseded++
					} else {
						last = m.Timer
					}
				}
				if last != ta {
					t.Fatalf("the last line that took effect says %v, %v is in force", last, ta)
				}
			}
			if superseded != 1 {
				t.Fatalf("%d lines superseded, want 1 (on the side whose change won)", superseded)
			}
			// Who made each change, stored (alice's own line was written
			// before her restart): headless's "by", the TUI's "you set".
			for _, side := range []struct {
				ms          []Message
				mine, their time.Duration
			}{{ma, time.Minute, time.Hour}, {mb, time.Hour, time.Minute}} {
				for _, m := range side.ms {
					if m.Kind == TimerMessage && (m.Timer == side.mine) != (m.By == Outgoing) || m.Kind == TimerMessage && (m.Timer == side.their) != (m.By == Incoming) {
						t.Fatalf("the %v line says it was made by %v", m.Timer, m.By)
					}
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timers did not settle: alice %v, bob %v", ta, tb)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func timerLines(ms []Message) int {
	n := 0
	for _, m := range ms {
		if m.Kind == TimerMessage {
			n++
		}
	}
	return n
}

// Issue 14 item 6: the sender's clock starts when the text is written, so a
// contact that never acknowledges cannot keep the sender's plaintext in its
// outbox and vault for ever. On 4749c9d it never expired.
func TestSenderClockStartsAtSend(t *testing.T) {
	n := newMemNet()
	clock := &testClock{t: time.Now()}
	a, b := startPeerClock(t, n, nil, clock.now), startPeerClock(t, n, nil, clock.now)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	b.close() // bob never comes back to acknowledge
	ctx := context.Background()
	if err := a.e.SetTimer(ctx, "alice", "bob", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	id, err := a.e.Send(ctx, "alice", "bob", "never acknowledged")
	if err != nil {
		t.Fatal(err)
	}
	m := findMessage(messagesOf(t, a, "alice", "bob"), id)
	if m == nil || m.ExpiresAt.IsZero() || m.ExpiresAt.After(clock.now().Add(31*time.Second)) {
		t.Fatalf("the sender's clock did not start at send: %+v", m)
	}
	clock.add(32 * time.Second)
	ev := a.wait("expired undelivered", func(ev Event) bool { x, ok := ev.(ExpiredEvent); return ok && x.ID == id })
	if x := ev.(ExpiredEvent); !x.Undelivered || x.Unread {
		t.Fatalf("event %+v: want Undelivered", x)
	}
	ms := messagesOf(t, a, "alice", "bob")
	if findMessage(ms, id) != nil {
		t.Fatal("expired message still listed")
	}
	if lines, count := notices(ms, NoticeExpiredUndelivered); lines != 1 || count != 1 {
		t.Fatalf("%d notice lines about %d messages, want 1 about 1", lines, count)
	}
	a.e.mu.Lock()
	left := a.e.ids["alice"].contacts["bob"].outboxIndex(id)
	a.e.mu.Unlock()
	if left >= 0 {
		t.Fatal("the expired text is still in the outbox")
	}
	if strings.Contains(a.disk.dump(), "never acknowledged") {
		t.Fatal("expired text still in the store")
	}

	// Expiry while the profile is closed: gone at the next open, with a
	// notice, and never sent.
	id2, err := a.e.Send(ctx, "alice", "bob", "queued then closed")
	if err != nil {
		t.Fatal(err)
	}
	adisk := a.disk
	a.close()
	clock.add(time.Minute)
	a = startPeerClock(t, n, adisk, clock.now)
	ms = messagesOf(t, a, "alice", "bob")
	if findMessage(ms, id2) != nil {
		t.Fatal("a text that expired while closed is still listed")
	}
	if lines, _ := notices(ms, NoticeExpiredUndelivered); lines != 2 {
		t.Fatalf("%d undelivered notices, want 2", lines)
	}
	if strings.Contains(adisk.dump(), "queued then closed") {
		t.Fatal("a text that expired while closed is still in the store")
	}
	b = startPeerClock(t, n, b.disk, clock.now)
	a.e.Send(ctx, "alice", "bob", "after")
	for _, m := range []string{"after"} {
		b.waitMessage(m)
	}
	for _, m := range messagesOf(t, b, "bob", "alice") {
		if m.Text == "never acknowledged" || m.Text == "queued then closed" {
			t.Fatalf("an expired text was delivered: %q", m.Text)
		}
	}
}

// Issue 18 item 1: alice's screen was locked when bob's text arrived; she
// came back 40 s later with a 30 s timer. On 4749c9d the text was gone
// without a trace while bob saw it delivered. The recipient's clock starts
// when the text is shown (MarkShown), and survives a restart.
func TestRecipientClockStartsWhenShown(t *testing.T) {
	n := newMemNet()
	clock := &testClock{t: time.Now()}
	a, b := startPeerClock(t, n, nil, clock.now), startPeerClock(t, n, nil, clock.now)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	if err := b.e.SetTimer(ctx, "bob", "alice", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	id, _ := b.e.Send(ctx, "bob", "alice", "read me when you are back")
	m := a.waitMessage("read me when you are back")
	if !m.Unshown || m.Timer != 30*time.Second {
		t.Fatalf("received %+v: want Unshown with its 30s timer", m)
	}
	b.wait("delivered", func(ev Event) bool { d, ok := ev.(DeliveredEvent); return ok && d.ID == id })
	if err := a.e.MarkRead("alice", "bob"); err != nil { // read marks do not start the clock
		t.Fatal(err)
	}
	clock.add(40 * time.Second) // the screen was locked
	time.Sleep(50 * time.Millisecond)
	got := findMessage(messagesOf(t, a, "alice", "bob"), id)
	if got == nil || got.Text != "read me when you are back" {
		t.Fatal("the text expired before it was shown")
	}
	// A restart keeps it waiting.
	adisk := a.disk
	a.close()
	a = startPeerClock(t, n, adisk, clock.now)
	if got := findMessage(messagesOf(t, a, "alice", "bob"), id); got == nil || !got.Unshown {
		t.Fatal("after a restart the text is gone or no longer waiting")
	}
	// Shown now: its clock starts, once.
	started, err := a.e.MarkShown("alice", "bob", id)
	if err != nil || len(started) != 1 || started[0].Unshown {
		t.Fatalf("MarkShown: %v %+v", err, started)
	}
	if want := deadline(clock.now(), 30*time.Second); !started[0].ExpiresAt.Equal(want) {
		t.Fatalf("expires at %v, want %v", started[0].ExpiresAt, want)
	}
	clock.add(10 * time.Second)
	if again, _ := a.e.MarkShown("alice", "bob", id); len(again) != 0 {
		t.Fatal("a second MarkShown restarted the clock")
	}
	// The start survives a restart.
	a.close()
	a = startPeerClock(t, n, adisk, clock.now)
	if got := findMessage(messagesOf(t, a, "alice", "bob"), id); got == nil || got.Unshown || !got.ExpiresAt.Equal(started[0].ExpiresAt) {
		t.Fatalf("after a restart: %+v", got)
	}
	clock.add(21 * time.Second)
	ev := a.wait("expired", func(ev Event) bool { x, ok := ev.(ExpiredEvent); return ok && x.ID == id })
	if x := ev.(ExpiredEvent); x.Unread || x.Undelivered {
		t.Fatalf("a shown text expired with flags %+v", x)
	}
	if lines, _ := notices(messagesOf(t, a, "alice", "bob"), NoticeExpiredUnread); lines != 0 {
		t.Fatal("a shown text left an expired-unread notice")
	}
	if strings.Contains(adisk.dump(), "read me when you are back") {
		t.Fatal("expired text still in the store")
	}
}

// Issue 18 item 1: a text never shown does not live for ever: it expires
// its timer plus UnshownGrace after it arrived, loudly (event flag, notice
// line counted unread), whether the profile is open or closed then.
func TestUnshownTextExpiresLoudly(t *testing.T) {
	n := newMemNet()
	clock := &testClock{t: time.Now()}
	a, b := startPeerClock(t, n, nil, clock.now), startPeerClock(t, n, nil, clock.now)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	if err := b.e.SetTimer(ctx, "bob", "alice", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	id1, _ := b.e.Send(ctx, "bob", "alice", "first, never shown")
	id2, _ := b.e.Send(ctx, "bob", "alice", "second, never shown")
	a.waitMessage("first, never shown")
	m := a.waitMessage("second, never shown")
	if want := deadline(clock.now(), 30*time.Second+UnshownGrace); m.ExpiresAt.After(want) {
		t.Fatalf("unshown bound %v, want at most %v", m.ExpiresAt, want)
	}
	a.e.MarkRead("alice", "bob")
	clock.add(UnshownGrace)
	time.Sleep(50 * time.Millisecond)
	if len(messagesOf(t, a, "alice", "bob")) < 3 {
		t.Fatal("expired before its bound")
	}
	clock.add(32 * time.Second)
	for _, id := range []MessageID{id1, id2} {
		ev := a.wait("expired unread", func(ev Event) bool { x, ok := ev.(ExpiredEvent); return ok && x.ID == id })
		if !ev.(ExpiredEvent).Unread {
			t.Fatalf("event %+v: want Unread", ev)
		}
	}
	ms := messagesOf(t, a, "alice", "bob")
	if findMessage(ms, id1) != nil || findMessage(ms, id2) != nil {
		t.Fatal("expired texts still listed")
	}
	if lines, count := notices(ms, NoticeExpiredUnread); lines != 1 || count != 2 {
		t.Fatalf("%d notice lines about %d texts, want one about 2", lines, count)
	}
	if c := contactInfo(t, a, "alice", "bob"); c.Unread != 1 {
		t.Fatalf("unread %d: the notice must draw the eye", c.Unread)
	}
	if strings.Contains(a.disk.dump(), "never shown") {
		t.Fatal("expired text still in the store")
	}

	// While closed.
	id3, _ := b.e.Send(ctx, "bob", "alice", "third, never shown")
	a.waitMessage("third, never shown")
	adisk := a.disk
	a.close()
	clock.add(UnshownGrace + time.Minute)
	a = startPeerClock(t, n, adisk, clock.now)
	ms = messagesOf(t, a, "alice", "bob")
	if findMessage(ms, id3) != nil {
		t.Fatal("a text that expired while closed is still listed")
	}
	if lines, count := notices(ms, NoticeExpiredUnread); lines != 2 || count != 3 {
		t.Fatalf("%d notice lines about %d texts, want 2 about 3", lines, count)
	}
}

// A text shown late still ends at the bound of its unshown life.
func TestShownLateKeepsBound(t *testing.T) {
	n := newMemNet()
	clock := &testClock{t: time.Now()}
	a, b := startPeerClock(t, n, nil, clock.now), startPeerClock(t, n, nil, clock.now)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	b.e.SetTimer(ctx, "bob", "alice", time.Hour)
	b.e.Send(ctx, "bob", "alice", "late")
	m := a.waitMessage("late")
	clock.add(UnshownGrace + 30*time.Minute)
	started, err := a.e.MarkShown("alice", "bob", m.ID)
	if err != nil || len(started) != 1 {
		t.Fatal(err)
	}
	if !started[0].ExpiresAt.Equal(m.ExpiresAt) {
		t.Fatalf("shown late, it expires at %v, past its bound %v", started[0].ExpiresAt, m.ExpiresAt)
	}
}
