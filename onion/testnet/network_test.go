package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// tn is the network every integration test of this package shares.
var tn *Network

func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := Main(m, func(n *Network) { tn = n })
	stopBenchClients()
	if code == 0 {
		code = goroutineLeakCheck(before)
	}
	os.Exit(code)
}

// goroutineLeakCheck fails the run when goroutines started by the tests
// (process waiters, control readers, echo servers) outlive them.
func goroutineLeakCheck(before int) int {
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			fmt.Fprintf(os.Stderr, "FAIL: %d goroutines before the tests, %d after:\n%s\n", before, runtime.NumGoroutine(), buf)
			return 1
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestClientTorrcFragment(t *testing.T) {
	frag := tn.ClientTorrc()
	for _, want := range []string{"TestingTorNetwork 1\n", "PathsNeededToBuildCircuits 0.67\n", "Schedulers Vanilla\n"} {
		if !strings.Contains(frag, want) {
			t.Errorf("ClientTorrc lacks %q:\n%s", want, frag)
		}
	}
	re := regexp.MustCompile(`(?m)^DirAuthority stnA\d orport=\d+ no-v2 v3ident=[0-9A-F]{40} 127\.0\.0\.1:\d+ [0-9A-F]{40}$`)
	if got := len(re.FindAllString(frag, -1)); got != 3 {
		t.Errorf("ClientTorrc has %d well-formed DirAuthority lines, want 3:\n%s", got, frag)
	}
	if strings.Contains(frag, tn.LogDir()) {
		t.Errorf("ClientTorrc mentions the network's directory: clients elsewhere cannot use it")
	}
}

func TestBridgeLine(t *testing.T) {
	re := regexp.MustCompile(`^obfs4 127\.0\.0\.1:\d+ [0-9A-F]{40} cert=[A-Za-z0-9+/=]{40,} iat-mode=0$`)
	if !re.MatchString(tn.BridgeLine()) {
		t.Fatalf("BridgeLine() = %q, want %v", tn.BridgeLine(), re)
	}
	// The bridge is not in the consensus: it is reachable only by its line.
	for _, nd := range tn.nodes {
		if nd.role == bridge && strings.Contains(tn.ClientTorrc(), nd.fp) {
			t.Errorf("the bridge's fingerprint is in ClientTorrc")
		}
	}
}

func TestClientBootstraps(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	c := mustClient(t, ctx, "boot", tn.ClientTorrc(), "")
	start := time.Now()
	if err := c.bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("client bootstrapped in %v", time.Since(start).Round(time.Millisecond))
}

// TestOnionServiceEcho is the proof that the network carries onion services:
// client A publishes an ephemeral v3 service in front of an echo server;
// client B reaches it through its SocksPort, and so does client C, which
// reaches the network only through the obfs4 bridge.
func TestOnionServiceEcho(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	bridged := "UseBridges 1\nClientTransportPlugin obfs4 exec /usr/bin/obfs4proxy\nBridge " + tn.BridgeLine() + "\n"
	a := mustClient(t, ctx, "A", tn.ClientTorrc(), "")
	b := mustClient(t, ctx, "B", tn.ClientTorrc(), "")
	c := mustClient(t, ctx, "C", tn.ClientTorrc(), bridged)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, cl := range []*client{a, b, c} {
		wg.Go(func() { errs[i] = cl.bootstrap(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	target := echoServer(t)
	t0 := time.Now()
	id, err := a.publish(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("descriptor uploaded %v after ADD_ONION", time.Since(t0).Round(time.Millisecond))

	for _, cl := range []*client{b, c} {
		t.Run("via_"+cl.name, func(t *testing.T) {
			conn, err := cl.dialOnion(ctx, id)
			if err != nil {
				t.Fatalf("dial the service through %s: %v", cl.name, err)
			}
			defer conn.Close()
			for i := range 3 {
				if err := echo(conn, fmt.Appendf(nil, "hello %d from %s\n", i, cl.name)); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("echo through %s %v after ADD_ONION", cl.name, time.Since(t0).Round(time.Millisecond))
		})
	}

	// C's circuits all start at the bridge: it did not reach the relays directly.
	var bridgeFP string
	for _, nd := range tn.nodes {
		if nd.role == bridge {
			bridgeFP = nd.fp
		}
	}
	hops, err := c.firstHops(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hops) == 0 {
		t.Fatal("client C has no built circuit")
	}
	for _, h := range hops {
		if h != bridgeFP {
			t.Errorf("client C has a circuit whose first hop is %s, not the bridge %s", h, bridgeFP)
		}
	}

	if err := a.unpublish(ctx, id); err != nil {
		t.Fatal(err)
	}
}

// TestUpDown runs a second, persistent network the way `sotto net up/down`
// does, next to the shared one.
func TestUpDown(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 4*time.Minute)
	dir, err := os.MkdirTemp("", "stu")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		Down(context.Background(), dir)
		if !t.Failed() {
			os.RemoveAll(dir)
		}
	})
	// 127.0.0.2 (on lo, like all of 127/8) stands in for a LAN address:
	// it shows that Options.Listen reaches every node and the fragment.
	if err := Up(ctx, dir, Options{Listen: "127.0.0.2", Logf: t.Logf}); err != nil {
		t.Fatal(err)
	}
	ps, err := readPIDs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 8 {
		t.Fatalf("%s lists %d processes, want 8", pidsFile, len(ps))
	}
	alive := func() (n int) {
		for _, p := range ps {
			if isOurTor(p.pid, p.torrc) {
				n++
			}
		}
		return n
	}
	if n := alive(); n != 8 {
		t.Fatalf("%d of 8 tors alive after Up", n)
	}
	fi, err := os.Stat(filepath.Join(dir, torrcFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("%s has mode %v, want 0644", torrcFile, fi.Mode().Perm())
	}
	frag, err := os.ReadFile(filepath.Join(dir, torrcFile))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("usable", func(t *testing.T) {
		// The authorities named in network.torrc publish a consensus with
		// every node flagged for onion services.
		m := regexp.MustCompile(`(?m)^DirAuthority \S+ orport=\d+ no-v2 v3ident=\S+ (127\.0\.0\.2):(\d+) `).FindSubmatch(frag)
		if m == nil {
			t.Fatalf("no DirAuthority line in %s:\n%s", torrcFile, frag)
		}
		port, _ := strconv.Atoi(string(m[2]))
		tr := &http.Transport{Proxy: nil, DisableCompression: true}
		defer tr.CloseIdleConnections()
		c, err := fetchConsensus(ctx, &http.Client{Transport: tr, Timeout: 10 * time.Second}, &node{name: "a", addr: string(m[1]), dirPort: port})
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(frag, []byte("127.0.0.1")) {
			t.Errorf("%s names 127.0.0.1 though the network listens on 127.0.0.2:\n%s", torrcFile, frag)
		}
		if c.Usable != 8 {
			t.Errorf("consensus has %d of 8 nodes with the flags onion services need", c.Usable)
		}
		// And a client given network.torrc bootstraps.
		cl := mustClient(t, ctx, "updown", string(frag), "")
		if err := cl.bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("second_up_refused", func(t *testing.T) {
		err := Up(ctx, dir, Options{})
		if !errors.Is(err, ErrRunning) {
			t.Fatalf("second Up on %s: %v, want ErrRunning", dir, err)
		}
		if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "net down") {
			t.Errorf("error does not name the dir and the way out: %v", err)
		}
		if n := alive(); n != 8 {
			t.Fatalf("%d of 8 tors alive after a refused second Up", n)
		}
		if _, err := os.Stat(filepath.Join(dir, torrcFile)); err != nil {
			t.Errorf("refused Up touched %s: %v", torrcFile, err)
		}
	})

	if err := Down(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if n := alive(); n != 0 {
		t.Fatalf("%d tors still alive after Down", n)
	}
	if left := procsUnder(dir); len(left) > 0 {
		t.Fatalf("processes still running in %s after Down: %v", dir, left)
	}
	if err := Down(ctx, dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("second Down: %v, want ErrNotRunning", err)
	}
}

// TestStartCancel cancels a Start once its tors run: Start must stop them
// all and remove its temporary directory.
func TestStartCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var dir string
	logf := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		const marker = "processes started in "
		if i := strings.Index(line, marker); i >= 0 {
			mu.Lock()
			dir = line[i+len(marker):]
			mu.Unlock()
			cancel()
		}
	}
	n, err := Start(ctx, Options{Logf: logf})
	if err == nil {
		n.Close()
		t.Fatal("Start returned a network after its context was cancelled")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Start: %v, want context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if dir == "" {
		t.Fatal("Start never reported its processes started")
	}
	if left := procsUnder(dir); len(left) > 0 {
		t.Errorf("processes still running in %s: %v", dir, left)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary directory %s left behind (%v)", dir, err)
	}
}

// TestTorFailsToStart runs a "tor" that exits at once as a relay (as tor does
// when its port is taken): Start must say which node failed and why, keep
// the logs and leave no process behind.
func TestTorFailsToStart(t *testing.T) {
	t.Parallel()
	realTor, err := exec.LookPath("tor")
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(t.TempDir(), "tor")
	script := "#!/bin/sh\n" +
		"case \"$1\" in --list-fingerprint) exec " + realTor + " \"$@\";; esac\n" +
		"echo \"Nov 22 00:00:00.000 [err] Could not bind to 127.0.0.1:1: Address already in use. Is Tor already running?\"\n" +
		"exit 1\n"
	if err := os.WriteFile(fake, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	// Only a bound on a hang: three attempts each make authority keys
	// (tor-gencert), which took over two minutes on a loaded machine.
	ctx := testCtx(t, 6*time.Minute)
	n, err := Start(ctx, Options{TorPath: fake})
	if err == nil {
		n.Close()
		t.Fatal("Start succeeded with a tor that exits")
	}
	msg := err.Error()
	m := regexp.MustCompile(`tor logs kept in (/\S+)$`).FindStringSubmatch(msg)
	if !strings.Contains(msg, "exited during start-up") || !strings.Contains(msg, "Could not bind") || m == nil {
		t.Fatalf("Start error does not say what failed and where the logs are: %v", err)
	}
	// A taken port is a race with another process: Start tried again with
	// new ports before giving up, and says so.
	if !errors.Is(err, errPortTaken) || !strings.Contains(msg, fmt.Sprintf("%d attempts with new ports", startAttempts)) {
		t.Errorf("Start did not retry a taken port %d times: %v", startAttempts, err)
	}
	dir := m[1]
	defer os.RemoveAll(dir)
	if _, err := os.Stat(filepath.Join(dir, nodesDir, "a0", nodeStdout)); err != nil {
		t.Errorf("logs not kept: %v", err)
	}
	if left := procsUnder(dir); len(left) > 0 {
		t.Errorf("processes still running in %s: %v", dir, left)
	}
}
