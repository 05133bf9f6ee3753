package threatmodel

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds for things that happen over the private Tor network; the tests
// wait for events, these only stop a hang.
const (
	readyWithin   = 3 * time.Minute
	deliverWithin = 3 * time.Minute
)

// profile is one user of a real sotto binary: a profile directory and a
// passphrase file.
type profile struct {
	t      *testing.T
	name   string
	dir    string
	pwFile string
	pass   string // the passphrase, for the memory search
	uid    int    // run headless as this uid (and gid) when non-zero
}

func newProfile(t *testing.T, name string) *profile {
	t.Helper()
	// Short paths: tor's control and SOCKS sockets live inside the profile
	// and unix socket paths are limited to ~100 bytes.
	base, err := os.MkdirTemp("", "tm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	var r [12]byte
	rand.Read(r[:])
	// A random passphrase, so that finding it in memory cannot be chance.
	pass := "pass-" + name + "-" + hex.EncodeToString(r[:])
	p := &profile{t: t, name: name, dir: filepath.Join(base, "p"), pwFile: filepath.Join(base, "pw"), pass: pass}
	if err := os.WriteFile(p.pwFile, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// args puts the profile's global flags before the command.
func (p *profile) args(args ...string) []string {
	return append([]string{"--profile", p.dir, "--passphrase-file", p.pwFile, "--network", netFile}, args...)
}

// must runs a sotto command that has to succeed and returns its stdout.
func (p *profile) must(args ...string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sottoBin, p.args(args...)...)
	cmd.Env = cleanEnv()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		p.t.Fatalf("%s: sotto %s: %v\n%s", p.name, strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// newUser creates a profile with one identity of the same name (open mode
// when open) and returns it with the identity's contact code.
func newUser(t *testing.T, name string, open bool) (*profile, string) {
	t.Helper()
	p := newProfile(t, name)
	p.must("init")
	args := []string{"id", "new", name}
	if open {
		args = append(args, "--open")
	}
	p.must(args...)
	return p, strings.TrimSpace(p.must("id", "card", name, "--no-qr"))
}

// cleanEnv is the environment without TOR_* variables, so that a developer's
// settings cannot point the tests at another tor.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOR_") {
			env = append(env, kv)
		}
	}
	return env
}

// node is a running 'sotto headless' process, possibly under a wrapper
// (strace).
type node struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	in   io.WriteCloser
	done chan struct{} // closed when stdout ends
	errb *syncBuilder

	mu     sync.Mutex
	lines  []map[string]any
	raw    []string
	notify chan struct{} // closed and replaced on every new line
	tagN   int
}

type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// headless starts 'sotto headless' on the profile; wrap, if given, is a
// command line the sotto command line is appended to.
func (p *profile) headless(wrap ...string) *node {
	p.t.Helper()
	argv := append(append(wrap, sottoBin), p.args("headless")...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = cleanEnv()
	if p.uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(p.uid), Gid: uint32(p.uid)}}
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	n := &node{t: p.t, name: p.name, cmd: cmd, in: in, done: make(chan struct{}), errb: &syncBuilder{}, notify: make(chan struct{})}
	cmd.Stderr = n.errb
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	go n.read(out)
	p.t.Cleanup(func() { n.stop() })
	return n
}

func (n *node) read(out io.Reader) {
	defer close(n.done)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			m = map[string]any{"event": "NOT-JSON", "line": sc.Text()}
		}
		n.mu.Lock()
		n.lines = append(n.lines, m)
		n.raw = append(n.raw, sc.Text())
		close(n.notify)
		n.notify = make(chan struct{})
		n.mu.Unlock()
	}
}

// stop sends quit and waits for the process; it kills it after 30 s.
func (n *node) stop() {
	if n.cmd.ProcessState != nil {
		return
	}
	io.WriteString(n.in, `{"cmd":"quit"}`+"\n")
	n.in.Close()
	waited := make(chan error, 1)
	go func() { waited <- n.cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			n.t.Errorf("%s: headless exited with %v\nstderr:\n%s", n.name, err, n.errb.String())
		}
	case <-time.After(30 * time.Second):
		n.cmd.Process.Kill()
		<-waited
		n.t.Errorf("%s: headless did not quit within 30s; killed", n.name)
	}
	<-n.done
}

// pid is the sotto process's PID: the command's own, or, under a wrapper
// such as strace, the wrapper's only child.
func (n *node) pid(wrapped bool) int {
	n.t.Helper()
	if !wrapped {
		return n.cmd.Process.Pid
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", n.cmd.Process.Pid, n.cmd.Process.Pid))
		if f := strings.Fields(string(b)); len(f) == 1 {
			pid, err := strconv.Atoi(f[0])
			if err == nil {
				return pid
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.t.Fatalf("%s: cannot find the process under the wrapper", n.name)
	return 0
}

// waitFor returns the first line at index >= from that matches, waiting up
// to d for it. It fails the test, printing what was seen, when none comes.
func (n *node) waitFor(from int, d time.Duration, what string, match func(map[string]any) bool) map[string]any {
	n.t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		n.mu.Lock()
		for i := from; i < len(n.lines); i++ {
			if match(n.lines[i]) {
				m := n.lines[i]
				n.mu.Unlock()
				return m
			}
		}
		from = len(n.lines)
		notify := n.notify
		n.mu.Unlock()
		select {
		case <-notify:
		case <-n.done:
			n.mu.Lock()
			l := len(n.lines)
			n.mu.Unlock()
			if l == from {
				n.t.Fatalf("%s: output ended while waiting for %s\nstderr:\n%s", n.name, what, n.errb.String())
			}
		case <-deadline.C:
			n.t.Fatalf("%s: no %s within %s; last lines:\n%s", n.name, what, d, n.tail(15))
		}
	}
}

func (n *node) tail(k int) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.raw
	if len(s) > k {
		s = s[len(s)-k:]
	}
	return strings.Join(s, "\n")
}

// mark is the index of the next line, for waitFor.
func (n *node) mark() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.lines)
}

