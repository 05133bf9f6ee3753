// Package ratchetfuzz holds the fuzz targets of every decoder in package
// ratchet and ratchet/wire: serialised states, message envelopes, headers and
// the four handshake messages (with and without continuity proofs).
package ratchetfuzz

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/sottochat/sotto/fuzz/fuzzcheck"
	"github.com/sottochat/sotto/ratchet"
	"github.com/sottochat/sotto/ratchet/wire"
)

type party struct {
	seed [32]byte
	pub  ed25519.PublicKey
}

func newParty(b byte) *party {
	p := &party{}
	for i := range p.seed {
		p.seed[i] = b + byte(i)
	}
	p.pub = ed25519.NewKeyFromSeed(p.seed[:]).Public().(ed25519.PublicKey)
	return p
}

// session is a handshake's messages, the handshakes as they were before
// each message was read, and the two states it produced.
type session struct {
	a, b           *party
	priorA, priorB *ratchet.State // the states the handshake started from (nil on a first contact)
	m1, m2, m3, m4 []byte
	hiAfterHello   ratchet.Handshake // initiator waiting for m2
	hrAfterReply   ratchet.Handshake // responder waiting for m3
	hiAfterAuth    ratchet.Handshake // initiator waiting for m4
	sa, sb         *ratchet.State
}

func run(tb testing.TB, a, b *party, pa, pb *ratchet.State) *session {
	s := &session{a: a, b: b, priorA: pa, priorB: pb}
	hi, _ := ratchet.NewInitiator(rand.Reader, s.b.pub, pa)
	hr, _ := ratchet.NewResponder(rand.Reader)
	var err error
	if s.m1, err = hi.Hello(); err != nil {
		tb.Fatal(err)
	}
	s.hiAfterHello = *hi
	if s.m2, err = hr.Reply(s.m1, &s.b.seed); err != nil {
		tb.Fatal(err)
	}
	s.hrAfterReply = *hr
	if s.m3, err = hi.Authenticate(s.m2, &s.a.seed); err != nil {
		tb.Fatal(err)
	}
	s.hiAfterAuth = *hi
	if _, err = hr.ReadAuth(s.m3); err != nil {
		tb.Fatal(err)
	}
	if s.m4, s.sb, err = hr.Accept(pb); err != nil {
		tb.Fatal(err)
	}
	if s.sa, err = hi.Finish(s.m4); err != nil {
		tb.Fatal(err)
	}
	return s
}

func newSession(tb testing.TB) *session { return run(tb, newParty(1), newParty(100), nil, nil) }

// continuedSession is a second handshake chained to a first one: its
// messages 3 and 4 carry continuity proofs.
func continuedSession(tb testing.TB) *session {
	first := newSession(tb)
	exchange(tb, first.sa, first.sb, 3)
	s := run(tb, first.a, first.b, first.sa, first.sb)
	return s
}

