package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/internal/e2e"
)

// TestSendOneShot: 'sotto send' over the private Tor network. The text
// comes from standard input; the command goes online, waits until bob has
// it and exits 0. Bob offline: it exits 12 once --wait is over, the text
// kept in the outbox, and the next 'sotto send' (bob back) delivers both,
// in order. A wrong name, an empty text and --wait 0 are said clearly.
func TestSendOneShot(t *testing.T) {
	needNetwork(t)
	pa, pb := aliceAndBob(t)
	send := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return harness.Run(t, stdin, pa.Args(append([]string{"send"}, args...)...)...)
	}

	// Said before going online, nothing stored.
	if code, _, errs := send("hi\n", "alice", "Bob"); code != exitNotFound || !strings.Contains(errs, `did you mean "bob"?`) {
		t.Errorf("send to a mistyped name: exit %d, %q", code, errs)
	}
	if code, _, errs := send(" \n", "alice", "bob"); code != exitUsage || !strings.Contains(errs, "the message is empty: nothing was sent") {
		t.Errorf("send of an empty text: exit %d, %q", code, errs)
	}
	if code, _, errs := send(strings.Repeat("x", sotto.MaxText+1), "alice", "bob"); code != exitUsage || !strings.Contains(errs, fmt.Sprintf("longer than the %d bytes", sotto.MaxText)) {
		t.Errorf("send of a text too long: exit %d, %q", code, errs)
	}

	nb := pb.Headless()
	nodes := map[string]*e2e.Node{"bob": nb}
	e2e.DumpOnFailure(t, nodes)
	nb.WaitFor(0, readyWithin, "bob ready", e2e.Is(map[string]any{"event": "ready", "identity": "bob"}))

	code, out, errs := send("first, typed\n", "alice", "bob")
	if code != 0 || !strings.Contains(out, "delivered to bob") {
		t.Fatalf("send to bob online: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	m, _ := nb.WaitFor(0, deliverWithin, "the first text", e2e.Is(map[string]any{"event": "message", "contact": "alice"}))
	if m["text"] != "first, typed" {
		t.Fatalf("bob got %q, want the text without its last newline", m["text"])
	}

	// Bob offline: the wait runs out, the text stays.
	nb.Stop()
	code, out, errs = send("second, while bob is away", "--wait", "5s", "alice", "bob")
	if code != exitNotArrived || !strings.Contains(errs, "stays in the outbox") || !strings.Contains(out, "stored: ") {
		t.Fatalf("send to bob offline: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	// Stored without going online.
	code, out, errs = send("third, stored only", "--wait", "0", "alice", "bob")
	if code != 0 || !strings.Contains(out, "queued: it goes out") {
		t.Fatalf("send --wait 0: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}

	nb = pb.Headless()
	nodes["bob"] = nb
	nb.WaitFor(0, readyWithin, "bob ready again", e2e.Is(map[string]any{"event": "ready", "identity": "bob"}))
	code, out, errs = send("fourth\n", "alice", "bob")
	if code != 0 || !strings.Contains(out, "delivered to bob") {
		t.Fatalf("send to bob back online: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	var got []string
	from := 0
	for len(got) < 3 {
		m, next := nb.WaitFor(from, deliverWithin, "the texts kept in the outbox", e2e.Is(map[string]any{"event": "message", "contact": "alice"}))
		got = append(got, m["text"].(string))
		from = next + 1
	}
	if want := []string{"second, while bob is away", "third, stored only", "fourth"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("bob got %q, want %q", got, want)
	}
}
