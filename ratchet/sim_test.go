package ratchet

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	mrand "math/rand/v2"
	"testing"
	"time"
)

// inflight is a ciphertext on its way, with what the simulation knows of it.
type inflight struct {
	ct    []byte
	id    int      // message ID (the core's), unique per plaintext
	epoch [16]byte // epoch it was encrypted in
	to    int      // receiving side (0 or 1)
}

// TestSimulatedConnections runs two parties over many connections with loss,
// reordering, duplication, late delivery from an earlier connection, lost
// handshake messages (message 3 or message 4, sometimes many in a row), and
// a core that re-encrypts every unacknowledged message on the next
// connection. Every ciphertext that reaches a side holding its epoch must
// decrypt exactly once; a duplicate must fail and leave the state
// unchanged; every message must in the end be delivered. Every handshake
// must continue from an epoch both hold and raise no rollback alarm
// (issue 14 item 3), while a side restored from an older copy of its State
// is caught whenever it lacks the epoch its peer knows it held.
func TestSimulatedConnections(t *testing.T) {
	for _, c := range []struct {
		seed  uint64
		lossy int // one message 4 in lossy is lost
	}{{0, 8}, {1, 8}, {2, 2}, {3, 2}} {
		t.Run(fmt.Sprint("seed", c.seed), func(t *testing.T) {
			t.Parallel()
			simulate(t, c.seed, 40, 100, c.lossy)
		})
	}
}

// anchorID returns the id of the newest epoch of s known to be held by the
// peer.
func anchorID(s *State) ([16]byte, bool) {
	for _, e := range s.epochs {
		if e.confirmed {
			return e.id, true
		}
	}
	return [16]byte{}, false
}

