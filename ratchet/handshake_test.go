package ratchet

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
	"time"
)

// transcript is one recorded handshake.
type transcript struct{ m1, m2, m3, m4 []byte }

func record(t *testing.T, a, b *party) transcript {
	hi, _ := NewInitiator(rand.Reader, b.pub, nil)
	hr, _ := NewResponder(rand.Reader)
	var tr transcript
	var err error
	tr.m1, _ = hi.Hello()
	if tr.m2, err = hr.Reply(tr.m1, &b.seed); err != nil {
		t.Fatal(err)
	}
	if tr.m3, err = hi.Authenticate(tr.m2, &a.seed); err != nil {
		t.Fatal(err)
	}
	if _, err = hr.ReadAuth(tr.m3); err != nil {
		t.Fatal(err)
	}
	if tr.m4, _, err = hr.Accept(nil); err != nil {
		t.Fatal(err)
	}
	if _, err = hi.Finish(tr.m4); err != nil {
		t.Fatal(err)
	}
	for i, m := range [][]byte{tr.m1, tr.m2, tr.m3, tr.m4} {
		if want := []int{Msg1Size, Msg2Size, Msg3Size, Msg4Size}[i]; len(m) != want {
			t.Fatalf("message %d is %d bytes, want %d", i+1, len(m), want)
		}
	}
	return tr
}

func wantFail(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrHandshake) {
		t.Fatalf("%s: err = %v, want ErrHandshake", what, err)
	}
}

