//go:build linux

// Package grater runs Sotto through the real onion-grater, the control-port
// filter of Whonix and Tails, with the profile shipped beside this file
// (issue 17). onion-grater's source is vendored, pinned, under testdata/
// (see testdata/README.md); its Python modules come from Debian (make deps).
//
// One private Tor network on loopback serves the package. A network
// namespace plays the Whonix-Gateway (a tor on the private network,
// onion-grater, and a Sotto on the gateway itself: onion-grater's "local"
// client, as on Tails), another the Workstation (a Sotto that reaches the
// gateway over a veth link at Whonix's addresses). A third Sotto, on the
// host with its own tor, is their contact.
//
// The test needs root (namespaces, mounts); it skips, saying so, without.
package grater

import (
	"bufio"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sottochat/sotto/internal/e2e"
	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/onion/testnet"
)

var (
	tn      *testnet.Network
	harness *e2e.Sotto
)

// Bounds that only stop a hang: the test waits for events.
const (
	readyWithin   = 3 * time.Minute
	deliverWithin = 2 * time.Minute
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() || os.Geteuid() != 0 {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "sog-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	bin, err := e2e.Build(dir, "../../cmd/sotto")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := testnet.Main(m, func(n *testnet.Network) {
		tn = n
		netFile := filepath.Join(dir, "network.torrc")
		if err := os.WriteFile(netFile, []byte(n.ClientTorrc()), 0o600); err != nil {
			panic(err)
		}
		harness = &e2e.Sotto{Bin: bin, Network: netFile, Debug: true}
	})
	os.RemoveAll(dir)
	os.Exit(code)
}

// need skips without root (clearly) and fails when a tool make deps
// installs is missing.
func need(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test over a private Tor network: skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces (ip netns) and mount namespaces for onion-grater; CI runs as root")
	}
	for _, tool := range []string{"ip", "unshare", "nsenter", "tor", "/usr/bin/python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: run 'make deps' (as root)", tool)
		}
	}
	// find_spec, not import: importing stem and psutil takes seconds.
	if out, err := exec.Command("/usr/bin/python3", "-c", "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in ('stem', 'psutil', 'yaml')))").CombinedOutput(); err != nil {
		t.Fatalf("onion-grater's Python modules are missing (python3-stem, python3-psutil, python3-yaml): run 'make deps'\n%s", out)
	}
}

