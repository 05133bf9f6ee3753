package ratchet

import (
	"fmt"
	"testing"
)

// An abstract model of the rules of docs/PROTOCOL.md section 1.3, checked
// exhaustively: epochs are reduced to their id and confirmed mark, eviction
// is the real State.addEpoch, and a handshake marks and chooses as Accept
// and Finish do (the real handshake is checked by TestSimulatedConnections
// and TestLostMessage4NoFalseAlarm; this covers every ordering of losses up
// to a depth that the randomized tests may miss).

// modelHandshake runs a handshake from st[i] to st[1-i] as Accept and
// Finish do and reports the responder's alarm and whether it continued.
// lost drops message 4.
func modelHandshake(st *[2]*State, i int, id byte, lost bool) (alarm, continued bool) {
	ini, res := st[i], st[1-i]
	var anchor *epoch
	for _, e := range res.epochs {
		if e.confirmed {
			anchor = e
			break
		}
	}
	var chosen *epoch
	alarm = anchor != nil
	for _, o := range ini.epochs { // message 3 lists every epoch the initiator holds
		e := res.epochByID(o.id)
		if e == nil {
			continue
		}
		e.confirmed = true
		if chosen == nil {
			chosen = e
		}
		if e == anchor {
			alarm = false
		}
	}
	res.addEpoch(&epoch{id: [epochIDSize]byte{id}})
	if !lost {
		if chosen != nil {
			ini.epochByID(chosen.id).confirmed = true
		}
		ini.addEpoch(&epoch{id: [epochIDSize]byte{id}, confirmed: true})
	}
	return alarm, chosen != nil
}

func cloneModel(st [2]*State) [2]*State {
	var c [2]*State
	for i, s := range st {
		c[i] = &State{}
		for _, e := range s.epochs {
			x := *e
			c[i].epochs = append(c[i].epochs, &x)
		}
	}
	return c
}

// modelKey is a canonical name of a pair of model States: epoch ids are
// renumbered in the order they were made, so that two pairs that differ
// only in the ids' values are the same node of the state graph.
func modelKey(st [2]*State, shared bool) string {
	var ids []byte
	for _, s := range st {
		for _, e := range s.epochs {
			ids = append(ids, e.id[0])
		}
	}
	rank := func(id byte) int {
		r := 0
		for _, x := range ids {
			if x < id {
				r++
			}
		}
		return r
	}
	k := fmt.Sprint(shared)
	for _, s := range st {
		k += "|"
		for _, e := range s.epochs {
			k += fmt.Sprintf("%d%v,", rank(e.id[0]), e.confirmed)
		}
	}
	return k
}

// TestModelNoFalseAlarm explores the whole graph of states two honest sides
// can reach: from any state, either side dials, message 4 is lost or not,
// and then either side (or both, or neither) receives a message in the
// other's newest epoch, which confirms it. Everywhere, no alarm is raised,
// every handshake after the first completed one continues, and each side
// holds the other's anchor. Renumbering the epoch ids makes the graph
// finite, so this covers sequences of any length.
func TestModelNoFalseAlarm(t *testing.T) {
	type node struct {
		st     [2]*State
		shared bool
		path   string
	}
	seen := map[string]bool{}
	queue := []node{{st: [2]*State{{}, {}}}}
	seen[modelKey(queue[0].st, false)] = true
	edges := 0
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for x := range 2 {
			if a, ok := anchorID(n.st[x]); ok && n.st[1-x].epochByID(a) == nil {
				t.Fatalf("%s: side %d dropped the epoch side %d relies on", n.path, 1-x, x)
			}
		}
		next := byte(1)
		for _, s := range n.st {
			for _, e := range s.epochs {
				next = max(next, e.id[0]+1)
			}
		}
		if next == 255 {
			t.Fatal("ids exhausted: renumber")
		}
		for i := range 2 {
			for _, lost := range []bool{false, true} {
				for conf := range 4 { // bit x: side x receives a message in the other's newest epoch
					c := cloneModel(n.st)
					step := fmt.Sprintf("%s %d>%d", n.path, i, 1-i)
					if lost {
						step += "(lost 4)"
					}
					alarm, continued := modelHandshake(&c, i, next, lost)
					if alarm {
						t.Fatalf("%s: false alarm", step)
					}
					if n.shared && !continued {
						t.Fatalf("%s: continuity lost", step)
					}
					for x := range 2 {
						if conf&(1<<x) != 0 && len(c[1-x].epochs) > 0 {
							if e := c[x].epochByID(c[1-x].epochs[0].id); e != nil {
								e.confirmed = true
								step += fmt.Sprintf(" msg>%d", x)
							}
						}
					}
					edges++
					shared := n.shared || !lost
					if k := modelKey(c, shared); !seen[k] {
						seen[k] = true
						queue = append(queue, node{st: renumber(c), shared: shared, path: step})
					}
				}
			}
		}
	}
	t.Logf("%d reachable states, %d transitions: no false alarm", len(seen), edges)
}

// renumber gives the epochs of a model pair the ids 1, 2, ... in the order
// they were made, keeping ids small.
func renumber(st [2]*State) [2]*State {
	var ids []byte
	for _, s := range st {
		for _, e := range s.epochs {
			ids = append(ids, e.id[0])
		}
	}
	for _, s := range st {
		for _, e := range s.epochs {
			r := byte(1)
			seen := map[byte]bool{}
			for _, x := range ids {
				if x < e.id[0] && !seen[x] {
					seen[x] = true
					r++
				}
			}
			e.id[0] = r
		}
	}
	return st
}