// TestHandshakeTamper flips every byte of every message, truncates and
// extends them: the receiving step fails and the handshake is Failed.
func TestHandshakeTamper(t *testing.T) {
	a, b := newParty(t), newParty(t)
	mutations := func(m []byte) [][]byte {
		var out [][]byte
		for i := range m {
			x := bytes.Clone(m)
			x[i] ^= 0x80 >> (i % 8)
			out = append(out, x)
		}
		return append(out, m[:len(m)-1], append(bytes.Clone(m), 0), nil)
	}
	t.Run("m1", func(t *testing.T) {
		tr := record(t, a, b)
		for _, x := range mutations(tr.m1) {
			hr, _ := NewResponder(rand.Reader)
			_, err := hr.Reply(x, &b.seed)
			wantFail(t, "tampered m1", err)
			if hr.State() != Failed {
				t.Fatal("not Failed")
			}
		}
	})
	t.Run("m2", func(t *testing.T) {
		hi, _ := NewInitiator(rand.Reader, b.pub, nil)
		hr, _ := NewResponder(rand.Reader)
		m1, _ := hi.Hello()
		m2, _ := hr.Reply(m1, &b.seed)
		for _, x := range mutations(m2) {
			c := *hi // same keys, fresh attempt
			_, err := c.Authenticate(x, &a.seed)
			wantFail(t, "tampered m2", err)
		}
		if _, err := hi.Authenticate(m2, &a.seed); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("m3 and m4", func(t *testing.T) {
		hi, _ := NewInitiator(rand.Reader, b.pub, nil)
		hr, _ := NewResponder(rand.Reader)
		m1, _ := hi.Hello()
		m2, _ := hr.Reply(m1, &b.seed)
		m3, _ := hi.Authenticate(m2, &a.seed)
		for _, x := range mutations(m3) {
			c := *hr
			_, err := c.ReadAuth(x)
			wantFail(t, "tampered m3", err)
		}
		if _, err := hr.ReadAuth(m3); err != nil {
			t.Fatal(err)
		}
		m4, _, _ := hr.Accept(nil)
		for _, x := range mutations(m4) {
			c := *hi
			_, err := c.Finish(x)
			wantFail(t, "tampered m4", err)
		}
		if _, err := hi.Finish(m4); err != nil {
			t.Fatal(err)
		}
	})
}

func TestHandshakeWrongIdentity(t *testing.T) {
	a, b, c := newParty(t), newParty(t), newParty(t)
	// a dials b, but c (holding the connection) answers: c cannot even
	// read message 1.
	hi, _ := NewInitiator(rand.Reader, b.pub, nil)
	m1, _ := hi.Hello()
	hr, _ := NewResponder(rand.Reader)
	_, err := hr.Reply(m1, &c.seed)
	wantFail(t, "impostor responder", err)

	// Dialling oneself (reflection) fails.
	hi, _ = NewInitiator(rand.Reader, a.pub, nil)
	hr, _ = NewResponder(rand.Reader)
	m1, _ = hi.Hello()
	m2, err := hr.Reply(m1, &a.seed)
	if err != nil {
		t.Fatal(err)
	}
	_, err = hi.Authenticate(m2, &a.seed)
	wantFail(t, "self handshake", err)

	// The responder's reply reflected to the initiator as message 2 of
	// another run fails (different transcript).
	tr := record(t, a, b)
	hi, _ = NewInitiator(rand.Reader, b.pub, nil)
	hi.Hello()
	_, err = hi.Authenticate(tr.m2, &a.seed)
	wantFail(t, "reflected/replayed m2", err)
}

// TestHandshakeReplay: a recorded handshake replayed against fresh parties
// fails at the first message that depends on the victim's fresh ephemeral.
func TestHandshakeReplay(t *testing.T) {
	a, b := newParty(t), newParty(t)
	tr := record(t, a, b)
	// Replayed message 1 gets a reply, but replayed message 3 then fails:
	// the responder's ephemeral is new.
	hr, _ := NewResponder(rand.Reader)
	if _, err := hr.Reply(tr.m1, &b.seed); err != nil {
		t.Fatal(err)
	}
	_, err := hr.ReadAuth(tr.m3)
	wantFail(t, "replayed m3", err)
	if hr.Peer() != nil {
		t.Fatal("peer identity revealed after failure")
	}
	// Replayed message 4 to a new initiator fails.
	hi, _ := NewInitiator(rand.Reader, b.pub, nil)
	hr, _ = NewResponder(rand.Reader)
	m1, _ := hi.Hello()
	m2, _ := hr.Reply(m1, &b.seed)
	hi.Authenticate(m2, &a.seed)
	_, err = hi.Finish(tr.m4)
	wantFail(t, "replayed m4", err)
}

// TestHandshakeTranscriptMismatch: an active attacker who splices two
// honest runs (m1 of one, m2 of another) is caught.
func TestHandshakeTranscriptMismatch(t *testing.T) {
	a, b := newParty(t), newParty(t)
	h1, _ := NewInitiator(rand.Reader, b.pub, nil)
	h2, _ := NewInitiator(rand.Reader, b.pub, nil)
	r1, _ := NewResponder(rand.Reader)
	r2, _ := NewResponder(rand.Reader)
	m1a, _ := h1.Hello()
	m1b, _ := h2.Hello()
	m2a, _ := r1.Reply(m1a, &b.seed)
	m2b, _ := r2.Reply(m1b, &b.seed)
	_, err := h1.Authenticate(m2b, &a.seed)
	wantFail(t, "spliced m2", err)
	m3, err := h2.Authenticate(m2b, &a.seed)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r1.ReadAuth(m3)
	wantFail(t, "spliced m3", err)
	_ = m2a
}

func TestHandshakeOrderAndState(t *testing.T) {
	a, b, c := newParty(t), newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	if _, err := NewInitiator(rand.Reader, c.pub, sa); !errors.Is(err, ErrStateMismatch) {
		t.Fatalf("prior for another contact: %v", err)
	}
	hi, _ := NewInitiator(rand.Reader, b.pub, sa)
	if _, err := hi.Finish(make([]byte, Msg4Size)); err == nil {
		t.Fatal("Finish before Hello succeeded")
	}
	hr, _ := NewResponder(rand.Reader)
	m1, _ := hi.Hello()
	m2, _ := hr.Reply(m1, &b.seed)
	m3, _ := hi.Authenticate(m2, &a.seed)
	hr.ReadAuth(m3)
	// The responder passes the state it holds for another contact.
	_, sc := handshake(t, c, b, nil, nil)
	if _, _, err := hr.Accept(sc); !errors.Is(err, ErrStateMismatch) {
		t.Fatalf("accept with another contact's state: %v", err)
	}
	if hr.State() != Failed {
		t.Fatal("not Failed")
	}
	_ = sb
	for s := InitiatorStart; s <= Failed+1; s++ {
		if s.String() == "" {
			t.Fatal("empty String")
		}
	}
}

// TestContinuity: later handshakes chain to the newest common epoch; a side
// that lost its state still connects, without continuity.
func TestContinuity(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	if len(sa.epochs) != 1 {
		t.Fatal("want one epoch")
	}
	for i := range MaxEpochs + 2 {
		// Alternate who dials.
		if i%2 == 0 {
			sa, sb = handshakeContinued(t, a, b, sa, sb, true)
		} else {
			sb, sa = handshakeContinued(t, b, a, sb, sa, true)
		}
		mustDecrypt(t, sb, mustEncrypt(t, sa, "x"), "x")
	}
	if len(sa.epochs) != MaxEpochs || sa.epochs[0].id != sb.epochs[0].id {
		t.Fatal("epochs disagree")
	}
	// b lost its state (new device): no continuity, but it works.
	na, nb := handshakeContinued(t, a, b, sa, nil, false)
	mustDecrypt(t, nb, mustEncrypt(t, na, "x"), "x")
	mustDecrypt(t, na, mustEncrypt(t, nb, "y"), "y")
}

// TestZeroValues: zero values fail cleanly instead of panicking.
func TestZeroValues(t *testing.T) {
	var h Handshake
	if _, err := h.Hello(); err == nil {
		t.Fatal("zero Handshake said hello")
	}
	var seed [32]byte
	if _, err := h.Reply(make([]byte, Msg1Size), &seed); err == nil {
		t.Fatal("zero Handshake replied")
	}
	var s State
	if _, err := s.Encrypt(rand.Reader, []byte("x"), nil); err == nil {
		t.Fatal("empty State encrypted")
	}
	if _, err := s.Decrypt(time.Now(), []byte{1, 0, 0}, nil); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("empty State decrypt: %v", err)
	}
	if _, err := s.MarshalBinary(); err == nil {
		t.Fatal("empty State marshalled")
	}
	if _, err := NewInitiator(rand.Reader, make([]byte, 32), nil); err == nil {
		t.Fatal("all-zero identity accepted") // small-order point
	}
	if _, err := NewInitiator(nil, newParty(t).pub, nil); err == nil {
		t.Fatal("nil random source accepted")
	}
}

// TestIdentityHiding: the initiator's identity and its X25519 form appear in
// no handshake message; only the responder learns it.
func TestIdentityHiding(t *testing.T) {
	a, b := newParty(t), newParty(t)
	tr := record(t, a, b)
	ax, err := identityX25519(a.pub)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range [][]byte{tr.m1, tr.m2, tr.m3, tr.m4} {
		if bytes.Contains(m, a.pub[:8]) || bytes.Contains(m, ax[:8]) {
			t.Fatalf("message %d reveals the initiator", i+1)
		}
		if bytes.Contains(m, b.pub[:8]) {
			t.Fatalf("message %d carries the responder's identity", i+1)
		}
	}
}
