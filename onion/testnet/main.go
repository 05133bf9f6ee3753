package testnet

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"testing"
	"time"
)

// mainStartTimeout bounds the start of Main's network.
const mainStartTimeout = 4 * time.Minute

// Main is for TestMain in packages whose tests run over a private network:
//
//	var tn *testnet.Network
//
//	func TestMain(m *testing.M) {
//		os.Exit(testnet.Main(m, func(n *testnet.Network) { tn = n }))
//	}
//
// It starts one network of 3 authorities, 5 relays and an obfs4 bridge,
// gives it to setup, runs the tests, closes the network and returns the exit
// code. It fails loudly, naming the log directory, when the network cannot
// start, and fails the run when Close leaves a tor process or the temporary
// directory behind. When a test failed, the network's logs are kept and
// their directory printed. With -test.v the network's progress lines go to stderr.
// "go test -list" and fuzzing workers run no network.
func Main(m *testing.M, setup func(*Network)) int {
	flag.Parse()
	// "go test -list" and fuzzing workers (one process per core, running
	// only the fuzz function) need no network.
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		return m.Run()
	}
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		return m.Run()
	}
	o := Options{Bridge: true}
	if testing.Verbose() {
		o.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	}
	return runMain(m, setup, Start, o, os.Stderr)
}

// runMain is Main after flag handling, with the start function and the
// output as parameters so that its bookkeeping can be tested.
func runMain(m interface{ Run() int }, setup func(*Network), start func(context.Context, Options) (*Network, error), o Options, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), mainStartTimeout)
	n, err := start(ctx, o)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "FAIL: cannot start the private Tor network for these tests: %v\n", err)
		return 1
	}
	if setup != nil {
		setup(n)
	}
	code := m.Run()
	n.keepLogs = code != 0
	if err := n.Close(); err != nil {
		fmt.Fprintf(stderr, "FAIL: closing the private Tor network: %v\n", err)
		return 1
	}
	if left := n.leftovers(); left != "" {
		fmt.Fprintf(stderr, "FAIL: the private Tor network left %s behind\n", left)
		return 1
	}
	if n.keepLogs {
		fmt.Fprintf(stderr, "testnet: tests failed; the private network's tor logs are kept in %s\n", n.dir)
	}
	return code
}

// leftovers describes what a closed network left behind: live tor processes
// it started, or its temporary directory. "" when nothing is left.
func (n *Network) leftovers() string {
	var left []string
	for _, p := range n.procs() {
		if !p.exited() {
			left = append(left, fmt.Sprintf("tor %s (PID %d)", p.name, p.pid))
		}
	}
	if n.ownDir && !n.keepLogs {
		if _, err := os.Stat(n.dir); err == nil {
			left = append(left, "directory "+n.dir)
		}
	}
	if len(left) == 0 {
		return ""
	}
	return fmt.Sprint(left)
}
