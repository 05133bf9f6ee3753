package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds of a node's life outside the test's own waits.
const (
	quitWithin   = 30 * time.Second // from {"cmd":"quit"} to the end of the process, then it is killed
	pidWithin    = 10 * time.Second // for a wrapper to start sotto, in [Node.PID]
	maxLineBytes = 1 << 20          // one JSON line on stdout
)

// Errors of [Node.Next].
var (
	ErrEnded   = errors.New("e2e: the output ended")
	ErrTimeout = errors.New("e2e: no matching line in time")
)

// Node is a running 'sotto headless' process, possibly under a wrapper
// (strace, prlimit, ...), and every JSON line it has written to stdout.
type Node struct {
	Name string // the profile's name, in messages and command tags
	Dir  string // the profile directory

	t    *testing.T
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

// Headless starts 'sotto headless' on the profile, stopped (by [Node.Stop])
// when the test ends. wrap, if given, is a command line the sotto command
// line is appended to. The process has a session of its own (no
// controlling terminal), runs as [Profile.UID] when that is set, and with
// --debug when [Sotto.Debug] is.
func (p *Profile) Headless(wrap ...string) *Node {
	p.t.Helper()
	return p.Command([]string{"headless"}, wrap...)
}

// Command starts another long-running sotto command that speaks JSON lines
// and quits on {"cmd":"quit"} ('sotto mailbox serve'), as Headless does.
func (p *Profile) Command(args []string, wrap ...string) *Node {
	p.t.Helper()
	if p.sotto.Debug {
		args = append([]string{"--debug"}, args...)
	}
	argv := append(append(append([]string(nil), wrap...), p.sotto.Bin), p.Args(args...)...)
	return start(p.t, p.Name, p.Dir, p.UID, CleanEnv(), argv)
}

// Start runs the sotto binary with args (no profile flags are added: an
// amnesic session, say), in the environment env (nil: [CleanEnv]), as
// [Profile.Command] does; wrap as there. name names it in messages.
func (s *Sotto) Start(t *testing.T, name string, env []string, args []string, wrap ...string) *Node {
	t.Helper()
	if s.Debug {
		args = append([]string{"--debug"}, args...)
	}
	if env == nil {
		env = CleanEnv()
	}
	return start(t, name, "", 0, env, append(append(append([]string(nil), wrap...), s.Bin), args...))
}

func start(t *testing.T, name, dir string, uid int, env, argv []string) *Node {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if uid != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{Name: name, Dir: dir, t: t, cmd: cmd, in: in, done: make(chan struct{}), errb: &lockedBuf{}, notify: make(chan struct{})}
	cmd.Stderr = n.errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go n.read(out)
	t.Cleanup(n.Stop)
	return n
}

// read collects stdout, one JSON object a line; a line that is not one is
// kept as {"event":"NOT-JSON","line":...}.
func (n *Node) read(out io.Reader) {
	defer close(n.done)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<16), maxLineBytes)
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

// Stop sends {"cmd":"quit"} and waits for the process; it kills it after
// 30 s. The test fails if the process did not exit cleanly or wrote
// anything but JSON objects to stdout. Stopping a stopped node does
// nothing.
func (n *Node) Stop() {
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
			n.t.Errorf("%s: headless exited with %v\nstderr:\n%s", n.Name, err, n.errb.String())
		}
	case <-time.After(quitWithin):
		n.cmd.Process.Kill()
		<-waited
		n.t.Errorf("%s: headless did not quit within %s; killed", n.Name, quitWithin)
	}
	<-n.done
	n.checkJSON()
}

// CloseInput closes the process's stdin, as a script does when it has
// written its last command: headless ends once every command read has its
// reply ([Node.Wait] then waits for it).
func (n *Node) CloseInput() {
	n.t.Helper()
	if err := n.in.Close(); err != nil {
		n.t.Fatalf("%s: closing stdin: %v", n.Name, err)
	}
}

// Wait waits for a process that ends by itself (its output has ended: see
// [ErrEnded]) and returns how it exited; [Node.Stop] then does nothing. Like
// Stop, it fails the test if anything but JSON objects reached stdout.
func (n *Node) Wait() error {
	<-n.done
	err := n.cmd.Wait()
	n.checkJSON()
	return err
}

// checkJSON fails the test if a line of stdout was not a JSON object.
func (n *Node) checkJSON() {
	if bad := n.All(0, Is(map[string]any{"event": "NOT-JSON"})); len(bad) != 0 {
		n.t.Errorf("%s: headless wrote non-JSON to stdout: %v", n.Name, bad)
	}
}

