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
// handshake messages, and a core that re-encrypts every unacknowledged
// message on the next connection. Every ciphertext that reaches a side
// holding its epoch must decrypt exactly once; a duplicate must fail and
// leave the state unchanged; every message must in the end be delivered.
func TestSimulatedConnections(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			simulate(t, seed, 40, 120)
		})
	}
}

func simulate(t *testing.T, seed uint64, connections, opsPerConn int) {
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

	for conn := range connections {
		now = now.Add(time.Minute)
		// Handshake; sometimes message 4 is lost, so only the responder
		// has the new epoch, or an earlier message is lost and nothing changes.
		i := rng.IntN(2)
		r := 1 - i
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
		st[r] = newR
		if rng.IntN(8) == 0 && conn != connections-1 {
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
	t.Logf("%d messages, %d ciphertexts decrypted, %d duplicates rejected, %d from unknown epochs rejected", nextID, total, dups, foreign)
}
