package testnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a private network. The zero value is a loopback network
// of 3 authorities and 5 relays in a new temporary directory.
type Options struct {
	Dir         string                           // state dir; "" = a new temp dir, removed by Close
	Listen      string                           // IPv4 address relays bind to; default "127.0.0.1"
	Authorities int                              // default 3
	Relays      int                              // default 5 (plus the authorities)
	Bridge      bool                             // also run an obfs4 bridge (not in the consensus)
	TorPath     string                           // default: "tor" on PATH
	Logf        func(format string, args ...any) // progress lines; nil = silent
}

// Limits on the network's shape: a bigger network only costs memory
// (~105 MB per tor) and start-up time on a small machine.
const (
	maxAuthorities = 9
	maxRelays      = 40
	// minNodes is the smallest network in which onion-service circuits
	// reliably find distinct nodes (TESTNET.md: with 3 nodes dials hang).
	minNodes = 5
)

// Sentinel errors callers can branch on with errors.Is.
var (
	// ErrRunning: Up was given a directory that already holds a running
	// network (or one being started or stopped right now).
	ErrRunning = errors.New("testnet: a network is already running in this directory")
	// ErrNotRunning: Down found no running network in the directory.
	ErrNotRunning = errors.New("testnet: no running network in this directory")
)

// Network is a running private Tor network started by [Start].
type Network struct {
	dir    string
	ownDir bool // dir was created by Start and is removed by Close
	logf   func(string, ...any)

	nodes       []*node
	clientTorrc string
	bridgeLine  string

	// Milestones of the start, for benchmarks and progress lines.
	started       time.Time // Start was called
	firstUsable   time.Time // first consensus an onion service can use
	ready         time.Time // Start returned
	firstValidAft string    // valid-after of that first consensus

	keepLogs  bool // Close keeps the directory (Main, after failed tests)
	closeOnce sync.Once
	closeErr  error
}

// ClientTorrc returns the torrc fragment a client tor needs to join the
// network: TestingTorNetwork, the DirAuthority lines and the options that
// make a client bootstrap fast on a small network.
func (n *Network) ClientTorrc() string { return n.clientTorrc }

// BridgeLine returns the obfs4 bridge line ("obfs4 ADDR:PORT FP cert=...
// iat-mode=0") when the network was started with Options.Bridge, else "".
// A client uses it as "Bridge " + line with UseBridges 1 and
// "ClientTransportPlugin obfs4 exec /usr/bin/obfs4proxy".
func (n *Network) BridgeLine() string { return n.bridgeLine }

// Addrs returns the address:port of every listener the network's tors
// reach each other and clients on (ORPorts, the authorities' DirPorts, a
// bridge's obfs4 port), for a test that carries the network into a network
// namespace of its own.
func (n *Network) Addrs() []string {
	var out []string
	for _, nd := range n.nodes {
		for _, p := range []int{nd.orPort, nd.dirPort, nd.ptPort} {
			if p != 0 {
				out = append(out, net.JoinHostPort(nd.addr, strconv.Itoa(p)))
			}
		}
	}
	return out
}

// LogDir returns the directory holding every node's directory and logs
// (NODE/notice.log, NODE/stdout.log).
func (n *Network) LogDir() string { return n.dir }

// Close stops exactly the tor processes Start started (SIGTERM, SIGKILL
// after a grace period), waits for them, and removes the temporary
// directory when Start created it. It is safe to call more than once.
func (n *Network) Close() error {
	n.closeOnce.Do(func() {
		n.closeErr = stopProcs(context.Background(), n.procs())
		if n.ownDir && !n.keepLogs && n.closeErr == nil {
			if err := os.RemoveAll(n.dir); err != nil {
				n.closeErr = fmt.Errorf("testnet: remove %s: %w", n.dir, err)
			}
		}
	})
	return n.closeErr
}

func (n *Network) procs() []*proc {
	var ps []*proc
	for _, nd := range n.nodes {
		if nd.proc != nil {
			ps = append(ps, nd.proc)
		}
	}
	return ps
}

func (n *Network) progress(format string, args ...any) {
	if n.logf != nil {
		n.logf("testnet: "+format, args...)
	}
}

// Start generates keys, starts the network's tor processes as children of
// this process and returns once a consensus that gives every node the flags
// an onion service needs (Running, Valid, Fast, Stable, Guard, HSDir) is
// published and one more voting round has passed, so that a client started
// now bootstraps at once. On failure it stops what it started and returns an
// error naming the directory where the logs were kept; when ctx is cancelled
// it stops everything and removes its temporary directory.
func Start(ctx context.Context, o Options) (*Network, error) {
	return launchRetry(ctx, o, false)
}

// errPortTaken: a tor could not bind a port pickPorts had found free,
// because another process (often another test package starting its own
// network at the same moment) took it in between.
var errPortTaken = errors.New("testnet: a port was taken by another process before tor bound it")