// PID is the sotto process's PID: the command's own, or, when wrapped
// (under a wrapper such as strace that forks sotto), the wrapper's only
// child. A wrapper that execs sotto (prlimit) keeps the PID: pass false.
func (n *Node) PID(wrapped bool) int {
	n.t.Helper()
	if !wrapped {
		return n.cmd.Process.Pid
	}
	deadline := time.Now().Add(pidWithin)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", n.cmd.Process.Pid, n.cmd.Process.Pid))
		if f := strings.Fields(string(b)); len(f) == 1 {
			pid, err := strconv.Atoi(f[0])
			if err == nil {
				return pid
			}
		}
		time.Sleep(50 * time.Millisecond) // polling /proc: the kernel does not signal a fork to us
	}
	n.t.Fatalf("%s: cannot find the process under the wrapper", n.Name)
	return 0
}

// Next returns the first line at index >= from that matches, and its index,
// waiting up to d for it. It returns [ErrEnded] when the output ends before
// such a line, [ErrTimeout] when d passes; it never fails the test.
func (n *Node) Next(from int, d time.Duration, match func(map[string]any) bool) (map[string]any, int, error) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		n.mu.Lock()
		for i := from; i < len(n.lines); i++ {
			if match(n.lines[i]) {
				m := n.lines[i]
				n.mu.Unlock()
				return m, i, nil
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
				return nil, 0, ErrEnded
			}
		case <-deadline.C:
			return nil, 0, ErrTimeout
		}
	}
}

// WaitFor is [Node.Next] that fails the test, saying it waited for what
// and printing what was seen, when no line comes.
func (n *Node) WaitFor(from int, d time.Duration, what string, match func(map[string]any) bool) (map[string]any, int) {
	n.t.Helper()
	m, i, err := n.Next(from, d, match)
	switch err {
	case nil:
		return m, i
	case ErrEnded:
		n.t.Fatalf("%s: output ended while waiting for %s\nstderr:\n%s", n.Name, what, n.errb.String())
	default:
		n.t.Fatalf("%s: no %s within %s; last lines:\n%s", n.Name, what, d, n.Tail(15))
	}
	return nil, 0
}

// Tail is the last k lines of stdout, as written.
func (n *Node) Tail(k int) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.raw
	if len(s) > k {
		s = s[len(s)-k:]
	}
	return strings.Join(s, "\n")
}

// Stderr is what the process has written to stderr so far.
func (n *Node) Stderr() string { return n.errb.String() }

// Mark is the index of the next line, for [Node.WaitFor], [Node.Count] and
// [Node.All]: what comes after an action.
func (n *Node) Mark() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.lines)
}

// tagged adds a tag of its own to cmd and encodes it.
func (n *Node) tagged(cmd map[string]any) ([]byte, string) {
	n.t.Helper()
	n.mu.Lock()
	n.tagN++
	tag := fmt.Sprintf("%s-%d", n.Name, n.tagN)
	n.mu.Unlock()
	cmd["tag"] = tag
	b, err := json.Marshal(cmd)
	if err != nil {
		n.t.Fatal(err)
	}
	return b, tag
}

// Do sends a command (given as a map; a tag is added to it) and returns its
// reply, which must be an "ok" within d; otherwise the test fails.
func (n *Node) Do(d time.Duration, cmd map[string]any) map[string]any {
	n.t.Helper()
	b, tag := n.tagged(cmd)
	from := n.Mark()
	if _, err := n.in.Write(append(b, '\n')); err != nil {
		n.t.Fatalf("%s: writing %s: %v", n.Name, b, err)
	}
	r, _ := n.WaitFor(from, d, "reply to "+string(b), func(m map[string]any) bool { return m["tag"] == tag })
	if r["event"] != "ok" {
		n.t.Fatalf("%s: %s: got %v, want ok", n.Name, b, r)
	}
	return r
}

// Write sends commands (a tag added to each) without waiting for their
// replies, as a script that pipelines them does, and returns their tags in
// order.
func (n *Node) Write(cmds ...map[string]any) []string {
	n.t.Helper()
	var buf []byte
	var tags []string
	for _, cmd := range cmds {
		b, tag := n.tagged(cmd)
		buf = append(append(buf, b...), '\n')
		tags = append(tags, tag)
	}
	if _, err := n.in.Write(buf); err != nil {
		n.t.Fatalf("%s: writing %d commands: %v", n.Name, len(cmds), err)
	}
	return tags
}

// Count is how many lines from index from match.
func (n *Node) Count(from int, match func(map[string]any) bool) int {
	return len(n.All(from, match))
}

// All returns the lines from index from that match.
func (n *Node) All(from int, match func(map[string]any) bool) []map[string]any {
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
