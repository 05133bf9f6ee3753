package ratchet

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto/ratchet/wire"
)

func marshal(t testing.TB, s *State) []byte {
	t.Helper()
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// conversationAt runs an alternating conversation until a message whose
// header has the given flags, and returns its receiver's state and the
// message (not yet delivered).
func conversationAt(t *testing.T, wantFlags byte) (*State, []byte) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	for range 4 * (pqEKChunks + pqCTChunks + 1) {
		for _, pair := range [][2]*State{{sa, sb}, {sb, sa}} {
			from, to := pair[0], pair[1]
			m := mustEncrypt(t, from, "x")
			if pm, ok := parseMessage(m); ok {
				if h, ok := pm.openHeader(&from.epochs[0].hks); ok && h.Flags == wantFlags {
					return to, m
				}
			}
			mustDecrypt(t, to, m, "x")
		}
	}
	t.Fatalf("no message with flags %d", wantFlags)
	return nil, nil
}

// TestTamperEveryByte flips every bit position's byte of messages with each
// kind of post-quantum chunk, truncates and extends them: each must fail
// with ErrDecrypt and leave the state unchanged; the original then decrypts.
func TestTamperEveryByte(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags byte
	}{{"idle", 0}, {"offer", wire.FlagEK}, {"answer", wire.FlagCT}, {"mix", wire.FlagMix | wire.FlagEK}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb, m := conversationAt(t, tc.flags)
			before := marshal(t, sb)
			try := func(bad []byte) {
				if _, err := sb.Decrypt(time.Now(), bad, []byte("ad")); !errors.Is(err, ErrDecrypt) {
					t.Fatalf("tampered message: err %v", err)
				}
			}
			for i := range m {
				bad := bytes.Clone(m)
				bad[i] ^= 0x01 << (i % 8)
				try(bad)
			}
			try(m[:len(m)-1])
			try(append(bytes.Clone(m), 0))
			try(nil)
			if _, err := sb.Decrypt(time.Now(), m, []byte("other ad")); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("wrong associated data: %v", err)
			}
			if !bytes.Equal(before, marshal(t, sb)) {
				t.Fatal("state changed by a tampered message")
			}
			mustDecrypt(t, sb, m, "x")
		})
	}
}

func TestReplayAndMaxSkip(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	m0 := mustEncrypt(t, sa, "0")
	mustDecrypt(t, sb, m0, "0")
	if _, err := sb.Decrypt(time.Now(), m0, []byte("ad")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("replay: %v", err)
	}
	var ms [][]byte
	for range MaxSkip + 2 {
		ms = append(ms, mustEncrypt(t, sa, "m"))
	}
	before := marshal(t, sb)
	if _, err := sb.Decrypt(time.Now(), ms[MaxSkip+1], []byte("ad")); !errors.Is(err, ErrTooManySkipped) {
		t.Fatalf("beyond MaxSkip: %v", err)
	}
	if !bytes.Equal(before, marshal(t, sb)) {
		t.Fatal("state changed by a refused skip")
	}
	// Exactly MaxSkip skipped keys is allowed, and they decrypt out of order.
	mustDecrypt(t, sb, ms[MaxSkip], "m")
	mustDecrypt(t, sb, ms[7], "m")
	if _, err := sb.Decrypt(time.Now(), ms[7], []byte("ad")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("replay of a skipped message: %v", err)
	}
	// Skipped keys expire.
	later := time.Now().Add(MaxSkippedAge + time.Minute)
	if _, err := sb.Decrypt(later, ms[3], []byte("ad")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("expired skipped key: %v", err)
	}
	sb.Expire(later)
	if n := sb.skippedCount(); n != 0 {
		t.Fatalf("%d skipped keys after expiry", n)
	}
	mustDecrypt(t, sb, ms[MaxSkip+1], "m")
}

func TestSkippedTotalBound(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	// Skip MaxSkip keys in three successive chains: the third exceeds
	// MaxSkippedKeys in total.
	for round := range 3 {
		var last []byte
		for range MaxSkip + 1 {
			last = mustEncrypt(t, sa, "m")
		}
		_, err := sb.Decrypt(time.Now(), last, []byte("ad"))
		if round < 2 && err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if round == 2 {
			if !errors.Is(err, ErrTooManySkipped) {
				t.Fatalf("total bound: %v", err)
			}
			return
		}
		mustDecrypt(t, sa, mustEncrypt(t, sb, "r"), "r")
	}
}