func simulate(t *testing.T, seed uint64, connections, opsPerConn, lossy int) {
	rng := mrand.New(mrand.NewPCG(seed, 0x5eed))
	p := [2]*party{newParty(t), newParty(t)}
	var st [2]*State
	st[0], st[1] = handshake(t, p[0], p[1], nil, nil)

	now := time.Unix(1_700_000_000, 0)
	nextID := 0
	var outbox [2]map[int]string // unacknowledged plaintexts by ID, per sender
	outbox[0], outbox[1] = map[int]string{}, map[int]string{}
	delivered := map[int]bool{}
	decrypted := map[[32]byte]bool{}
	var queue []inflight
	total, dups, foreign := 0, 0, 0

	encrypt := func(from, id int) {
		ct, err := st[from].Encrypt(rand.Reader, []byte(outbox[from][id]), []byte("conv"))
		if err != nil {
			t.Fatalf("encrypt: %v", err)
		}
		queue = append(queue, inflight{ct: ct, id: id, epoch: st[from].epochs[0].id, to: 1 - from})
	}
	type snapshot struct {
		side int
		b    []byte
	}
	var snaps []snapshot
	rollbacks, caught := 0, 0
	// rollback restores a copy of an older State of one side, on the side,
	// and has it dial: the peer must raise the alarm exactly when the copy
	// lacks the newest epoch the peer knows it held.
	rollback := func(sn snapshot) {
		var old State
		if err := old.UnmarshalBinary(sn.b); err != nil {
			t.Fatal(err)
		}
		peer := st[1-sn.side].Clone()
		anchor, ok := anchorID(peer)
		want := ok && old.epochByID(anchor) == nil
		hi, _ := NewInitiator(rand.Reader, p[1-sn.side].pub, &old)
		hr, _ := NewResponder(rand.Reader)
		m1, _ := hi.Hello()
		m2, _ := hr.Reply(m1, &p[1-sn.side].seed)
		m3, _ := hi.Authenticate(m2, &p[sn.side].seed)
		if _, err := hr.ReadAuth(m3); err != nil {
			t.Fatal(err)
		}
		m4, _, err := hr.Accept(peer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hi.Finish(m4); err != nil {
			t.Fatal(err)
		}
		if hr.PeerRolledBack() != want {
			t.Fatalf("rollback to an older copy: alarm %v, want %v", hr.PeerRolledBack(), want)
		}
		rollbacks++
		if want {
			caught++
		}
	}
	deliver := func(m inflight) {
		r := st[m.to]
		before, _ := r.MarshalBinary()
		pt, err := r.Decrypt(now, m.ct, []byte("conv"))
		h := sha256.Sum256(m.ct)
		holds := r.epochByID(m.epoch) != nil
		switch {
		case decrypted[h]:
			dups++
			if err == nil {
				t.Fatalf("message %d decrypted twice", m.id)
			}
		case !holds:
			foreign++
			if err == nil {
				t.Fatalf("message %d from an epoch the receiver lacks decrypted", m.id)
			}
		case err != nil:
			t.Fatalf("message %d failed to decrypt: %v", m.id, err)
		}
		if err != nil {
			after, _ := r.MarshalBinary()
			if !bytes.Equal(before, after) {
				t.Fatalf("failed decrypt changed the state")
			}
			return
		}
		decrypted[h] = true
		total++
		if string(pt) != outbox[1-m.to][m.id] && !delivered[m.id] {
			t.Fatalf("message %d: wrong plaintext", m.id)
		}
		delivered[m.id] = true
		delete(outbox[1-m.to], m.id) // acknowledged
	}

	storm := 0 // message 4s still to lose in a row
	for conn := range connections {
		now = now.Add(time.Minute)
		if rng.IntN(4) == 0 {
			s := rng.IntN(2)
			b, _ := st[s].MarshalBinary()
			snaps = append(snaps, snapshot{s, b})
		}
		if len(snaps) > 0 && rng.IntN(3) == 0 {
			rollback(snaps[rng.IntN(len(snaps))])
		}
		// Handshake; sometimes message 4 is lost, so only the responder
		// has the new epoch, or an earlier message is lost and nothing changes.
		i := rng.IntN(2)
		r := 1 - i
		if storm == 0 && rng.IntN(10) == 0 {
			storm = 1 + rng.IntN(2*MaxEpochs)
		}
		// The invariant behind "no false alarms": each side holds the
		// newest epoch the other knows it holds.
		for x := range 2 {
			if a, ok := anchorID(st[x]); ok && st[1-x].epochByID(a) == nil {
				t.Fatalf("connection %d: side %d dropped the epoch its peer relies on", conn, 1-x)
			}
		}
		hi, _ := NewInitiator(rand.Reader, p[r].pub, st[i])
		hr, _ := NewResponder(rand.Reader)
		m1, _ := hi.Hello()
		m2, err := hr.Reply(m1, &p[r].seed)
		if err != nil {
			t.Fatal(err)
		}
		m3, err := hi.Authenticate(m2, &p[i].seed)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hr.ReadAuth(m3); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(8) == 0 && conn != connections-1 {
			continue // message 3 lost: nobody changes
		}
		m4, newR, err := hr.Accept(st[r])
		if err != nil {
			t.Fatal(err)
		}
		if hr.PeerRolledBack() {
			t.Fatalf("connection %d: false rollback alarm", conn)
		}
		if !hr.Continued() {
			t.Fatalf("connection %d: key continuity lost at the responder", conn)
		}
		st[r] = newR
		if (storm > 0 || rng.IntN(lossy) == 0) && conn != connections-1 {
			storm = max(0, storm-1)
			// Message 4 lost: the responder sends into an epoch the
			// initiator never gets; those messages are lost.
			// They may still reach it late and must fail there.
			for id := range outbox[r] {
				encrypt(r, id)
			}
			continue
		}
		newI, err := hi.Finish(m4)
		if err != nil {
			t.Fatal(err)
		}
		if conn > 0 && !hi.Continued() {
			t.Fatalf("connection %d: key continuity lost", conn)
		}
		st[i] = newI

		// Late messages from the previous connection may still arrive.
		late := queue
		queue = nil
		// The core re-encrypts everything unacknowledged.
		for s := range 2 {
			for id := range outbox[s] {
				encrypt(s, id)
			}
		}
		lossy := conn != connections-1
		for range opsPerConn {
			switch op := rng.IntN(10); {
			case op < 4:
				s := rng.IntN(2)
				nextID++
				outbox[s][nextID] = fmt.Sprintf("msg %d from %d", nextID, s)
				encrypt(s, nextID)
			case op < 9 && len(queue) > 0:
				k := rng.IntN(min(len(queue), 6)) // bounded reordering
				m := queue[k]
				if rng.IntN(10) != 0 || !lossy { // 10% duplicated: stays queued
					queue = append(queue[:k], queue[k+1:]...)
				}
				if lossy && rng.IntN(15) == 0 {
					continue // lost
				}
				deliver(m)
			case len(late) > 0:
				deliver(late[0])
				late = late[1:]
			}
		}
		for len(queue) > 0 && !lossy {
			deliver(queue[0])
			queue = queue[1:]
		}
		// The connection breaks: some in-flight messages are lost, some
		// arrive late during the next connection.
		var keep []inflight
		for _, m := range queue {
			if rng.IntN(3) == 0 {
				keep = append(keep, m)
			}
		}
		queue = keep
	}
	for s := range 2 {
		if len(outbox[s]) != 0 {
			t.Fatalf("side %d: %d messages never delivered", s, len(outbox[s]))
		}
	}
	for id := 1; id <= nextID; id++ {
		if !delivered[id] {
			t.Fatalf("message %d never delivered", id)
		}
	}
	if caught == 0 {
		t.Fatal("no rollback to catch was simulated")
	}
	t.Logf("%d messages, %d ciphertexts decrypted, %d duplicates rejected, %d from unknown epochs rejected; %d rollbacks, %d lacking the peer's epoch, all caught",
		nextID, total, dups, foreign, rollbacks, caught)
}