// startAttempts bounds the launches when ports are taken (see errPortTaken);
// each attempt picks new ports.
const startAttempts = 3

// launchRetry is launch, tried again with new ports when another process
// took one of the chosen ports first. Other failures return at once.
func launchRetry(ctx context.Context, o Options, detached bool) (*Network, error) {
	for attempt := 1; ; attempt++ {
		n, err := launch(ctx, o, detached)
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, errPortTaken) || ctx.Err() != nil {
			return nil, err
		}
		if attempt >= startAttempts {
			return nil, fmt.Errorf("testnet: %d attempts with new ports: %w", attempt, err)
		}
		if n != nil && n.ownDir {
			os.RemoveAll(n.dir) // its processes are stopped; the next attempt gets a new directory
		}
		if o.Logf != nil {
			o.Logf("testnet: a port was taken before tor bound it; starting again with new ports")
		}
	}
}

// launch is Start, and Up when detached is true: detached tors run in their
// own session so that they outlive this process.
func launch(ctx context.Context, o Options, detached bool) (n *Network, err error) {
	if ctx == nil {
		return nil, errors.New("testnet: nil context")
	}
	o, err = o.withDefaults()
	if err != nil {
		return nil, err
	}
	tools, err := findTools(o)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	n = &Network{logf: o.Logf, started: time.Now()}
	if o.Dir == "" {
		// Short: client tors put unix sockets near here, and socket paths
		// are limited to ~100 bytes.
		n.dir, err = os.MkdirTemp("", "stn")
		if err != nil {
			return nil, fmt.Errorf("testnet: %w", err)
		}
		n.ownDir = true
	} else {
		n.dir, err = filepath.Abs(o.Dir)
		if err != nil {
			return nil, fmt.Errorf("testnet: %w", err)
		}
		if err := prepareDir(n.dir); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err == nil {
			return
		}
		started := len(n.procs()) > 0
		stopErr := stopProcs(context.Background(), n.procs())
		if n.ownDir && stopErr == nil && (!started || ctx.Err() != nil) {
			// Nothing to diagnose: no tor ran, or the caller gave up.
			os.RemoveAll(n.dir)
			return
		}
		if !started {
			return
		}
		if stopErr != nil {
			err = fmt.Errorf("%w (and stopping: %v)", err, stopErr)
		}
		err = fmt.Errorf("%w; tor logs kept in %s", err, n.dir)
	}()

	n.nodes = planNodes(o, n.dir)
	if err := os.MkdirAll(filepath.Join(n.dir, nodesDir), 0o700); err != nil {
		return n, fmt.Errorf("testnet: %w", err)
	}
	if err := os.WriteFile(filepath.Join(n.dir, nodesDir, nodesMarker), nil, 0o600); err != nil {
		return n, fmt.Errorf("testnet: %w", err)
	}
	if err := pickPorts(o.Listen, n.nodes); err != nil {
		return n, err
	}
	t0 := time.Now()
	if err := makeKeys(ctx, tools, n.nodes); err != nil {
		return n, err
	}
	n.progress("keys for %d authorities in %v", o.Authorities, time.Since(t0).Round(time.Millisecond))
	n.clientTorrc = clientTorrc(n.nodes)
	for _, nd := range n.nodes {
		if err := writeNodeTorrc(nd, n.nodes, tools); err != nil {
			return n, err
		}
	}
	if err := startNodes(tools.tor, n.nodes, detached); err != nil {
		return n, err
	}
	if detached {
		if err := writePIDs(n.dir, n.nodes); err != nil {
			return n, err
		}
	}
	n.progress("%d tor processes started in %s", len(n.nodes), n.dir)
	if err := n.waitUsable(ctx, o.Authorities+o.Relays); err != nil {
		return n, err
	}
	n.ready = time.Now()
	n.progress("network usable after %v (first usable consensus after %v)",
		n.ready.Sub(n.started).Round(time.Millisecond), n.firstUsable.Sub(n.started).Round(time.Millisecond))
	return n, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.Listen == "" {
		o.Listen = "127.0.0.1"
	}
	ip := net.ParseIP(o.Listen)
	if ip == nil || ip.To4() == nil {
		return o, fmt.Errorf("testnet: listen address %q is not an IPv4 address (e.g. 127.0.0.1 or a LAN address of this machine)", o.Listen)
	}
	if ip.IsUnspecified() || ip.IsMulticast() {
		return o, fmt.Errorf("testnet: listen address %q must be a unicast address of this machine", o.Listen)
	}
	o.Listen = ip.To4().String()
	if o.Authorities == 0 {
		o.Authorities = 3
	}
	if o.Relays == 0 {
		o.Relays = 5
	}
	if o.Authorities < 1 || o.Authorities > maxAuthorities {
		return o, fmt.Errorf("testnet: %d authorities: want 1 to %d", o.Authorities, maxAuthorities)
	}
	if o.Relays < 0 || o.Relays > maxRelays {
		return o, fmt.Errorf("testnet: %d relays: want 0 to %d", o.Relays, maxRelays)
	}
	if o.Authorities+o.Relays < minNodes {
		return o, fmt.Errorf("testnet: %d nodes in all: onion services need at least %d", o.Authorities+o.Relays, minNodes)
	}
	return o, nil
}