// TestForwardSecrecy: once decrypted, a message cannot be decrypted again
// from any later copy of the state, and the serialised state does not hold
// its key.
func TestForwardSecrecy(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	var old [][]byte
	for i := range 10 {
		m := mustEncrypt(t, sa, "secret")
		old = append(old, m)
		if i%3 != 1 { // leave some skipped for a while
			mustDecrypt(t, sb, m, "secret")
		}
	}
	mustDecrypt(t, sb, old[1], "secret")
	mustDecrypt(t, sb, old[4], "secret")
	mustDecrypt(t, sb, old[7], "secret")
	mustDecrypt(t, sa, mustEncrypt(t, sb, "r"), "r")
	snapshot := marshal(t, sb)
	var stolen State
	if err := stolen.UnmarshalBinary(snapshot); err != nil {
		t.Fatal(err)
	}
	for i, m := range old {
		if _, err := stolen.Decrypt(time.Now(), m, []byte("ad")); err == nil {
			t.Fatalf("message %d decrypted again from a later state", i)
		}
	}
}

// pqHealRoundTrips is the post-compromise bound against a quantum
// attacker, in round trips of a conversation that alternates. A round takes
// pqEKChunks round trips for the key and pqCTChunks-1 more for the
// ciphertext (its first chunk answers the key's last); the next round trip
// mixes the secret and starts the next round. A compromise just after a
// round's secret is fixed (the attacker then knows it) heals only when the
// next round's secret is mixed: two rounds and the mixing round trip.
// docs/PROTOCOL.md, section 1.5, states it.
const pqHealRoundTrips = 2*(pqEKChunks+pqCTChunks-1) + 1

// TestPostCompromiseSecurity: an attacker who copies one side's whole state
// and then sees every ciphertext, and who can even compute every X25519
// secret (a quantum computer), stops decrypting messages to that side once
// an ML-KEM secret it does not know is mixed into the root key: within
// pqHealRoundTrips round trips of the compromise, measured at every point of
// the post-quantum schedule. A classical attacker stops after the first DH
// step with fresh randomness (two round trips).
func TestPostCompromiseSecurity(t *testing.T) {
	worst := 0
	for _, victim := range []string{"initiator", "responder"} {
		// A round is 2*(pqEKChunks+pqCTChunks-1) half round trips once the
		// first has started: the starts cover all of it.
		for start := range 2*(pqEKChunks+pqCTChunks) + 2 {
			a, b := newParty(t), newParty(t)
			sa, sb := handshake(t, a, b, nil, nil)
			v, o := sb, sa
			if victim == "initiator" {
				v, o = sa, sb
			}
			// Warm up by start half round trips, so that the compromise
			// happens at every point of the schedule, including between an
			// offer and its answer (the victim then holds a decapsulation key).
			for i := range start {
				x, y := o, v
				if i%2 == 1 {
					x, y = v, o
				}
				mustDecrypt(t, y, mustEncrypt(t, x, "warm"), "warm")
			}
			quantum := v.Clone()   // follows every X25519 secret
			classical := v.Clone() // knows only the stolen state
			qAlive, cAlive := true, true
			var qRounds, cRounds int
			for round := 1; round <= pqHealRoundTrips+4 && (qAlive || cAlive); round++ {
				m := mustEncrypt(t, o, "to victim")
				mustDecrypt(t, v, m, "to victim")
				if qAlive {
					if _, err := quantum.Decrypt(time.Now(), m, []byte("ad")); err != nil {
						qAlive, qRounds = false, round
					}
				}
				if cAlive {
					if _, err := classical.Decrypt(time.Now(), m, []byte("ad")); err != nil {
						cAlive, cRounds = false, round
					}
				}
				// The victim replies; the quantum attacker learns its new
				// X25519 key (it can solve discrete logs) but not its ML-KEM
				// seeds or encapsulation randomness, which it replaces.
				leak := &leakyReader{}
				r := mustEncryptWith(t, v, leak, "from victim")
				mustDecrypt(t, o, r, "from victim")
				if qAlive {
					if _, err := quantum.Encrypt(leak.replay(), []byte("from victim"), []byte("ad")); err != nil {
						t.Fatal(err)
					}
				}
			}
			if cAlive || cRounds > 2 {
				t.Fatalf("%s, start %d: classical attacker still reading after %d round trips", victim, start, cRounds)
			}
			if qAlive || qRounds > pqHealRoundTrips {
				t.Fatalf("%s, start %d: quantum attacker still reading at round trip %d", victim, start, qRounds)
			}
			worst = max(worst, qRounds)
			t.Logf("%s compromised after %d half round trips: classical attacker lost access at round trip %d, quantum at %d", victim, start, cRounds, qRounds)
		}
	}
	t.Logf("quantum attacker: at most %d round trips (bound %d)", worst, pqHealRoundTrips)
}

