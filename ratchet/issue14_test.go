package ratchet

import (
	"crypto/rand"
	"fmt"
	"testing"
)

// TestLostMessage4NoFalseAlarm pins issue 14 item 3: the responder stores a
// new epoch before message 4, so every lost message 4 leaves it with an
// epoch the initiator never got. However many are lost in a row, the next
// handshake, in either direction, must continue from an epoch both hold and
// raise no rollback alarm.
func TestLostMessage4NoFalseAlarm(t *testing.T) {
	for lost := 1; lost <= 2*MaxEpochs+1; lost++ {
		for _, next := range []string{"same", "reverse"} {
			t.Run(fmt.Sprintf("lost%d-%s", lost, next), func(t *testing.T) {
				a, b := newParty(t), newParty(t)
				sa, sb := handshake(t, a, b, nil, nil)
				mustDecrypt(t, sb, mustEncrypt(t, sa, "a1"), "a1")
				mustDecrypt(t, sa, mustEncrypt(t, sb, "b1"), "b1")
				for range lost {
					hi, _ := NewInitiator(rand.Reader, b.pub, sa)
					hr, _ := NewResponder(rand.Reader)
					m1, _ := hi.Hello()
					m2, _ := hr.Reply(m1, &b.seed)
					m3, _ := hi.Authenticate(m2, &a.seed)
					if _, err := hr.ReadAuth(m3); err != nil {
						t.Fatal(err)
					}
					_, nb, err := hr.Accept(sb)
					if err != nil {
						t.Fatal(err)
					}
					if hr.PeerRolledBack() || !hr.Continued() {
						t.Fatalf("lost message 4: rolled back %v, continued %v", hr.PeerRolledBack(), hr.Continued())
					}
					sb = nb // message 4 is lost: a keeps sa
				}
				x, y, px, py := a, b, sa, sb
				if next == "reverse" {
					x, y, px, py = b, a, sb, sa
				}
				hi, _ := NewInitiator(rand.Reader, y.pub, px)
				hr, _ := NewResponder(rand.Reader)
				m1, _ := hi.Hello()
				m2, _ := hr.Reply(m1, &y.seed)
				m3, _ := hi.Authenticate(m2, &x.seed)
				if _, err := hr.ReadAuth(m3); err != nil {
					t.Fatal(err)
				}
				m4, ny, err := hr.Accept(py)
				if err != nil {
					t.Fatal(err)
				}
				nx, err := hi.Finish(m4)
				if err != nil {
					t.Fatal(err)
				}
				if hr.PeerRolledBack() {
					t.Fatalf("after %d lost message 4s: false rollback alarm", lost)
				}
				if !hi.Continued() || !hr.Continued() {
					t.Fatalf("after %d lost message 4s: continuity lost (initiator %v, responder %v)", lost, hi.Continued(), hr.Continued())
				}
				mustDecrypt(t, ny, mustEncrypt(t, nx, "after"), "after")
				mustDecrypt(t, nx, mustEncrypt(t, ny, "after too"), "after too")
			})
		}
	}
}

