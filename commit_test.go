package sotto

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/sottochat/sotto/internal/record"
	"github.com/sottochat/sotto/internal/wire"
	"github.com/sottochat/sotto/ratchet"
	"github.com/sottochat/sotto/ratchet/ratchettest"
)

// runHandshake runs a handshake in memory like ratchettest.Handshake but
// returns the two Handshakes too, for their continuity reports.
func runHandshake(t *testing.T, ini, res *ratchettest.Identity, priorI, priorR *ratchet.State) (si, sr *ratchet.State, hi, hr *ratchet.Handshake) {
	t.Helper()
	hi, err := ratchet.NewInitiator(rand.Reader, res.Public, priorI)
	if err != nil {
		t.Fatal(err)
	}
	hr, err = ratchet.NewResponder(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m1, err := hi.Hello()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := hr.Reply(m1, &res.Seed)
	if err != nil {
		t.Fatal(err)
	}
	m3, err := hi.Authenticate(m2, &ini.Seed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hr.ReadAuth(m3); err != nil {
		t.Fatal(err)
	}
	m4, sr, err := hr.Accept(priorR)
	if err != nil {
		t.Fatal(err)
	}
	if si, err = hi.Finish(m4); err != nil {
		t.Fatal(err)
	}
	return si, sr, hi, hr
}

// detachedContact is bob's contact alice, held by engine p but not part of
// any identity of it: the tests drive its state directly.
func detachedContact(alice, bob *ratchettest.Identity) *contact {
	return &contact{
		id:  &identity{name: "bob", pub: bob.Public, st: newMemStore()},
		key: "k", pub: alice.Public,
		rec: record.Contact{V: record.Version, Petname: "alice", ID: alice.Public, Auth: make([]byte, record.KeyLen)},
	}
}

func sealText(t *testing.T, st *ratchet.State, alice, bob *ratchettest.Identity, text string) []byte {
	t.Helper()
	m := &wire.Message{Kind: wire.KindText, At: 1, Text: text}
	rand.Read(m.ID[:])
	pt, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ct, err := st.Encrypt(rand.Reader, pt, adFor(alice.Public, bob.Public))
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// A handshake that runs while the old connection still decrypts must not
// undo that connection's progress when it commits: a message decrypted
// before stays decrypted once (its key is gone), and both the old epoch and
// the new one keep working.
func TestHandshakeCommitKeepsConcurrentProgress(t *testing.T) {
	p := startPeer(t, newMemNet(), nil)
	e := p.e
	alice, bob := ratchettest.NewIdentity(t), ratchettest.NewIdentity(t)
	sa, sb := ratchettest.Handshake(t, alice, bob, nil, nil)
	c := detachedContact(alice, bob)
	s := &session{e: e, c: c}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.saveStateLocked(c, sb); err != nil {
		t.Fatal(err)
	}
	// A new handshake begins from a copy of the state ...
	prior, err := e.loadStateLocked(c)
	if err != nil {
		t.Fatal(err)
	}
	hadState := prior != nil
	// ... while the old connection delivers a message.
	ct1 := sealText(t, sa, alice, bob, "during the handshake")
	if m, err := s.openLocked(ct1); err != nil || m.Text != "during the handshake" {
		t.Fatalf("old connection: %v %v", m, err)
	}
	sa2, sb2, _, hr := runHandshake(t, alice, bob, sa, prior)
	prior.Wipe()
	if err := e.commitHandshakeLocked(c, sb2, hr, hadState); err != nil {
		t.Fatal(err)
	}
	sb2.Wipe()
	if _, err := s.openLocked(ct1); err == nil {
		t.Fatal("a message decrypted before the commit decrypted again after it")
	}
	// The new epoch works both ways ...
	if m, err := s.openLocked(sealText(t, sa2, alice, bob, "new epoch")); err != nil || m.Text != "new epoch" {
		t.Fatalf("new epoch: %v %v", m, err)
	}
	out, err := s.sealLocked([]*wire.Message{{Kind: wire.KindText, At: 1, Text: "reply"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sa2.Decrypt(e.cfg.now(), out[0], adFor(bob.Public, alice.Public)); err != nil {
		t.Fatalf("alice cannot read the new epoch: %v", err)
	}
	// ... and a message still in flight in the old one is delivered.
	if m, err := s.openLocked(sealText(t, sa, alice, bob, "late, old epoch")); err != nil || m.Text != "late, old epoch" {
		t.Fatalf("old epoch after the commit: %v %v", m, err)
	}
}

func TestHandshakeCommitReportsLostContinuity(t *testing.T) {
	for _, tc := range []struct {
		name      string
		bobDials  bool
		aliceSent bool // alice sent a message in the epoch she then loses
	}{
		{"bob initiates, alice lost her keys", true, false},
		{"alice initiates, alice lost her keys", false, false},
		{"alice initiates, alice rolled back after sending", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPeer(t, newMemNet(), nil)
			e := p.e
			alice, bob := ratchettest.NewIdentity(t), ratchettest.NewIdentity(t)
			sa, sb := ratchettest.Handshake(t, alice, bob, nil, nil)
			if tc.aliceSent {
				if _, err := sb.Decrypt(e.cfg.now(), sealText(t, sa, alice, bob, "x"), adFor(alice.Public, bob.Public)); err != nil {
					t.Fatal(err)
				}
			}
			c := detachedContact(alice, bob)
			c.rec.Confirmed = true // alice had shown she stored keys
			e.mu.Lock()
			err := e.saveStateLocked(c, sb.Clone())
			e.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			// alice's state is gone (restored from a copy older than the
			// first handshake); bob still has his.
			var st *ratchet.State
			var h *ratchet.Handshake
			if tc.bobDials {
				st, _, h, _ = runHandshake(t, bob, alice, sb, nil)
			} else {
				_, st, _, h = runHandshake(t, alice, bob, nil, sb)
			}
			e.mu.Lock()
			err = e.commitHandshakeLocked(c, st, h, true)
			e.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			ev := p.wait("a rollback report", func(ev Event) bool {
				ee, ok := ev.(ErrorEvent)
				return ok && errors.Is(ee.Err, ErrPeerRolledBack)
			})
			t.Log(ev.(ErrorEvent).Err)
		})
	}
}

// A contact that never showed it stored keys with us (a first handshake that
// broke after we stored ours) is not reported as rolled back when the next
// handshake cannot continue.
func TestHandshakeCommitUnconfirmedIsNoRollback(t *testing.T) {
	p := startPeer(t, newMemNet(), nil)
	e := p.e
	alice, bob := ratchettest.NewIdentity(t), ratchettest.NewIdentity(t)
	_, sb := ratchettest.Handshake(t, alice, bob, nil, nil) // alice never stored hers
	c := detachedContact(alice, bob)
	e.mu.Lock()
	err := e.saveStateLocked(c, sb.Clone())
	e.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	_, st, _, h := runHandshake(t, alice, bob, nil, sb)
	if h.Continued() {
		t.Fatal("expected a handshake without continuity")
	}
	e.mu.Lock()
	err = e.commitHandshakeLocked(c, st, h, true)
	e.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	// A marker after it: an error event before the marker is a false alarm.
	e.ev.emit(ContactEvent{Identity: "marker"})
	p.wait("the marker", func(ev Event) bool {
		if ee, ok := ev.(ErrorEvent); ok && errors.Is(ee.Err, ErrPeerRolledBack) {
			t.Fatalf("false rollback report: %v", ee.Err)
		}
		ce, ok := ev.(ContactEvent)
		return ok && ce.Identity == "marker"
	})
}
