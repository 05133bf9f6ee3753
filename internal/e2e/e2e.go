// Package e2e runs the real sotto binary for end-to-end tests: it builds
// the binary, makes profiles on a private Tor network (onion/testnet), runs
// one-shot commands and drives 'sotto headless' processes through their
// JSON-lines interface (docs/headless.md).
//
// It is for tests only: it imports testing, and its helpers fail the test
// they are given. Only _test.go files import it.
//
// # Use
//
// TestMain builds the binary with [Build] and starts the network; a test
// then makes profiles with [Sotto.NewProfile], prepares them with
// [Profile.Must], starts [Profile.Headless] nodes and waits for their
// events with [Node.WaitFor] and [Is].
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runWithin bounds one-shot commands ([Sotto.Run]): they stop a hang, no
// command of the tests takes nearly as long.
const runWithin = 2 * time.Minute

// Build compiles the sotto command of package pkg (a go build package
// argument, such as "." or "../cmd/sotto") to dir/sotto and returns its
// path. The compiler's output goes to the test binary's stderr. It builds
// as the Makefile does, with GOEXPERIMENT=runtimesecret added to the
// environment's (internal/erase), so the tests run the binary users run.
func Build(dir, pkg string) (string, error) {
	bin := filepath.Join(dir, "sotto")
	build := exec.Command("go", "build", "-o", bin, pkg)
	build.Env = append(os.Environ(), "GOEXPERIMENT="+WithSecret(os.Getenv("GOEXPERIMENT")))
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building sotto: %w", err)
	}
	return bin, nil
}

// WithSecret returns the GOEXPERIMENT list exp with runtimesecret in it.
func WithSecret(exp string) string {
	for _, e := range strings.Split(exp, ",") {
		if strings.TrimSpace(e) == "runtimesecret" {
			return exp
		}
	}
	if strings.TrimSpace(exp) == "" {
		return "runtimesecret"
	}
	return exp + ",runtimesecret"
}

// Sotto is a built sotto binary and the private network its profiles join.
type Sotto struct {
	Bin     string // path of the built binary
	Network string // the private network's client torrc fragment, for --network
	// Debug runs headless nodes with --debug: the engine's connection log
	// goes to the node's stderr and tor logs notices to PROFILE/tor/tor.log,
	// both of which [DumpOnFailure] prints.
	Debug bool
}

// Run runs sotto with args and stdin to its end (at most two minutes) and
// returns its exit code and output. It fails t only when sotto cannot be
// run at all.
func (s *Sotto) Run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runWithin)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bin, args...)
	cmd.Env = CleanEnv()
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

// CleanEnv is the environment without TOR_* variables, so that a
// developer's settings cannot point the tests at another tor.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOR_") {
			env = append(env, kv)
		}
	}
	return env
}

// Is matches a line whose fields have the given values (compared as
// fmt.Sprint prints them, so 30 matches the JSON number 30).
func Is(fields map[string]any) func(map[string]any) bool {
	return func(m map[string]any) bool {
		for k, v := range fields {
			if fmt.Sprint(m[k]) != fmt.Sprint(v) {
				return false
			}
		}
		return true
	}
}

// DumpOnFailure logs, when t has failed, each node's last 40 output lines,
// its stderr (with [Sotto.Debug], the engine's connection log) and the last
// 60 lines of its PROFILE/tor/tor.log. nodes is read at the end of the
// test, so nodes restarted meanwhile may replace their entries.
func DumpOnFailure(t *testing.T, nodes map[string]*Node) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for name, n := range nodes {
			t.Logf("--- %s: last output lines:\n%s\n--- %s: stderr:\n%s", name, n.Tail(40), name, n.Stderr())
			if b, err := os.ReadFile(filepath.Join(n.Dir, "tor", "tor.log")); err == nil {
				lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
				t.Logf("--- %s: tor.log (last 60 lines):\n%s", name, strings.Join(lines[max(0, len(lines)-60):], "\n"))
			}
		}
	})
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
