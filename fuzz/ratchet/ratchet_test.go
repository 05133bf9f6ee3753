// Package ratchetfuzz holds the fuzz targets of every decoder in package
// ratchet and ratchet/wire: serialised states, message envelopes, headers and
// the four handshake messages.
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

// session is a handshake's messages and the two states it produced.
type session struct {
	a, b           *party
	m1, m2, m3, m4 []byte
	hiAfterHello   ratchet.Handshake // initiator waiting for m2
	hrAfterReply   ratchet.Handshake // responder waiting for m3
	hiAfterAuth    ratchet.Handshake // initiator waiting for m4
	sa, sb         *ratchet.State
}

func newSession(tb testing.TB) *session {
	s := &session{a: newParty(1), b: newParty(100)}
	hi, _ := ratchet.NewInitiator(rand.Reader, s.b.pub, nil)
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
	if s.m4, s.sb, err = hr.Accept(nil); err != nil {
		tb.Fatal(err)
	}
	if s.sa, err = hi.Finish(s.m4); err != nil {
		tb.Fatal(err)
	}
	return s
}

// messages returns a conversation's ciphertexts (a to b), including ones on
// post-quantum offer and answer chains, leaving them undelivered.
func (s *session) messages(tb testing.TB) [][]byte {
	var out [][]byte
	for i := range 6 {
		for j := range i%3 + 1 {
			m, err := s.sa.Encrypt(rand.Reader, []byte("hello"), []byte{byte(j)})
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, m)
			if _, err := s.sb.Decrypt(time.Now(), m, []byte{byte(j)}); err != nil {
				tb.Fatal(err)
			}
		}
		r, _ := s.sb.Encrypt(rand.Reader, []byte("reply"), nil)
		out = append(out, r)
		if _, err := s.sa.Decrypt(time.Now(), r, nil); err != nil {
			tb.Fatal(err)
		}
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
	s.messages(f)
	// Leave skipped keys behind.
	for range 3 {
		s.sa.Encrypt(rand.Reader, []byte("lost"), nil)
	}
	last, _ := s.sa.Encrypt(rand.Reader, []byte("x"), nil)
	s.sb.Decrypt(time.Now(), last, nil)
	add(s.sa)
	add(s.sb)
	f.Add([]byte{})
	f.Add([]byte{1})
	n += 2
	fuzzcheck.RequireSeeds(f, n)
	f.Fuzz(func(t *testing.T, data []byte) {
		var st ratchet.State
		if err := st.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ratchet.ErrBadState) {
				t.Fatalf("unexpected error type: %v", err)
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
	// Two receivers and undelivered messages for each: b before a's first
	// chain (which offers an ML-KEM key), and a before b's answer to it.
	s := newSession(f)
	baseB, _ := s.sb.MarshalBinary()
	var toB, toA [][]byte
	for i := range 4 {
		m, _ := s.sa.Encrypt(rand.Reader, []byte("to b"), []byte{byte(i)})
		toB = append(toB, m)
	}
	for i, m := range toB {
		if _, err := s.sb.Decrypt(time.Now(), m, []byte{byte(i)}); err != nil {
			f.Fatal(err)
		}
	}
	baseA, _ := s.sa.MarshalBinary()
	for i := range 4 {
		m, _ := s.sb.Encrypt(rand.Reader, []byte("to a"), []byte{byte(i)})
		toA = append(toA, m)
	}
	// Every seed decrypts against its base, so the fuzzer starts from the
	// success path (including the post-quantum offer and answer).
	for i := range toB {
		for _, c := range []struct {
			base []byte
			m    []byte
		}{{baseB, toB[i]}, {baseA, toA[i]}} {
			var st ratchet.State
			if err := st.UnmarshalBinary(c.base); err != nil {
				f.Fatal(err)
			}
			if _, err := st.Decrypt(time.Now(), c.m, []byte{byte(i)}); err != nil {
				f.Fatalf("seed %d does not decrypt: %v", i, err)
			}
		}
	}
	n := 0
	for i := len(toB) - 1; i >= 0; i-- {
		f.Add(false, toB[i], []byte{byte(i)})
		f.Add(true, toA[i], []byte{byte(i)})
		n += 2
	}
	fuzzcheck.RequireSeeds(f, n)
	f.Fuzz(func(t *testing.T, toInitiator bool, m, ad []byte) {
		base := baseB
		if toInitiator {
			base = baseA
		}
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
	for _, m := range s.messages(f) {
		f.Add(m)
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
		if !bytes.Equal(m.Marshal(), b) || !bytes.Equal(u.Marshal(), b) {
			t.Fatal("marshal(parse(b)) != b")
		}
	})
}

func FuzzWireHeader(f *testing.F) {
	var dh [32]byte
	seeds := []wire.Header{
		{DH: dh, PN: 1, N: 2},
		{DH: dh, Flags: wire.FlagEK, EK: make([]byte, wire.EncapsulationKeySize)},
		{DH: dh, Flags: wire.FlagCT, CT: make([]byte, wire.CiphertextSize)},
		{DH: dh, Flags: wire.FlagEK | wire.FlagCT, EK: make([]byte, wire.EncapsulationKeySize), CT: make([]byte, wire.CiphertextSize)},
	}
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
			if !bytes.Equal(reused.Marshal(), (&wire.Header{}).Marshal()) {
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

func FuzzHandshakeMsg3(f *testing.F) {
	s := newSession(f)
	f.Add(s.m3)
	fuzzcheck.RequireSeeds(f, 1)
	f.Fuzz(func(t *testing.T, m []byte) {
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
	})
}

func FuzzHandshakeMsg4(f *testing.F) {
	s := newSession(f)
	f.Add(s.m4)
	fuzzcheck.RequireSeeds(f, 1)
	f.Fuzz(func(t *testing.T, m []byte) {
		h := s.hiAfterAuth
		if _, err := h.Finish(m); err != nil && !errors.Is(err, ratchet.ErrHandshake) {
			t.Fatalf("unexpected error: %v", err)
		}
	})
}
