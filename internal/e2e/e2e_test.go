package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// The harness's own tests run this test binary as a stand-in for sotto:
// with envFake set, TestMain answers like 'sotto headless' (a ready line,
// then "ok" to every command, with its tag) or, for "exit3", like a
// one-shot command that fails.
const envFake = "SOTTO_E2E_FAKE"

func TestMain(m *testing.M) {
	switch os.Getenv(envFake) {
	case "headless":
		fakeHeadless()
		os.Exit(0)
	case "exit3":
		fmt.Println("out:", strings.Join(os.Args[1:], " "))
		fmt.Fprintln(os.Stderr, "sotto: no\nhint: try again")
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// fakeHeadless answers commands on stdin: "say" writes its lines as they
// are, "exit" ends without a reply, "quit" ends; every other command gets
// {"event":"ok"} with its tag.
func fakeHeadless() {
	fmt.Println(`{"event":"ready","identity":"me"}`)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var c struct {
			Cmd, Tag string
			Lines    []string
		}
		if json.Unmarshal(sc.Bytes(), &c) != nil {
			os.Exit(2)
		}
		switch c.Cmd {
		case "quit", "exit":
			return
		case "say":
			for _, l := range c.Lines {
				fmt.Println(l)
			}
		}
		b, _ := json.Marshal(map[string]any{"event": "ok", "tag": c.Tag})
		fmt.Println(string(b))
	}
}

func fake(t *testing.T, mode string) *Sotto {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envFake, mode)
	return &Sotto{Bin: self, Network: "/nonexistent/network.torrc"}
}

func TestIs(t *testing.T) {
	line := map[string]any{"event": "timer", "seconds": float64(30), "contact": "bob"}
	for _, c := range []struct {
		name   string
		fields map[string]any
		want   bool
	}{
		{"all fields", map[string]any{"event": "timer", "seconds": 30, "contact": "bob"}, true},
		{"some fields", map[string]any{"event": "timer"}, true},
		{"no fields", map[string]any{}, true},
		{"other value", map[string]any{"event": "timer", "contact": "carol"}, false},
		{"missing field", map[string]any{"event": "timer", "by": "contact"}, false},
	} {
		if got := Is(c.fields)(line); got != c.want {
			t.Errorf("%s: Is(%v) = %v, want %v", c.name, c.fields, got, c.want)
		}
	}
}

func TestNode(t *testing.T) {
	p := fake(t, "headless").NewProfile(t, "alice")
	if !strings.Contains(p.Passphrase, " alice ") {
		t.Errorf("passphrase %q does not name the profile", p.Passphrase)
	}
	if b, err := os.ReadFile(p.PwFile); err != nil || string(b) != p.Passphrase+"\n" {
		t.Fatalf("passphrase file: %q, %v", b, err)
	}
	n := p.Headless()
	if _, i := n.WaitFor(0, time.Minute, "ready", Is(map[string]any{"event": "ready", "identity": "me"})); i != 0 {
		t.Fatalf("ready at index %d, want 0", i)
	}
	if r := n.Do(time.Minute, map[string]any{"cmd": "ping"}); r["tag"] != "alice-1" {
		t.Fatalf("reply %v, want tag alice-1", r)
	}
	mark := n.Mark()
	if mark != 2 {
		t.Fatalf("Mark = %d after two lines", mark)
	}
	n.Do(time.Minute, map[string]any{"cmd": "say", "lines": []string{`{"event":"message","n":1}`, `{"event":"message","n":2}`}})
	if k := n.Count(mark, Is(map[string]any{"event": "message"})); k != 2 {
		t.Fatalf("Count = %d, want 2", k)
	}
	if k := n.Count(mark+2, Is(map[string]any{"event": "message"})); k != 0 {
		t.Fatalf("Count from past the messages = %d, want 0", k)
	}
	if all := n.All(0, Is(map[string]any{"event": "message"})); len(all) != 2 || all[1]["n"] != float64(2) {
		t.Fatalf("All = %v", all)
	}
	if m, i := n.WaitFor(mark, time.Minute, "second message", Is(map[string]any{"n": 2})); i != mark+1 || m["event"] != "message" {
		t.Fatalf("WaitFor = %v at %d", m, i)
	}
	if tail := n.Tail(2); tail != `{"event":"message","n":2}`+"\n"+`{"event":"ok","tag":"alice-2"}` {
		t.Fatalf("Tail(2) = %q", tail)
	}
	if _, _, err := n.Next(0, 100*time.Millisecond, Is(map[string]any{"event": "never"})); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Next for a line that never comes: %v, want ErrTimeout", err)
	}
	if pid := n.PID(false); pid <= 0 || pid == os.Getpid() {
		t.Fatalf("PID = %d", pid)
	}
	n.Stop()
	n.Stop() // a stopped node stays stopped
	if _, _, err := n.Next(n.Mark(), time.Minute, Is(nil)); !errors.Is(err, ErrEnded) {
		t.Fatalf("Next after Stop: %v, want ErrEnded", err)
	}
}

// TestNodeEnds: a process that ends by itself ends Next with ErrEnded, and
// Wait reaps it, so that the test's cleanup has nothing left to stop.
func TestNodeEnds(t *testing.T) {
	n := fake(t, "headless").NewProfile(t, "bob").Headless()
	n.WaitFor(0, time.Minute, "ready", Is(map[string]any{"event": "ready"}))
	if _, err := n.in.Write([]byte(`{"cmd":"exit"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.Next(0, time.Minute, Is(map[string]any{"event": "ok"})); !errors.Is(err, ErrEnded) {
		t.Fatalf("Next after the process ended: %v, want ErrEnded", err)
	}
	if err := n.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
}

func TestRun(t *testing.T) {
	s := fake(t, "exit3")
	p := s.NewProfile(t, "carol")
	code, out, errs := p.Run("id", "list")
	if code != 3 || !strings.Contains(errs, "hint: try again") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	want := "out: --profile " + p.Dir + " --passphrase-file " + p.PwFile + " --network " + s.Network + " id list\n"
	if out != want {
		t.Fatalf("stdout %q, want %q", out, want)
	}
	t.Setenv("TOR_CONTROL_PORT", "9051")
	for _, kv := range CleanEnv() {
		if strings.HasPrefix(kv, "TOR_") {
			t.Fatalf("CleanEnv kept %s", kv)
		}
	}
}