// TestOnionGrater: a Whonix-Workstation's Sotto and a Sotto on the gateway
// itself talk with a contact over the private network through the real
// onion-grater with the shipped profile: nothing is filtered and no key
// reaches its log; the 10 KiB line limit holds at Sotto's cap; a restarted
// gateway tor is noticed and every identity is published again by itself.
func TestOnionGrater(t *testing.T) {
	need(t)
	began := time.Now()
	phase := func(what string) { t.Logf("%6.1fs %s", time.Since(began).Seconds(), what) }

	// Profiles, meanwhile: alice on the host; ws on the Workstation; gw on
	// the Gateway (onion-grater's local client).
	names := []string{"alice", "ws", "gw"}
	ps := map[string]*e2e.Profile{}
	for _, n := range names {
		ps[n] = harness.NewProfile(t, n)
	}
	profiles := make(chan error, 1)
	go func() { profiles <- makeProfiles(ps) }()

	g := newGateway(t)
	phase("gateway up: tor started, onion-grater listening")
	merged, err := os.ReadFile(g.mergedFile)
	if err != nil || !strings.Contains(string(merged), "onions/current") {
		t.Fatalf("onion-grater-merger did not merge Sotto's profile (%v):\n%s", err, merged)
	}
	if err := <-profiles; err != nil {
		t.Fatal(err)
	}
	phase("profiles made")

	nodes := map[string]*e2e.Node{}
	e2e.DumpOnFailure(t, nodes)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- onion-grater log (last 40 lines):\n%s", g.logTail(40))
		}
	})
	nodes["alice"] = ps["alice"].Headless()
	nodes["ws"] = ps["ws"].Headless(append([]string{"ip", "netns", "exec", g.ws.name, "env"}, workstationEnv()...)...)
	nodes["gw"] = g.localSotto(t, ps["gw"])
	// An identity each, named as its profile; alice and each of the
	// others add each other's code.
	codes := map[string]string{}
	for _, n := range names {
		nodes[n].Do(time.Minute, map[string]any{"cmd": "new_identity", "identity": n})
		codes[n] = fmt.Sprint(nodes[n].Do(time.Minute, map[string]any{"cmd": "card", "identity": n})["contact_code"])
	}
	for _, n := range []string{"ws", "gw"} {
		nodes["alice"].Do(time.Minute, map[string]any{"cmd": "add_contact", "identity": "alice", "contact": n, "code": codes[n]})
		nodes[n].Do(time.Minute, map[string]any{"cmd": "add_contact", "identity": n, "contact": "alice", "code": codes["alice"]})
	}
	t.Cleanup(func() {
		// Side by side: each quit takes seconds (tor's shutdown).
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Add(1)
			go func() { defer wg.Done(); n.Stop() }()
		}
		wg.Wait()
	})
	for _, n := range names {
		nodes[n].WaitFor(0, readyWithin, "ready", e2e.Is(map[string]any{"event": "ready", "identity": n}))
	}
	phase("all three online")

	// The Workstation's service listens where its firewall is opened.
	if out, err := exec.Command("ip", "netns", "exec", g.ws.name, "ss", "-Htln").CombinedOutput(); err != nil || !strings.Contains(string(out), workstationIP+":41000") {
		t.Fatalf("the Workstation's service does not listen on %s:41000 (SOTTO_SERVICE_LISTEN):\n%s %v", workstationIP, out, err)
	}

	exchange(t, nodes, "before")
	phase("messages exchanged")

	// Both clients matched Sotto's profile, and it filtered nothing.
	log := g.log()
	for _, who := range []string{workstationIP + ":", "/usr/local/bin/sotto (pid:"} {
		if !strings.Contains(log, who) || !strings.Contains(log, "loaded filter: 30_autogenerated") {
			t.Fatalf("onion-grater did not load the merged profile for %q:\n%s", who, g.logTail(30))
		}
	}
	checkGraterLog(t, g)

	// Both have alice as a contact and share the gateway's tor, which
	// keeps one client-auth key per onion: the second to register says so.
	shared := func() int {
		n := 0
		for _, w := range []string{"ws", "gw"} {
			n += nodes[w].Count(0, e2e.Is(map[string]any{"event": "error", "code": "client_auth_shared"}))
		}
		return n
	}
	if shared() == 0 {
		t.Fatal("neither Sotto said that the gateway's tor holds another client-auth key for alice")
	}

	t.Run("10KiB", func(t *testing.T) { testLineLimit(t, g) })
	phase("10 KiB case done")

	t.Log("== the gateway's tor restarts; onion-grater keeps the clients' connections")
	marks := map[string]int{"ws": nodes["ws"].Mark(), "gw": nodes["gw"].Mark()}
	g.stopTor()
	g.startTor(t)
	g.waitBootstrap(t, 2, readyWithin)
	for _, n := range []string{"ws", "gw"} {
		nodes[n].WaitFor(marks[n], readyWithin, "tor restarted", e2e.Is(map[string]any{"event": "tor", "summary": "restarted"}))
	}
	phase("restart noticed")
	exchange(t, nodes, "after the restart")
	checkGraterLog(t, g)
	phase("messages exchanged after the restart")
}