// exchange runs n round trips of one message each way.
func exchange(tb testing.TB, x, y *ratchet.State, n int) {
	for range n {
		for _, p := range [][2]*ratchet.State{{x, y}, {y, x}} {
			m, err := p[0].Encrypt(rand.Reader, []byte("hello"), nil)
			if err != nil {
				tb.Fatal(err)
			}
			if _, err := p[1].Decrypt(time.Now(), m, nil); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// pair is a receiver's serialised state and the next message to it, which
// decrypts against it.
type pair struct {
	base, msg []byte
}

// conversation runs a conversation that crosses a whole post-quantum round
// (messages of one and of several per chain) and returns, for every
// message, its receiver's state before it and the message.
func (s *session) conversation(tb testing.TB) []pair {
	var out []pair
	pattern := []int{0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}
	for _, from := range pattern {
		x, y := s.sa, s.sb
		if from == 1 {
			x, y = s.sb, s.sa
		}
		base, _ := y.MarshalBinary()
		m, err := x.Encrypt(rand.Reader, []byte("hello"), nil)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := y.Decrypt(time.Now(), m, nil); err != nil {
			tb.Fatal(err)
		}
		out = append(out, pair{base, m})
	}
	return out
}

func FuzzStateUnmarshal(f *testing.F) {
	s := newSession(f)
	n := 0
	add := func(st *ratchet.State) {
		b, err := st.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		n++
	}
	add(s.sa)
	add(s.sb)
	for _, p := range s.conversation(f) {
		f.Add(p.base) // every point of a post-quantum round, on both sides
		n++
	}
	// Leave skipped keys behind.
	for range 3 {
		s.sa.Encrypt(rand.Reader, []byte("lost"), nil)
	}
	last, _ := s.sa.Encrypt(rand.Reader, []byte("x"), nil)
	s.sb.Decrypt(time.Now(), last, nil)
	add(s.sa)
	add(s.sb)
	c := continuedSession(f)
	add(c.sa)
	add(c.sb)
	f.Add([]byte{})
	f.Add([]byte{1})
	n += 2
	fuzzcheck.RequireSeeds(f, n)
	f.Fuzz(func(t *testing.T, data []byte) {
		// ParseState (the engine's parser) must agree with UnmarshalBinary.
		ps, perr := ratchet.ParseState(data)
		if ps != nil {
			b, err := ps.MarshalBinary()
			if err != nil || !bytes.Equal(b, data) {
				t.Fatalf("marshal(ParseState(b)) != b: %v", err)
			}
			ps.Wipe()
		}
		var st ratchet.State
		err := st.UnmarshalBinary(data)
		if (err == nil) != (perr == nil) || (err != nil && !errors.Is(perr, err)) {
			t.Fatalf("UnmarshalBinary: %v, ParseState: %v", err, perr)
		}
		if err != nil {
			if !errors.Is(err, ratchet.ErrBadState) && !errors.Is(err, ratchet.ErrOldState) {
				t.Fatalf("unexpected error type: %v", err)
			}
			if errors.Is(err, ratchet.ErrOldState) != ratchet.IsOldState(data) {
				t.Fatal("ErrOldState and IsOldState disagree")
			}
			return
		}
		again, err := st.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, data) {
			t.Fatal("marshal(unmarshal(b)) != b")
		}
		// A parsed state must be usable without panicking.
		st.Encrypt(rand.Reader, []byte("x"), nil)
		st.Decrypt(time.Now(), data, nil)
		st.Wipe()
	})
}

func FuzzDecrypt(f *testing.F) {
	// Receivers at every point of a post-quantum round and the message each
	// receives next: key chunks, ciphertext chunks, the chain that mixes the
	// secret, chains of one and of several messages.
	s := newSession(f)
	pairs := s.conversation(f)
	for i, p := range pairs {
		var st ratchet.State
		if err := st.UnmarshalBinary(p.base); err != nil {
			f.Fatal(err)
		}
		if _, err := st.Decrypt(time.Now(), p.msg, nil); err != nil {
			f.Fatalf("seed %d does not decrypt: %v", i, err)
		}
		f.Add(uint8(i), p.msg, []byte(nil))
	}
	fuzzcheck.RequireSeeds(f, len(pairs))
	f.Fuzz(func(t *testing.T, which uint8, m, ad []byte) {
		base := pairs[int(which)%len(pairs)].base
		var st ratchet.State
		if err := st.UnmarshalBinary(base); err != nil {
			t.Fatal(err)
		}
		_, err := st.Decrypt(time.Now(), m, ad)
		after, _ := st.MarshalBinary()
		if err != nil {
			if !errors.Is(err, ratchet.ErrDecrypt) && !errors.Is(err, ratchet.ErrTooManySkipped) {
				t.Fatalf("unexpected error: %v", err)
			}
			if !bytes.Equal(after, base) {
				t.Fatal("failed decryption changed the state")
			}
			return
		}
		if _, err := st.Decrypt(time.Now(), m, ad); err == nil {
			t.Fatal("message decrypted twice")
		}
	})
}

func FuzzWireMessage(f *testing.F) {
	s := newSession(f)
	n := 0
	for _, p := range s.conversation(f) {
		f.Add(p.msg)
		n++
	}
	fuzzcheck.RequireSeeds(f, n)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := wire.ParseMessage(b)
		var u wire.Message
		if uerr := u.Unmarshal(b); (err == nil) != (uerr == nil) {
			t.Fatalf("ParseMessage: %v, Unmarshal: %v", err, uerr)
		}
		if err != nil {
			return
		}
		if !bytes.Equal(m.Marshal(), b) || !bytes.Equal(u.Marshal(), b) || len(b) < wire.Overhead {
			t.Fatal("marshal(parse(b)) != b")
		}
	})
}

