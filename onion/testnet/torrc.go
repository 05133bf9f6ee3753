package testnet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// role is what a node does in the network.
type role int

const (
	authority role = iota // directory authority, also a relay
	relay                 // middle relay, never an exit
	bridge                // obfs4 bridge, not in the consensus
)

// node is one tor process of the network.
type node struct {
	name    string // directory name: a0, r0, b0
	nick    string // tor nickname
	role    role
	dir     string // DataDirectory, under DIR/nodes
	addr    string // address it binds to and advertises
	orPort  int
	dirPort int    // authorities only
	ptPort  int    // bridge: obfs4 listener
	extPort int    // bridge: ExtORPort
	fp      string // relay identity fingerprint (authorities), 40 hex digits
	v3ident string // authority signing identity (authorities), 40 hex digits
	proc    *proc
}

func planNodes(o Options, root string) []*node {
	var nodes []*node
	add := func(r role, prefix string, i int) {
		name := fmt.Sprintf("%s%d", prefix, i)
		nodes = append(nodes, &node{
			name: name, nick: "stn" + strings.ToUpper(name), role: r,
			dir: filepath.Join(root, nodesDir, name), addr: o.Listen,
		})
	}
	for i := 0; i < o.Authorities; i++ {
		add(authority, "a", i)
	}
	for i := 0; i < o.Relays; i++ {
		add(relay, "r", i)
	}
	if o.Bridge {
		add(bridge, "b", 0)
	}
	return nodes
}