// TestStolenResponderKeyCannotClaimContinuity pins issue 14 item 4: an
// attacker holding the responder's identity key (but not its State)
// answers the initiator's dial, reads the epoch ids of message 3 and echoes
// one in message 4. The initiator must not report continuity.
func TestStolenResponderKeyCannotClaimContinuity(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	mustDecrypt(t, sb, mustEncrypt(t, sa, "a1"), "a1")
	hi, _ := NewInitiator(rand.Reader, b.pub, sa)
	mallory, _ := NewResponder(rand.Reader)
	m1, _ := hi.Hello()
	m2, err := mallory.Reply(m1, &b.seed) // the stolen key
	if err != nil {
		t.Fatal(err)
	}
	m3, _ := hi.Authenticate(m2, &a.seed)
	if _, err := mallory.ReadAuth(m3); err != nil {
		t.Fatal(err)
	}
	m4, _, err := mallory.Accept(forgedPrior(t, sb, mallory.offeredIDs()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hi.Finish(m4); err == nil && hi.Continued() {
		t.Fatal("an attacker with the responder's stolen identity key but not its state made the initiator report continuity")
	}
}

// TestStolenInitiatorKeyCannotClaimContinuity is the responder's side of
// issue 14 item 4: an attacker holding a's identity key learns b's epoch
// ids when b dials a (the attacker answers as a), then dials b listing
// them. b must not report continuity, and must see the missing epoch.
func TestStolenInitiatorKeyCannotClaimContinuity(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	mustDecrypt(t, sb, mustEncrypt(t, sa, "a1"), "a1")
	mustDecrypt(t, sa, mustEncrypt(t, sb, "b1"), "b1")
	_ = sa
	// b dials "a": the attacker answers with a's stolen key.
	hb, _ := NewInitiator(rand.Reader, a.pub, sb)
	mallory, _ := NewResponder(rand.Reader)
	m1, _ := hb.Hello()
	m2, err := mallory.Reply(m1, &a.seed)
	if err != nil {
		t.Fatal(err)
	}
	m3, _ := hb.Authenticate(m2, &b.seed)
	if _, err := mallory.ReadAuth(m3); err != nil {
		t.Fatal(err)
	}
	ids := mallory.offeredIDs()
	if len(ids) == 0 {
		t.Fatal("no ids learned")
	}
	// The attacker dials b as a, listing the ids it learned.
	hm, err := NewInitiator(rand.Reader, b.pub, forgedPrior(t, sa, ids))
	if err != nil {
		t.Fatal(err)
	}
	hr, _ := NewResponder(rand.Reader)
	m1, _ = hm.Hello()
	m2, _ = hr.Reply(m1, &b.seed)
	m3, err = hm.Authenticate(m2, &a.seed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hr.ReadAuth(m3); err != nil {
		t.Fatal(err)
	}
	if _, _, err := hr.Accept(sb); err != nil {
		t.Fatal(err)
	}
	if hr.Continued() {
		t.Fatal("an attacker with the initiator's stolen identity key but not its state made the responder report continuity")
	}
	if !hr.PeerRolledBack() {
		t.Fatal("the responder did not notice that its peer lacks the epoch it had used")
	}
}

// TestSizeIndependentOfSchedule pins issue 14 item 5: a message's size
// depends only on its plaintext, never on where it falls in the
// post-quantum schedule, on either side, in chains of one or several
// messages.
func TestSizeIndependentOfSchedule(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	want := -1
	pt := "twelve bytes"
	for i := range 200 {
		from, to := sa, sb
		if (i/3)%2 == 1 || i%7 == 0 {
			from, to = sb, sa
		}
		m := mustEncrypt(t, from, pt)
		if want < 0 {
			want = len(m)
		}
		if len(m) != want {
			t.Fatalf("message %d is %d bytes, the first was %d: sizes show the schedule", i, len(m), want)
		}
		if len(m) != len(pt)+Overhead {
			t.Fatalf("message %d is %d bytes, not len(plaintext)+Overhead", i, len(m))
		}
		mustDecrypt(t, to, m, pt)
	}
}

// offeredIDs returns the epoch ids the initiator listed in message 3, as
// an attacker playing the responder reads them.
func (h *Handshake) offeredIDs() [][epochIDSize]byte {
	ids := make([][epochIDSize]byte, len(h.offers))
	for i, o := range h.offers {
		ids[i] = o.id
	}
	return ids
}

// forgedPrior is a State between the identities of like whose epochs carry
// the given ids and continuity secrets the attacker made up.
func forgedPrior(t *testing.T, like *State, ids [][epochIDSize]byte) *State {
	t.Helper()
	s := &State{local: like.local, peer: like.peer}
	for _, id := range ids {
		e := &epoch{id: id, hasDHs: true, sendPending: true}
		if _, err := rand.Read(e.resume[:]); err != nil {
			t.Fatal(err)
		}
		s.epochs = append(s.epochs, e)
	}
	return s
}