// do sends a command (a tag is added) and returns its reply, which must be
// an "ok" within d.
func (n *node) do(d time.Duration, cmd map[string]any) map[string]any {
	n.t.Helper()
	n.mu.Lock()
	n.tagN++
	tag := fmt.Sprintf("%s-%d", n.name, n.tagN)
	n.mu.Unlock()
	cmd["tag"] = tag
	b, err := json.Marshal(cmd)
	if err != nil {
		n.t.Fatal(err)
	}
	from := n.mark()
	if _, err := n.in.Write(append(b, '\n')); err != nil {
		n.t.Fatalf("%s: writing %s: %v", n.name, b, err)
	}
	r := n.waitFor(from, d, "reply to "+string(b), func(m map[string]any) bool { return m["tag"] == tag })
	if r["event"] != "ok" {
		n.t.Fatalf("%s: %s: got %v, want ok", n.name, b, r)
	}
	return r
}

// is matches a line whose fields have the given values.
func is(fields map[string]any) func(map[string]any) bool {
	return func(m map[string]any) bool {
		for k, v := range fields {
			if fmt.Sprint(m[k]) != fmt.Sprint(v) {
				return false
			}
		}
		return true
	}
}

// send sends text from identity me to contact and waits until the
// receiver got it and the sender saw it delivered. It returns the ID.
func send(from *node, me, contact string, to *node, them, text string) string {
	from.t.Helper()
	mark := to.mark()
	r := from.do(time.Minute, map[string]any{"cmd": "send", "identity": me, "contact": contact, "text": text})
	id := fmt.Sprint(r["message"])
	m := to.waitFor(mark, deliverWithin, "message "+id, is(map[string]any{"event": "message", "identity": them, "message": id}))
	if m["text"] != text {
		to.t.Fatalf("got %q, want %q", m["text"], text)
	}
	from.waitFor(0, deliverWithin, "delivered "+id, is(map[string]any{"event": "delivered", "message": id}))
	return id
}

// torStartRace is what onion says when it dialed tor's control socket
// between tor's bind (which creates the file onion waits for) and its listen:
// a startup race in package onion, seen under load. startReady retries it
// once, so that the attack tests test what they are about.
const torStartRace = "cannot reach tor's control port: dial: connect: connection refused"

// startReady starts headless on p (under wrap, if any) and waits until each
// of the identities is ready.
func (p *profile) startReady(identities []string, wrap ...string) *node {
	p.t.Helper()
	for attempt := 0; ; attempt++ {
		n := p.headless(wrap...)
		ok := true
		for _, id := range identities {
			if !n.waitReady(id) {
				ok = false
				break
			}
		}
		if ok {
			return n
		}
		if attempt > 0 || !strings.Contains(n.errb.String(), torStartRace) {
			p.t.Fatalf("%s: headless ended before it was ready\nstderr:\n%s", p.name, n.errb.String())
		}
		n.cmd.Wait()
		p.t.Logf("%s: onion's tor start-up race (control socket dialled before tor listened); starting again", p.name)
	}
}

// waitReady waits for the ready event of identity; false if the process
// ended first.
func (n *node) waitReady(identity string) bool {
	n.t.Helper()
	match := is(map[string]any{"event": "ready", "identity": identity})
	deadline := time.NewTimer(readyWithin)
	defer deadline.Stop()
	from := 0
	for {
		n.mu.Lock()
		for i := from; i < len(n.lines); i++ {
			if match(n.lines[i]) {
				n.mu.Unlock()
				return true
			}
		}
		from = len(n.lines)
		notify := n.notify
		n.mu.Unlock()
		select {
		case <-notify:
		case <-n.done:
			n.mu.Lock()
			l := len(n.lines)
			n.mu.Unlock()
			if l == from {
				return false
			}
		case <-deadline.C:
			n.t.Fatalf("%s: %s not ready within %s; last lines:\n%s", n.name, identity, readyWithin, n.tail(15))
		}
	}
}

// pair makes two users who have added each other, starts both headless
// (a's under wrapA, if any) and waits until both identities are ready.
func pair(t *testing.T, a, b string, wrapA ...string) (pa, pb *profile, na, nb *node) {
	t.Helper()
	pa, ca := newUser(t, a, false)
	pb, cb := newUser(t, b, false)
	pa.must("contact", "add", a, b, cb)
	pb.must("contact", "add", b, a, ca)
	na = pa.startReady([]string{a}, wrapA...)
	nb = pb.startReady([]string{b})
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

// all returns the lines from index from that match.
func (n *node) all(from int, match func(map[string]any) bool) []map[string]any {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []map[string]any
	for i := from; i < len(n.lines); i++ {
		if match(n.lines[i]) {
			out = append(out, n.lines[i])
		}
	}
	return out
}