// tools are the programs a network runs.
type tools struct {
	tor, gencert, obfs4proxy string
}

func findTools(o Options) (tools, error) {
	var t tools
	torPath := o.TorPath
	if torPath == "" {
		torPath = "tor"
	}
	p, err := exec.LookPath(torPath)
	if err != nil {
		return t, fmt.Errorf("testnet: tor not found (%v): install it (make deps) or set TorPath", err)
	}
	if t.tor, err = filepath.Abs(p); err != nil {
		return t, fmt.Errorf("testnet: %w", err)
	}
	// tor-gencert ships with tor: look next to tor first.
	t.gencert = filepath.Join(filepath.Dir(t.tor), "tor-gencert")
	if _, err := os.Stat(t.gencert); err != nil {
		if t.gencert, err = exec.LookPath("tor-gencert"); err != nil {
			return t, fmt.Errorf("testnet: tor-gencert not found (%v): it comes with the tor package", err)
		}
	}
	if o.Bridge {
		t.obfs4proxy = "/usr/bin/obfs4proxy"
		if _, err := os.Stat(t.obfs4proxy); err != nil {
			if t.obfs4proxy, err = exec.LookPath("obfs4proxy"); err != nil {
				return t, fmt.Errorf("testnet: obfs4proxy not found (%v): install it (make deps) or run without a bridge", err)
			}
		}
	}
	return t, nil
}

// Files Up and Down keep in a network directory, besides the node
// directories under nodesDir.
const (
	nodesDir    = "nodes"
	torrcFile   = "network.torrc"
	pidsFile    = "network.pids"
	lockFile    = ".lock"
	nodeLog     = "notice.log"
	nodeStdout  = "stdout.log"
	nodeTorrc   = "torrc"
	nodeDefault = "torrc-defaults"
	tmpPrefix   = ".tmp-"
	nodesMarker = ".sotto-testnet" // in nodes/: this is ours to delete
)

// prepareDir makes dir ready for a new network: it creates it (0700), or
// accepts it if it holds only what a previous, stopped network left there, in
// which case the old node directories are removed. Anything else in dir is
// refused: never delete what is not ours.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	var stale []string
	for _, e := range ents {
		switch name := e.Name(); {
		case name == nodesDir:
			if _, err := os.Stat(filepath.Join(dir, nodesDir, nodesMarker)); err != nil {
				return fmt.Errorf("testnet: %s holds a %q directory that is not a testnet network's: choose an empty or new directory", dir, nodesDir)
			}
			stale = append(stale, name)
		case name == pidsFile, name == lockFile, name == torrcFile,
			strings.HasPrefix(name, tmpPrefix): // left by a crash in writeFileAtomic
			stale = append(stale, name)
		default:
			return fmt.Errorf("testnet: %s is not empty and does not hold a testnet network (found %q): choose an empty or new directory", dir, e.Name())
		}
	}
	pids, err := livePIDs(dir)
	if err != nil {
		return err
	}
	if len(pids) > 0 {
		return fmt.Errorf("%w: %s (tor PIDs %v); stop it first (sotto net down %s)", ErrRunning, dir, pids, dir)
	}
	for _, f := range stale {
		if f == lockFile {
			continue // held by Up right now
		}
		if err := os.RemoveAll(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("testnet: %w", err)
		}
	}
	return nil
}

// tailLog returns the last warning or error lines of a node's logs, for error
// messages. Tor's logs hold no secrets of ours (SafeLogging is on).
func tailLog(nd *node) string {
	var lines []string
	for _, f := range []string{nodeStdout, nodeLog} {
		b, err := readFileLimit(filepath.Join(nd.dir, f), 1<<20)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "[err]") || strings.Contains(l, "[warn]") {
				lines = append(lines, strings.TrimSpace(l))
			}
		}
	}
	// Drop tor's routine warnings about running a test network as root.
	var keep []string
	for _, l := range lines {
		if strings.Contains(l, "running Tor as root") || strings.Contains(l, "ContactInfo") ||
			strings.Contains(l, "DirAuthority or AlternateDirAuthority") || strings.Contains(l, "TestingTorNetwork is set") {
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) > 3 {
		keep = keep[len(keep)-3:]
	}
	if len(keep) == 0 {
		return "no warning in its log"
	}
	return strings.Join(keep, " | ")
}