// makeProfiles creates the profiles (sotto init, one vault key derivation
// each, side by side). It reports the first failure instead of failing the
// test: it runs beside the gateway's set-up.
func makeProfiles(ps map[string]*e2e.Profile) error {
	errs := make(chan error, len(ps))
	for _, p := range ps {
		go func() {
			if code, _, stderr := p.Run("init"); code != 0 {
				errs <- fmt.Errorf("%s: sotto init: exit %d\n%s", p.Name, code, stderr)
				return
			}
			errs <- nil
		}()
	}
	var first error
	for range ps {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// exchange sends a message each way between alice and each of ws and gw
// and waits until each is delivered and shown.
func exchange(t *testing.T, nodes map[string]*e2e.Node, when string) {
	t.Helper()
	type sent struct{ from, to, id, text string }
	var all []sent
	for _, n := range []string{"ws", "gw"} {
		for _, pair := range [][2]string{{"alice", n}, {n, "alice"}} {
			text := fmt.Sprintf("%s to %s, %s", pair[0], pair[1], when)
			r := nodes[pair[0]].Do(time.Minute, map[string]any{"cmd": "send", "identity": pair[0], "contact": pair[1], "text": text})
			all = append(all, sent{pair[0], pair[1], fmt.Sprint(r["message"]), text})
		}
	}
	for _, s := range all {
		m, _ := nodes[s.to].WaitFor(0, deliverWithin, "message from "+s.from+" "+when,
			e2e.Is(map[string]any{"event": "message", "identity": s.to, "contact": s.from, "message": s.id}))
		if m["text"] != s.text {
			t.Fatalf("%s got %q, want %q", s.to, m["text"], s.text)
		}
		nodes[s.from].WaitFor(0, deliverWithin, "delivered to "+s.to+" "+when,
			e2e.Is(map[string]any{"event": "delivered", "identity": s.from, "contact": s.to, "message": s.id}))
	}
}

// checkGraterLog: onion-grater refused nothing Sotto sent, and (without
// --debug) its log holds no key: no ADD_ONION key, no client-auth key.
func checkGraterLog(t *testing.T, g *gateway) {
	t.Helper()
	log := g.log()
	for _, l := range strings.Split(log, "\n") {
		// testLineLimit's own GETINFO is the one line it may refuse.
		if _, cmd, ok := strings.Cut(l, "command filtered: "); ok && !strings.HasPrefix(cmd, "GETINFO xxxxxxxx") {
			t.Fatalf("onion-grater filtered a command of Sotto's: %.200s", cmd)
		}
	}
	for _, secret := range []string{"ED25519-V3:", "x25519:", "ClientAuthV3="} {
		if strings.Contains(log, secret) {
			t.Fatalf("onion-grater's log holds %q", secret)
		}
	}
}

// localSotto starts a Sotto on the Gateway itself, as onion-grater's local
// client: installed at /usr/local/bin/sotto (a tmpfs on /usr/local/bin in
// a mount namespace of its own), so that onion-grater matches it by the
// profile's apparmor-profiles and users. On a kernel without an LSM that
// answers /proc/PID/attr/current, onion-grater would fail on reading it;
// there the test shows onion-grater, in its own mount namespace, what
// AppArmor says of an unconfined process ("unconfined"), before Sotto
// starts (the wrapper waits on a FIFO and then execs Sotto: same PID).
func (g *gateway) localSotto(t *testing.T, p *e2e.Profile) *e2e.Node {
	t.Helper()
	fifo := filepath.Join(g.dir, "go-"+p.Name)
	if err := exec.Command("mkfifo", fifo).Run(); err != nil {
		t.Fatal(err)
	}
	script := `mount -t tmpfs tmpfs /usr/local/bin && cp "$1" /usr/local/bin/sotto && shift && read go < ` + fifo +
		` && exec env TOR_SKIP_LAUNCH=1 TOR_CONTROL_PORT=` + graterPort + ` TOR_SOCKS_PORT=` + socksPort + ` /usr/local/bin/sotto "$@"`
	n := p.Headless("ip", "netns", "exec", g.gw.name, "unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh")
	pid := n.PID(false)
	if needsFakeLSM() {
		fake := filepath.Join(g.dir, "unconfined")
		if err := os.WriteFile(fake, []byte("unconfined\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("nsenter", "-t", fmt.Sprint(g.grater.pid()), "-m", "mount", "--bind", fake, fmt.Sprintf("/proc/%d/attr/current", pid)).CombinedOutput()
		if err != nil {
			t.Fatalf("showing onion-grater an unconfined AppArmor label: %v\n%s", err, out)
		}
	}
	// Opening the FIFO for writing waits for the wrapper to open it for
	// reading (a FIFO keeps no data once both ends are closed).
	opened := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			_, err = io.WriteString(f, "go\n")
			f.Close()
		}
		opened <- err
	}()
	select {
	case err := <-opened:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("the wrapper of %s did not open its FIFO; stderr:\n%s", p.Name, n.Stderr())
	}
	return n
}

// testLineLimit: onion-grater passes a control line of onion.MaxCommandLine
// bytes and drops one byte more without a reply (so Sotto's cap is its
// limit, not a guess), and an identity with onion.MaxClientAuth contacts,
// the longest ADD_ONION Sotto sends, is published through it: tor uploads
// its descriptor. One contact more is refused before anything is sent.
func testLineLimit(t *testing.T, g *gateway) {
	// A Workstation's connection to onion-grater, carried to the host.
	ctlLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	forward(t, ctlLn, func() (net.Conn, error) {
		var c net.Conn
		err := inNS(g.ws, func() (err error) {
			c, err = net.DialTimeout("tcp", gatewayIP+":"+graterPort, 10*time.Second)
			return err
		})
		return c, err
	})

	for _, n := range []int{onion.MaxCommandLine, onion.MaxCommandLine + 1} {
		c, err := net.Dial("tcp", ctlLn.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		r := bufio.NewReader(c)
		fmt.Fprintf(c, "PROTOCOLINFO 1\r\n")
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("PROTOCOLINFO: %v", err)
			}
			if strings.HasPrefix(l, "250 ") {
				break
			}
		}
		fmt.Fprintf(c, "GETINFO %s\r\n", strings.Repeat("x", n-len("GETINFO ")))
		l, err := r.ReadString('\n')
		switch {
		case n <= onion.MaxCommandLine && (err != nil || !strings.HasPrefix(l, "5")):
			t.Errorf("a line of %d bytes got no answer (%v): onion-grater's limit is lower than onion.MaxCommandLine", n, err)
		case n > onion.MaxCommandLine && !errors.Is(err, io.EOF):
			t.Errorf("a line of %d bytes got %q (%v): onion-grater's limit is higher than onion.MaxCommandLine", n, l, err)
		}
		c.Close()
	}

	ext, err := onion.ExternalFromEnv(func(k string) string {
		return map[string]string{"TOR_SKIP_LAUNCH": "1", "TOR_CONTROL_PORT": fmt.Sprint(ctlLn.Addr().(*net.TCPAddr).Port), "TOR_SOCKS_PORT": "9"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan onion.Event, 256)
	ctx, cancel := context.WithTimeout(context.Background(), readyWithin)
	defer cancel()
	tor, err := onion.Start(ctx, onion.Config{External: ext, Events: func(e onion.Event) {
		select {
		case events <- e:
		default:
		}
	}})
	if err != nil {
		t.Fatalf("through onion-grater: %v", err)
	}
	defer tor.Close()
	keys := make([][32]byte, onion.MaxClientAuth)
	for i := range keys {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		copy(keys[i][:], k.PublicKey().Bytes())
	}
	seed := [32]byte{42, 17}
	key := func(use func(*[32]byte) error) error { k := seed; return use(&k) }
	if _, err := tor.Publish(ctx, onion.ServiceConfig{Key: key, ClientAuth: append(keys, keys[0])}); !errors.Is(err, onion.ErrTooManyClients) {
		t.Fatalf("%d contacts: %v", onion.MaxClientAuth+1, err)
	}
	s, err := tor.Publish(ctx, onion.ServiceConfig{Key: key, ClientAuth: keys, PoW: true, MaxStreams: 65535})
	if err != nil {
		t.Fatalf("publishing with %d contacts through onion-grater: %v", onion.MaxClientAuth, err)
	}
	for {
		select {
		case e := <-events:
			if e.Kind == onion.ServiceOnline && e.Service == s.Addr() {
				return
			}
		case <-ctx.Done():
			t.Fatalf("the descriptor of the service with %d contacts was not uploaded", onion.MaxClientAuth)
		}
	}
}