// leakyReader records what it hands out; replay gives back the 32-byte reads
// (X25519 keys and header nonces, which a quantum attacker can recover) and
// fresh random bytes for the 64-byte reads (ML-KEM seeds, which it cannot).
type leakyReader struct{ reads [][]byte }

func (l *leakyReader) Read(p []byte) (int, error) {
	n, err := rand.Read(p)
	l.reads = append(l.reads, bytes.Clone(p[:n]))
	return n, err
}

func (l *leakyReader) replay() *replayReader { return &replayReader{reads: l.reads} }

type replayReader struct{ reads [][]byte }

func (r *replayReader) Read(p []byte) (int, error) {
	if len(r.reads) == 0 {
		return rand.Read(p)
	}
	next := r.reads[0]
	r.reads = r.reads[1:]
	if len(next) == mlkemSeedSize || len(next) != len(p) {
		return rand.Read(p)
	}
	return copy(p, next), nil
}

func mustEncryptWith(t *testing.T, s *State, r interface{ Read([]byte) (int, error) }, pt string) []byte {
	t.Helper()
	m, err := s.Encrypt(r, []byte(pt), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRollback: a sender restored from an old copy never repeats a key and
// nonce (its new ciphertext differs and is rejected by the peer, leaving the
// peer unchanged), and the next handshake restores communication with key
// continuity.
func TestRollback(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	mustDecrypt(t, sb, mustEncrypt(t, sa, "1"), "1")
	backup := marshal(t, sa)
	m2 := mustEncrypt(t, sa, "2")
	mustDecrypt(t, sb, m2, "2")

	var restored State
	if err := restored.UnmarshalBinary(backup); err != nil {
		t.Fatal(err)
	}
	m2b := mustEncrypt(t, &restored, "2 again")
	if bytes.Equal(m2[:40], m2b[:40]) {
		t.Fatal("restored state repeated a header nonce")
	}
	before := marshal(t, sb)
	if _, err := sb.Decrypt(time.Now(), m2b, []byte("ad")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("message from a rolled-back sender: %v", err)
	}
	if !bytes.Equal(before, marshal(t, sb)) {
		t.Fatal("peer state changed")
	}
	// The next connection's handshake starts a fresh epoch.
	ha := newParty(t)
	_ = ha
	na, nb := handshakeContinued(t, a, b, &restored, sb, true)
	mustDecrypt(t, nb, mustEncrypt(t, na, "after"), "after")
	mustDecrypt(t, na, mustEncrypt(t, nb, "after too"), "after too")
}

func handshakeContinued(t *testing.T, a, b *party, pa, pb *State, want bool) (*State, *State) {
	t.Helper()
	hi, err := NewInitiator(rand.Reader, b.pub, pa)
	if err != nil {
		t.Fatal(err)
	}
	hr, _ := NewResponder(rand.Reader)
	m1, _ := hi.Hello()
	m2, err := hr.Reply(m1, &b.seed)
	if err != nil {
		t.Fatal(err)
	}
	m3, err := hi.Authenticate(m2, &a.seed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hr.ReadAuth(m3); err != nil {
		t.Fatal(err)
	}
	m4, sb, err := hr.Accept(pb)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := hi.Finish(m4)
	if err != nil {
		t.Fatal(err)
	}
	if hi.Continued() != want || hr.Continued() != want {
		t.Fatalf("continued %v/%v, want %v", hi.Continued(), hr.Continued(), want)
	}
	return sa, sb
}

func TestMarshalRoundTrip(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	sa, sb = handshakeContinued(t, a, b, sa, sb, true)
	var pending [][]byte
	for i := range 3 * (pqEKChunks + pqCTChunks + 1) {
		for j := range i % 4 {
			m := mustEncrypt(t, sa, "a")
			if j == 0 {
				pending = append(pending, m) // skipped for now
			} else {
				mustDecrypt(t, sb, m, "a")
			}
		}
		mustDecrypt(t, sa, mustEncrypt(t, sb, "b"), "b")
		for _, s := range []*State{sa, sb} {
			b1 := marshal(t, s)
			var r State
			if err := r.UnmarshalBinary(b1); err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
			if !bytes.Equal(b1, marshal(t, &r)) {
				t.Fatal("marshal(unmarshal(b)) != b")
			}
		}
		var rb State
		if err := rb.UnmarshalBinary(marshal(t, sb)); err != nil {
			t.Fatal(err)
		}
		sb = &rb
	}
	for _, m := range pending {
		mustDecrypt(t, sb, m, "a")
	}
}

// TestAdopt: a handshake run from an old copy of the State is committed into
// the current one without bringing back a message key used meanwhile.
func TestAdopt(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	m := mustEncrypt(t, sa, "in flight")
	copyB := sb.Clone()
	na, nb := handshake(t, a, b, sa, copyB) // a new connection, from a copy
	mustDecrypt(t, sb, m, "in flight")      // the old connection still delivers
	if err := sb.Adopt(nb); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Decrypt(time.Now(), m, []byte("ad")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("replay after Adopt: %v", err)
	}
	mustDecrypt(t, sb, mustEncrypt(t, na, "new epoch"), "new epoch")
	mustDecrypt(t, na, mustEncrypt(t, sb, "reply"), "reply")
	if sb.epochs[0].id != na.epochs[0].id {
		t.Fatal("adopted epoch is not the sending epoch")
	}
	c := newParty(t)
	_, sc := handshake(t, c, b, nil, nil)
	if err := sb.Adopt(sc); !errors.Is(err, ErrStateMismatch) {
		t.Fatalf("adopt from another contact: %v", err)
	}
}

// forge encrypts pt from s with a header edited as a dishonest peer could.
func forge(t *testing.T, s *State, pt string, edit func(*wire.Header)) []byte {
	t.Helper()
	m, err := s.encrypt(rand.Reader, []byte(pt), []byte("ad"), func(h wire.Header) wire.Header { edit(&h); return h })
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMisbehavingPeer: a peer holding valid keys that breaks the
// post-quantum protocol (sends chunks of the wrong kind or of a future
// round, mixes a secret that does not exist, changes its mix flag within a
// chain, sends a garbage answer) or goes back in a chain is rejected, and
// the receiver's state is unchanged.
func TestMisbehavingPeer(t *testing.T) {
	a, b := newParty(t), newParty(t)
	rejected := func(t *testing.T, to *State, m []byte) {
		t.Helper()
		before := marshal(t, to)
		if _, err := to.Decrypt(time.Now(), m, []byte("ad")); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("accepted: %v", err)
		}
		if !bytes.Equal(before, marshal(t, to)) {
			t.Fatal("state changed")
		}
	}
	// An authentic key chunk, to paste where it does not belong.
	var ekChunk wire.Header
	ekChunkOf := func(h *wire.Header) { ekChunk = *h }
	{
		sa, _ := handshake(t, a, b, nil, nil)
		forge(t, sa, "x", ekChunkOf)
	}
	for _, tc := range []struct {
		name      string
		initiator bool // who misbehaves
		edit      func(h *wire.Header)
	}{
		{"responder sends a key chunk", false, func(h *wire.Header) {
			h.Flags, h.Round, h.Index, h.Chunk = wire.FlagEK, 1, 0, ekChunk.Chunk
		}},
		{"responder mixes", false, func(h *wire.Header) { h.Flags |= wire.FlagMix }},
		{"initiator sends a ciphertext chunk", true, func(h *wire.Header) {
			h.Flags, h.Round, h.Index = wire.FlagCT, 1, 0
		}},
		{"key chunk of a future round", true, func(h *wire.Header) { h.Round = 2 }},
		{"mix without a round", true, func(h *wire.Header) { h.Flags |= wire.FlagMix }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sa, sb := handshake(t, a, b, nil, nil)
			if tc.initiator {
				rejected(t, sb, forge(t, sa, "bad", tc.edit))
			} else {
				rejected(t, sa, forge(t, sb, "bad", tc.edit))
			}
		})
	}
	t.Run("mix flag changes within a chain", func(t *testing.T) {
		sa, sb := handshake(t, a, b, nil, nil)
		mustDecrypt(t, sb, mustEncrypt(t, sa, "1"), "1")
		rejected(t, sb, forge(t, sa, "2", func(h *wire.Header) { h.Flags |= wire.FlagMix }))
	})
	t.Run("garbage answer", func(t *testing.T) {
		sa, sb := handshake(t, a, b, nil, nil)
		// Alternate until the responder's next message encapsulates.
		from, to := sa, sb
		for i := 0; from != sb || !(sb.epochs[0].pq.have == pqAllEK && !sb.epochs[0].pq.hasCT); i++ {
			if i > 40 {
				t.Fatal("no encapsulation")
			}
			mustDecrypt(t, to, mustEncrypt(t, from, "x"), "x")
			from, to = to, from
		}
		// The responder sends a ciphertext whose first chunk is corrupted
		// (as a dishonest peer could) and the rest as it should.
		mustDecrypt(t, sa, forge(t, sb, "ct", func(h *wire.Header) { h.Chunk[0] ^= 1 }), "ct")
		for !sa.epochs[0].pq.hasSecret {
			mustDecrypt(t, sb, mustEncrypt(t, sa, "x"), "x")
			mustDecrypt(t, sa, mustEncrypt(t, sb, "y"), "y")
		}
		// ML-KEM's implicit rejection gave the initiator a wrong secret: the
		// chain that mixes it does not decrypt at the responder.
		rejected(t, sb, mustEncrypt(t, sa, "mix"))
	})
	t.Run("counter reused", func(t *testing.T) {
		sa, sb := handshake(t, a, b, nil, nil)
		backup := sa.Clone()
		mustDecrypt(t, sb, mustEncrypt(t, sa, "1"), "1")
		mustDecrypt(t, sb, mustEncrypt(t, sa, "2"), "2")
		again := mustEncrypt(t, backup, "1 again") // same chain, N = 0
		if _, err := sb.Decrypt(time.Now(), again, []byte("ad")); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("reused counter: %v", err)
		}
	})
}

// TestNoSecretsInFormatting: printing a State or Handshake in any verb
// shows no key material.
func TestNoSecretsInFormatting(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, _ := handshake(t, a, b, nil, nil)
	rk := fmt.Sprintf("%x", sa.epochs[0].rk[:8])
	hs, _ := NewInitiator(rand.Reader, b.pub, sa)
	hs.Hello()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		for _, v := range []any{sa, hs} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, rk) || strings.Contains(out, fmt.Sprintf("%x", hs.sym.ck[:8])) || len(out) > 200 {
				t.Fatalf("%s of %T shows internals: %s", verb, v, out)
			}
		}
	}
}

