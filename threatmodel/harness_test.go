package threatmodel

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto/internal/e2e"
)

// The attack tests drive real sotto processes with internal/e2e; these are
// the helpers of their own scenarios.

// Bounds for things that happen over the private Tor network; the tests
// wait for events, these only stop a hang.
const (
	readyWithin   = 3 * time.Minute
	deliverWithin = 3 * time.Minute
)

// newUser creates a profile with one identity of the same name (open mode
// when open) and returns it with the identity's contact code.
func newUser(t *testing.T, name string, open bool) (*e2e.Profile, string) {
	t.Helper()
	p := harness.NewProfile(t, name)
	p.Must("init")
	args := []string{"id", "new", name}
	if open {
		args = append(args, "--open")
	}
	p.Must(args...)
	return p, strings.TrimSpace(p.Must("id", "card", name, "--no-qr"))
}

// send sends text from identity me to contact and waits until the
// receiver got it and the sender saw it delivered. It returns the ID.
func send(t *testing.T, from *e2e.Node, me, contact string, to *e2e.Node, them, text string) string {
	t.Helper()
	mark := to.Mark()
	r := from.Do(time.Minute, map[string]any{"cmd": "send", "identity": me, "contact": contact, "text": text})
	id := fmt.Sprint(r["message"])
	m, _ := to.WaitFor(mark, deliverWithin, "message "+id, e2e.Is(map[string]any{"event": "message", "identity": them, "message": id}))
	if m["text"] != text {
		t.Fatalf("got %q, want %q", m["text"], text)
	}
	from.WaitFor(0, deliverWithin, "delivered "+id, e2e.Is(map[string]any{"event": "delivered", "message": id}))
	return id
}

// torStartRace is what onion says when it dialed tor's control socket
// between tor's bind (which creates the file onion waits for) and its listen:
// a startup race in package onion, seen under load. startReady retries it
// once, so that the attack tests test what they are about.
const torStartRace = "cannot reach tor's control port: dial: connect: connection refused"

// startReady starts headless on p (under wrap, if any) and waits until each
// of the identities is ready.
func startReady(t *testing.T, p *e2e.Profile, identities []string, wrap ...string) *e2e.Node {
	t.Helper()
	for attempt := 0; ; attempt++ {
		n := p.Headless(wrap...)
		ok := true
		for _, id := range identities {
			if !waitReady(t, n, id) {
				ok = false
				break
			}
		}
		if ok {
			return n
		}
		if attempt > 0 || !strings.Contains(n.Stderr(), torStartRace) {
			t.Fatalf("%s: headless ended before it was ready\nstderr:\n%s", p.Name, n.Stderr())
		}
		n.Wait()
		t.Logf("%s: onion's tor start-up race (control socket dialled before tor listened); starting again", p.Name)
	}
}

// waitReady waits for the ready event of identity; false if the process
// ended first.
func waitReady(t *testing.T, n *e2e.Node, identity string) bool {
	t.Helper()
	_, _, err := n.Next(0, readyWithin, e2e.Is(map[string]any{"event": "ready", "identity": identity}))
	switch err {
	case nil:
		return true
	case e2e.ErrEnded:
		return false
	default:
		t.Fatalf("%s: %s not ready within %s; last lines:\n%s", n.Name, identity, readyWithin, n.Tail(15))
		return false
	}
}

// pair makes two users who have added each other, starts both headless
// (a's under wrapA, if any) and waits until both identities are ready.
func pair(t *testing.T, a, b string, wrapA ...string) (pa, pb *e2e.Profile, na, nb *e2e.Node) {
	t.Helper()
	pa, ca := newUser(t, a, false)
	pb, cb := newUser(t, b, false)
	pa.Must("contact", "add", a, b, cb)
	pb.Must("contact", "add", b, a, ca)
	na = startReady(t, pa, []string{a}, wrapA...)
	nb = startReady(t, pb, []string{b})
	return pa, pb, na, nb
}

// vmRSS is the resident set of a process in KiB, from /proc/PID/status.
func vmRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			k, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
	}
	t.Fatalf("no VmRSS for PID %d", pid)
	return 0
}