// pickPorts gives every node free TCP ports on addr. All listeners stay open
// until every port is chosen, so that no port is handed out twice; another
// process may still take one before tor binds it, which tor then reports
// ("Could not bind") and Start returns as an error.
func pickPorts(addr string, nodes []*node) error {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	next := func() (int, error) {
		l, err := net.Listen("tcp4", net.JoinHostPort(addr, "0"))
		if err != nil {
			return 0, fmt.Errorf("testnet: cannot listen on %s: %w (is it an address of this machine?)", addr, err)
		}
		ls = append(ls, l)
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	for _, nd := range nodes {
		var err error
		if nd.orPort, err = next(); err != nil {
			return err
		}
		switch nd.role {
		case authority:
			if nd.dirPort, err = next(); err != nil {
				return err
			}
		case bridge:
			if nd.ptPort, err = next(); err != nil {
				return err
			}
			if nd.extPort, err = next(); err != nil {
				return err
			}
		}
	}
	return nil
}

// makeKeys creates every node's directory and, in parallel for every
// authority, its v3 authority keys (tor-gencert, valid 12 months) and its
// relay identity key (tor --list-fingerprint), whose fingerprints go into the
// DirAuthority lines.
func makeKeys(ctx context.Context, t tools, nodes []*node) error {
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, nd := range nodes {
		if err := os.MkdirAll(filepath.Join(nd.dir, "keys"), 0o700); err != nil {
			return fmt.Errorf("testnet: %w", err)
		}
		if nd.role != authority {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = authorityKeys(ctx, t, nd)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("testnet: generating keys: %w", err)
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func authorityKeys(ctx context.Context, t tools, nd *node) error {
	keys := filepath.Join(nd.dir, "keys")
	// An empty passphrase on stdin: tor-gencert encrypts the identity key
	// with it; the key never leaves this test network.
	gen := exec.CommandContext(ctx, t.gencert, "--create-identity-key", "-m", "12",
		"-a", net.JoinHostPort(nd.addr, strconv.Itoa(nd.dirPort)), "--passphrase-fd", "0")
	gen.Dir = keys
	gen.Stdin = bytes.NewReader(nil)
	if out, err := gen.CombinedOutput(); err != nil {
		return fmt.Errorf("testnet: tor-gencert for %s: %v: %s", nd.name, err, firstLine(out))
	}
	cert, err := readFileLimit(filepath.Join(keys, "authority_certificate"), 1<<16)
	if err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	if nd.v3ident, err = certFingerprint(cert); err != nil {
		return fmt.Errorf("testnet: %s: %w", nd.name, err)
	}

	empty := filepath.Join(nd.dir, nodeDefault)
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	lf := exec.CommandContext(ctx, t.tor, "--list-fingerprint",
		"--defaults-torrc", empty, "-f", empty,
		"--DataDirectory", nd.dir, "--Nickname", nd.nick, "--ORPort", "1",
		// A placeholder authority: tor wants one to accept the relay setup.
		"--DirAuthority", "placeholder 127.0.0.1:1 ffffffffffffffffffffffffffffffffffffffff",
		"--Log", "err stderr")
	if out, err := lf.CombinedOutput(); err != nil {
		return fmt.Errorf("testnet: tor --list-fingerprint for %s: %v: %s", nd.name, err, firstLine(out))
	}
	fpFile, err := readFileLimit(filepath.Join(nd.dir, "fingerprint"), 1<<10)
	if err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	if nd.fp, err = relayFingerprint(fpFile); err != nil {
		return fmt.Errorf("testnet: %s: %w", nd.name, err)
	}
	return nil
}

// dirAuthorityLines returns one DirAuthority line per authority.
func dirAuthorityLines(nodes []*node) string {
	var b strings.Builder
	for _, nd := range nodes {
		if nd.role != authority {
			continue
		}
		fmt.Fprintf(&b, "DirAuthority %s orport=%d no-v2 v3ident=%s %s:%d %s\n",
			nd.nick, nd.orPort, nd.v3ident, nd.addr, nd.dirPort, nd.fp)
	}
	return b.String()
}

func clientTorrc(nodes []*node) string {
	return "# Joins a private Tor network made by sotto's onion/testnet.\n" +
		"TestingTorNetwork 1\n" +
		dirAuthorityLines(nodes) +
		// Five relays: 0.67 of paths is reached as soon as the consensus is
		// in, where the default (0.6 of the real network's weights) may wait.
		"PathsNeededToBuildCircuits 0.67\n" +
		// KIST adds ~10 ms per hop on loopback; Vanilla makes round trips ~1 ms.
		"Schedulers Vanilla\n" +
		"ClientUseIPv6 0\n"
}

// writeNodeTorrc writes the torrc of one node. Every setting is explained in
// doc.go.
func writeNodeTorrc(nd *node, nodes []*node, t tools) error {
	addr := nd.addr
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# %s of a private Tor network made by sotto's onion/testnet.", nd.nick)
	w("TestingTorNetwork 1")
	w("DataDirectory %s", nd.dir)
	w("Nickname %s", nd.nick)
	w("Log notice file %s", filepath.Join(nd.dir, nodeLog))
	w("SafeLogging 1")
	w("RunAsDaemon 0")
	w("SocksPort 0")
	w("Address %s", addr)
	w("AddressDisableIPv6 1")
	w("ORPort %s:%d", addr, nd.orPort)
	w("AssumeReachable 1")
	w("PathsNeededToBuildCircuits 0.67")
	w("ShutdownWaitLength 0")
	w("ExitRelay 0")
	w("ExitPolicy reject *:*")
	w("Schedulers Vanilla")
	w("ContactInfo sotto-testnet")
	b.WriteString(dirAuthorityLines(nodes))
	switch nd.role {
	case authority:
		w("AuthoritativeDirectory 1")
		w("V3AuthoritativeDirectory 1")
		w("DirPort %s:%d", addr, nd.dirPort)
		w("V3AuthVotingInterval 10")
		w("V3AuthVoteDelay 2")
		w("V3AuthDistDelay 2")
		w("TestingV3AuthInitialVotingInterval 10")
		w("TestingV3AuthInitialVoteDelay 2")
		w("TestingV3AuthInitialDistDelay 2")
		w("V3AuthNIntervalsValid 2")
		w("TestingDirAuthVoteGuard *")
		w("TestingDirAuthVoteHSDir *")
		w("TestingMinFastFlagThreshold 0")
		w("AuthDirFastGuarantee 1")
		w("AuthDirVoteStableGuaranteeMinUptime 0")
		w("AuthDirVoteStableGuaranteeMTBF 0")
	case bridge:
		w("BridgeRelay 1")
		w("PublishServerDescriptor 0")
		w("BridgeDistribution none")
		w("ServerTransportPlugin obfs4 exec %s", t.obfs4proxy)
		w("ServerTransportListenAddr obfs4 %s:%d", addr, nd.ptPort)
		w("ExtORPort %s:%d", addr, nd.extPort)
	}
	if err := os.WriteFile(filepath.Join(nd.dir, nodeTorrc), []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	if err := os.WriteFile(filepath.Join(nd.dir, nodeDefault), nil, 0o600); err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	return nil
}

// certFingerprint returns the "fingerprint" line of an authority certificate.
func certFingerprint(cert []byte) (string, error) {
	for _, l := range strings.Split(string(cert), "\n") {
		if f, ok := strings.CutPrefix(l, "fingerprint "); ok {
			f = strings.TrimSpace(f)
			if !isHex40(f) {
				break
			}
			return strings.ToUpper(f), nil
		}
	}
	return "", fmt.Errorf("authority certificate has no valid fingerprint line")
}

// relayFingerprint parses tor's "fingerprint" file: "NICK HEX HEX ...".
func relayFingerprint(b []byte) (string, error) {
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	_, fp, ok := strings.Cut(line, " ")
	fp = strings.ReplaceAll(fp, " ", "")
	if !ok || !isHex40(fp) {
		return "", fmt.Errorf("tor's fingerprint file is malformed")
	}
	return strings.ToUpper(fp), nil
}

func isHex40(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		s = s[i+1:] // the last line says what went wrong
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// readFileLimit reads a file of at most limit bytes.
func readFileLimit(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}