func FuzzWireHeader(f *testing.F) {
	ek := wire.Header{PN: 1, N: 2, Flags: wire.FlagEK, Round: 1, Index: wire.EKChunks - 1}
	for i := range wire.ChunkLen(wire.EncapsulationKeySize, wire.EKChunks-1) {
		ek.Chunk[i] = byte(i)
	}
	ct := wire.Header{Flags: wire.FlagCT | wire.FlagMix, Round: 7, Index: 2}
	for i := range ct.Chunk {
		ct.Chunk[i] = 0xff
	}
	seeds := []wire.Header{{PN: 1, N: 2}, {Flags: wire.FlagMix}, ek, ct}
	for _, h := range seeds {
		f.Add(h.Marshal())
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	// reused is decoded into again and again, as Decrypt does: it must
	// agree with a fresh ParseHeader every time, keeping nothing of the last.
	var reused wire.Header
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := wire.ParseHeader(b)
		uerr := reused.Unmarshal(b)
		if (err == nil) != (uerr == nil) {
			t.Fatalf("ParseHeader: %v, Unmarshal: %v", err, uerr)
		}
		if err != nil {
			if reused != (wire.Header{}) {
				t.Fatal("failed Unmarshal left data")
			}
			return
		}
		if !bytes.Equal(h.Marshal(), b) || !bytes.Equal(reused.Append([]byte{}), b) || h.Size() != len(b) {
			t.Fatal("marshal(parse(b)) != b")
		}
	})
}

func FuzzHandshakeMsg1(f *testing.F) {
	s := newSession(f)
	f.Add(s.m1)
	fuzzcheck.RequireSeeds(f, 1)
	f.Fuzz(func(t *testing.T, m []byte) {
		hr, _ := ratchet.NewResponder(rand.Reader)
		m2, err := hr.Reply(m, &s.b.seed)
		if err != nil {
			if !errors.Is(err, ratchet.ErrHandshake) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if len(m2) != ratchet.Msg2Size {
			t.Fatal("bad m2 size")
		}
	})
}

func FuzzHandshakeMsg2(f *testing.F) {
	s := newSession(f)
	f.Add(s.m2)
	fuzzcheck.RequireSeeds(f, 1)
	f.Fuzz(func(t *testing.T, m []byte) {
		h := s.hiAfterHello
		if _, err := h.Authenticate(m, &s.a.seed); err != nil && !errors.Is(err, ratchet.ErrHandshake) {
			t.Fatalf("unexpected error: %v", err)
		}
	})
}

// FuzzHandshakeMsg3 reads message 3 (a first contact's and a continued
// handshake's, whose list of epochs carries proofs) and, when it
// authenticates, accepts it against the responder's prior State, which
// checks the proofs.
func FuzzHandshakeMsg3(f *testing.F) {
	sessions := []*session{newSession(f), continuedSession(f)}
	for i, s := range sessions {
		f.Add(uint8(i), s.m3)
	}
	fuzzcheck.RequireSeeds(f, len(sessions))
	f.Fuzz(func(t *testing.T, which uint8, m []byte) {
		s := sessions[int(which)%len(sessions)]
		h := s.hrAfterReply
		peer, err := h.ReadAuth(m)
		if err != nil {
			if !errors.Is(err, ratchet.ErrHandshake) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if !bytes.Equal(peer, s.a.pub) {
			t.Fatal("authenticated the wrong identity")
		}
		m4, st, err := h.Accept(s.priorB)
		if err != nil {
			t.Fatal(err)
		}
		if len(m4) != ratchet.Msg4Size {
			t.Fatal("bad m4 size")
		}
		st.Wipe()
	})
}

// FuzzHandshakeMsg4 reads message 4 of a first contact and of a continued
// handshake (with the responder's proof).
func FuzzHandshakeMsg4(f *testing.F) {
	sessions := []*session{newSession(f), continuedSession(f)}
	for i, s := range sessions {
		f.Add(uint8(i), s.m4)
	}
	fuzzcheck.RequireSeeds(f, len(sessions))
	f.Fuzz(func(t *testing.T, which uint8, m []byte) {
		s := sessions[int(which)%len(sessions)]
		h := s.hiAfterAuth
		st, err := h.Finish(m)
		if err != nil {
			if !errors.Is(err, ratchet.ErrHandshake) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if which%2 == 1 && !h.Continued() {
			t.Fatal("a continued handshake's message 4 finished without continuity")
		}
		st.Wipe()
	})
}