// TestRollbackDetected: an initiator restored from a copy older than an
// epoch it had used is detected by the responder at the next handshake,
// which still succeeds with continuity from the older common epoch.
func TestRollbackDetected(t *testing.T) {
	a, b := newParty(t), newParty(t)
	sa, sb := handshake(t, a, b, nil, nil)
	mustDecrypt(t, sb, mustEncrypt(t, sa, "e1"), "e1")
	backup := marshal(t, sa)
	sa, sb = handshakeContinued(t, a, b, sa, sb, true)
	mustDecrypt(t, sb, mustEncrypt(t, sa, "e2"), "e2")

	var old State
	if err := old.UnmarshalBinary(backup); err != nil {
		t.Fatal(err)
	}
	hi, _ := NewInitiator(rand.Reader, b.pub, &old)
	hr, _ := NewResponder(rand.Reader)
	m1, _ := hi.Hello()
	m2, _ := hr.Reply(m1, &b.seed)
	m3, _ := hi.Authenticate(m2, &a.seed)
	hr.ReadAuth(m3)
	m4, nb, err := hr.Accept(sb)
	if err != nil {
		t.Fatal(err)
	}
	na, err := hi.Finish(m4)
	if err != nil {
		t.Fatal(err)
	}
	if !hr.PeerRolledBack() || !hr.Continued() {
		t.Fatalf("rolled back %v, continued %v", hr.PeerRolledBack(), hr.Continued())
	}
	mustDecrypt(t, nb, mustEncrypt(t, na, "after"), "after")

	// Without the rollback, no alarm.
	hi, _ = NewInitiator(rand.Reader, b.pub, sa)
	hr, _ = NewResponder(rand.Reader)
	m1, _ = hi.Hello()
	m2, _ = hr.Reply(m1, &b.seed)
	m3, _ = hi.Authenticate(m2, &a.seed)
	hr.ReadAuth(m3)
	if _, _, err := hr.Accept(sb); err != nil {
		t.Fatal(err)
	}
	if hr.PeerRolledBack() {
		t.Fatal("false alarm")
	}
}
