package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sottochat/sotto/onion/testnet"
)

// The end-to-end tests run the real binary, built once in TestMain, over a
// private Tor network started once for the package. With -short neither is
// done and the end-to-end tests skip.
var (
	sottoBin string // path of the built binary
	netFile  string // the private network's client torrc fragment
	tnet     *testnet.Network
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "sotto-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	sottoBin = filepath.Join(dir, "sotto")
	build := exec.Command("go", "build", "-o", sottoBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: building sotto:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := testnet.Main(m, func(n *testnet.Network) {
		tnet = n
		netFile = filepath.Join(dir, "network.torrc")
		if err := os.WriteFile(netFile, []byte(n.ClientTorrc()), 0o600); err != nil {
			panic(err)
		}
	})
	os.RemoveAll(dir)
	os.Exit(code)
}

func needNetwork(t *testing.T) {
	t.Helper()
	if sottoBin == "" {
		t.Skip("end-to-end test: skipped with -short")
	}
}

// profile is one user: a profile directory and a passphrase file.
type profile struct {
	t          *testing.T
	name       string
	dir        string
	pwFile     string
	passphrase string
}

func newProfile(t *testing.T, name string) *profile {
	t.Helper()
	// Short paths: tor's control socket lives inside the profile and Unix
	// socket paths are limited to ~100 bytes.
	base, err := os.MkdirTemp("", "st")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	p := &profile{t: t, name: name, dir: filepath.Join(base, "p"), pwFile: filepath.Join(base, "pw"),
		passphrase: "correct horse " + name + " battery staple"}
	if err := os.WriteFile(p.pwFile, []byte(p.passphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// args puts the profile's global flags before the command.
func (p *profile) args(args ...string) []string {
	return append([]string{"--profile", p.dir, "--passphrase-file", p.pwFile, "--network", netFile}, args...)
}

// run runs one sotto command to its end.
func (p *profile) run(args ...string) (code int, stdout, stderr string) {
	p.t.Helper()
	return runSotto(p.t, "", p.args(args...)...)
}

// must runs a command that has to succeed and returns its stdout.
func (p *profile) must(args ...string) string {
	p.t.Helper()
	code, out, errs := p.run(args...)
	if code != 0 {
		p.t.Fatalf("%s: sotto %s: exit %d\n%s", p.name, strings.Join(args, " "), code, errs)
	}
	return out
}

func runSotto(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sottoBin, args...)
	cmd.Env = cleanEnv()
	// A session of its own: no controlling terminal, even when the tests
	// run in one, so sotto can never prompt or start the chat screen.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	}
	if err != nil {
		t.Fatalf("running sotto: %v", err)
	}
	return 0, out.String(), errb.String()
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

// node is a running 'sotto headless' process.
type node struct {
	t    *testing.T
	name string
	dir  string // the profile directory
	cmd  *exec.Cmd
	in   io.WriteCloser
	done chan struct{} // closed when stdout ends
	errb *lockedBuf

	mu     sync.Mutex
	lines  []map[string]any
	raw    []string
	notify chan struct{} // closed and replaced on every new line
	tagN   int
}

func (p *profile) headless() *node {
	p.t.Helper()
	// --debug: the engine's connection log goes to stderr (shown when a
	// test fails) and tor logs notices to the profile's tor/tor.log.
	cmd := exec.Command(sottoBin, p.args("--debug", "headless")...)
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	in, err := cmd.StdinPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	n := &node{t: p.t, name: p.name, dir: p.dir, cmd: cmd, in: in, done: make(chan struct{}), errb: &lockedBuf{}, notify: make(chan struct{})}
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
	// Nothing but JSON objects ever reaches stdout.
	if bad := n.all(0, is(map[string]any{"event": "NOT-JSON"})); len(bad) != 0 {
		n.t.Errorf("%s: headless wrote non-JSON to stdout: %v", n.name, bad)
	}
}

// waitFor returns the first line at index >= from that matches, waiting up
// to d for it. It fails the test, printing what was seen, when none comes.
func (n *node) waitFor(from int, d time.Duration, what string, match func(map[string]any) bool) (map[string]any, int) {
	n.t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		n.mu.Lock()
		for i := from; i < len(n.lines); i++ {
			if match(n.lines[i]) {
				m := n.lines[i]
				n.mu.Unlock()
				return m, i
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

// do sends a command (given as a map, a tag is added) and returns its reply.
// want "ok" or "error".
func (n *node) do(want string, cmd map[string]any) map[string]any {
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
	r, _ := n.waitFor(from, time.Minute, "reply to "+string(b), func(m map[string]any) bool { return m["tag"] == tag })
	if r["event"] != want {
		n.t.Fatalf("%s: %s: got %v, want %s", n.name, b, r, want)
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

// count returns how many lines from index from match.
func (n *node) count(from int, match func(map[string]any) bool) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := 0
	for i := from; i < len(n.lines); i++ {
		if match(n.lines[i]) {
			k++
		}
	}
	return k
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

// lockedBuf collects a process's stderr; it may be read while written.
type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// dumpOnFailure logs the last lines of every node when t has failed.
func dumpOnFailure(t *testing.T, nodes map[string]*node) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for name, n := range nodes {
			t.Logf("--- %s: last output lines:\n%s\n--- %s: stderr:\n%s", name, n.tail(40), name, n.errb.String())
			if b, err := os.ReadFile(filepath.Join(n.dir, "tor", "tor.log")); err == nil {
				lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
				t.Logf("--- %s: tor.log (last 60 lines):\n%s", name, strings.Join(lines[max(0, len(lines)-60):], "\n"))
			}
		}
	})
}
