package testnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sampleConsensus = `network-status-version 3
vote-status consensus
consensus-method 35
valid-after 2026-11-22 02:29:50
fresh-until 2026-11-22 02:30:00
r stnA0 PXtU64GK/96dAuw9wKTFNYAV+Wc abc 2026-11-22 02:29:41 127.0.0.1 42637 37171
s Authority Fast Guard HSDir Running Stable V2Dir Valid
r stnR0 PXtU64GK/96dAuw9wKTFNYAV+Wd abd 2026-11-22 02:29:41 127.0.0.1 42638 0
s Fast Guard HSDir Running V2Dir Valid
r stnR1 PXtU64GK/96dAuw9wKTFNYAV+We abe 2026-11-22 02:29:41 127.0.0.1 42639 0
s Fast Guard HSDir Running Stable V2Dir Valid
directory-footer
bandwidth-weights Wbd=0
`

func TestParseConsensus(t *testing.T) {
	c, err := parseConsensus([]byte(sampleConsensus))
	if err != nil {
		t.Fatal(err)
	}
	want := consensus{ValidAfter: "2026-11-22 02:29:50", Routers: 3, Usable: 2}
	if c != want {
		t.Fatalf("parseConsensus = %+v, want %+v", c, want)
	}
	bad := map[string]string{
		"empty":           "",
		"not a consensus": "HTTP/1.0 404 Not found\n",
		"a vote":          strings.Replace(sampleConsensus, "vote-status consensus", "vote-status vote", 1),
		"truncated":       sampleConsensus[:strings.Index(sampleConsensus, "directory-footer")],
		"bad valid-after": strings.Replace(sampleConsensus, "2026-11-22 02:29:50", "yesterday", 1),
		"flags first":     strings.Replace(sampleConsensus, "r stnA0", "s Running\nr stnA0", 1),
		"long line":       "network-status-version 3\n" + strings.Repeat("x", 100<<10) + "\n",
	}
	for name, doc := range bad {
		t.Run(name, func(t *testing.T) {
			if c, err := parseConsensus([]byte(doc)); err == nil {
				t.Fatalf("parseConsensus accepted it: %+v", c)
			}
		})
	}
}

const sampleBridgeFile = `# obfs4 torrc client bridge line
#
# This file is an automatically generated bridge line based on
# the current obfs4proxy configuration.  EDITING IT WILL HAVE NO
# EFFECT.
#
# Before distributing this Bridge, edit the placeholder fields
# to contain the actual values:
#  <IP ADDRESS>  - The public IP address of your obfs4 bridge.
#  <PORT>        - The TCP/IP port of your obfs4 bridge.
#  <FINGERPRINT> - The bridge's fingerprint.

Bridge obfs4 <IP ADDRESS>:<PORT> <FINGERPRINT> cert=4XTvPxJvmjAz4sHKV+yF3IWp7DEx6DJ9nKdrDGFVW046Nf9G3POGVDt55kT1gzGITxqSag iat-mode=0
`

func TestBridgeLineParse(t *testing.T) {
	fp := strings.Repeat("AB", 20)
	got, err := bridgeLine([]byte(sampleBridgeFile), "10.0.0.7:4431", fp)
	if err != nil {
		t.Fatal(err)
	}
	want := "obfs4 10.0.0.7:4431 " + fp + " cert=4XTvPxJvmjAz4sHKV+yF3IWp7DEx6DJ9nKdrDGFVW046Nf9G3POGVDt55kT1gzGITxqSag iat-mode=0"
	if got != want {
		t.Fatalf("bridgeLine = %q, want %q", got, want)
	}
	for name, f := range map[string]string{
		"no line":      "# nothing\n",
		"bad cert":     strings.Replace(sampleBridgeFile, "cert=4XTv", "cert=4X\"v", 1),
		"short cert":   "Bridge obfs4 <IP ADDRESS>:<PORT> <FINGERPRINT> cert=abc iat-mode=0\n",
		"bad iat":      strings.Replace(sampleBridgeFile, "iat-mode=0", "iat-mode=9", 1),
		"filled in":    strings.Replace(sampleBridgeFile, "<IP ADDRESS>:<PORT>", "1.2.3.4:5", 1),
		"extra fields": strings.Replace(sampleBridgeFile, "iat-mode=0", "iat-mode=0 x=1", 1),
	} {
		t.Run(name, func(t *testing.T) {
			if l, err := bridgeLine([]byte(f), "10.0.0.7:4431", fp); err == nil {
				t.Fatalf("bridgeLine accepted it: %q", l)
			}
		})
	}
}

func TestFingerprints(t *testing.T) {
	fp, err := relayFingerprint([]byte("stnA0 F7C6 460C 0B35 CC08 B463 03D8 809D 3BA1 57EA 06AE\n"))
	if err != nil || fp != "F7C6460C0B35CC08B46303D8809D3BA157EA06AE" {
		t.Fatalf("relayFingerprint = %q, %v", fp, err)
	}
	for _, bad := range []string{"", "stnA0", "stnA0 F7C6", "stnA0 " + strings.Repeat("G", 40)} {
		if fp, err := relayFingerprint([]byte(bad)); err == nil {
			t.Errorf("relayFingerprint(%q) = %q", bad, fp)
		}
	}
	v, err := certFingerprint([]byte("dir-key-certificate-version 3\nfingerprint 9e8788add8b3ad520f5c5d93ba656229102424cf\n"))
	if err != nil || v != "9E8788ADD8B3AD520F5C5D93BA656229102424CF" {
		t.Fatalf("certFingerprint = %q, %v", v, err)
	}
	if v, err := certFingerprint([]byte("fingerprint 12\n")); err == nil {
		t.Errorf("certFingerprint accepted a short fingerprint: %q", v)
	}
}

func TestParsePIDs(t *testing.T) {
	dir := "/tmp/net"
	good := "123 a0 /tmp/net/nodes/a0/torrc\n456 r12 /tmp/net/nodes/r12/torrc\n789 b0 /tmp/net/nodes/b0/torrc\n"
	ps, err := parsePIDs(good, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || ps[1].pid != 456 || ps[1].name != "r12" || ps[1].torrc != "/tmp/net/nodes/r12/torrc" {
		t.Fatalf("parsePIDs = %+v", ps)
	}
	if ps, err := parsePIDs("", dir); err != nil || len(ps) != 0 {
		t.Fatalf("empty file: %v, %v", ps, err)
	}
	for name, s := range map[string]string{
		"pid 1":          "1 a0 /tmp/net/nodes/a0/torrc\n",
		"negative":       "-5 a0 /tmp/net/nodes/a0/torrc\n",
		"leading zero":   "0123 a0 /tmp/net/nodes/a0/torrc\n",
		"outside dir":    "123 a0 /etc/tor/torrc\n",
		"other node dir": "123 a0 /tmp/net/nodes/a1/torrc\n",
		"dot dot":        "123 a0 /tmp/net/nodes/a0/../../../etc/torrc\n",
		"bad name":       "123 x0 /tmp/net/nodes/x0/torrc\n",
		"fields":         "123 a0\n",
		"spaces":         "123  a0 /tmp/net/nodes/a0/torrc\n",
		"too many":       strings.Repeat("123 a0 /tmp/net/nodes/a0/torrc\n", maxPIDLines+1),
	} {
		t.Run(name, func(t *testing.T) {
			if ps, err := parsePIDs(s, dir); err == nil {
				t.Fatalf("parsePIDs accepted it: %+v", ps)
			}
		})
	}
}

func TestOptionsRefused(t *testing.T) {
	ctx := context.Background()
	for name, o := range map[string]Options{
		"ipv6":           {Listen: "::1"},
		"hostname":       {Listen: "localhost"},
		"unspecified":    {Listen: "0.0.0.0"},
		"too small":      {Authorities: 1, Relays: 1},
		"negative":       {Relays: -1},
		"too many auths": {Authorities: 10},
		"no tor":         {TorPath: "/nonexistent/tor"},
		// Not an address of this machine: no port can be bound there.
		"foreign address": {Listen: "192.0.2.1"},
	} {
		t.Run(name, func(t *testing.T) {
			n, err := Start(ctx, o)
			if err == nil {
				n.Close()
				t.Fatal("Start accepted it")
			}
			if strings.Contains(err.Error(), "logs kept") {
				t.Errorf("Start kept a directory though no tor ran: %v", err)
			}
			t.Log(err)
		})
	}
	if _, err := Start(nil, Options{}); err == nil { //nolint:staticcheck // a nil context must be refused
		t.Fatal("Start accepted a nil context")
	}
}

func TestUpRefusesForeignDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Up(context.Background(), dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("Up on a directory with someone's file: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "notes.txt")); err != nil || string(b) != "mine" {
		t.Fatalf("Up touched the file: %q, %v", b, err)
	}
	if err := Down(context.Background(), dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Down on a directory without a network: %v, want ErrNotRunning", err)
	}
	// A directory named like ours but without our marker is not ours either.
	dir2 := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir2, nodesDir, "keep"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Up(context.Background(), dir2, Options{}); err == nil || !strings.Contains(err.Error(), "not a testnet network") {
		t.Fatalf("Up on a directory with someone's %s/: %v", nodesDir, err)
	}
	if _, err := os.Stat(filepath.Join(dir2, nodesDir, "keep")); err != nil {
		t.Fatalf("Up removed someone's %s/: %v", nodesDir, err)
	}
}

func TestUpFailureCleansUp(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Up(ctx, dir, Options{Listen: "192.0.2.1"}); err == nil {
		Down(ctx, dir)
		t.Fatal("Up on a foreign address succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, torrcFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed Up wrote %s (%v)", torrcFile, err)
	}
}

func TestIsOurTor(t *testing.T) {
	if isOurTor(os.Getpid(), "/x/torrc") {
		t.Error("isOurTor matched the test binary")
	}
	if isOurTor(1, "/x/torrc") || isOurTor(0, "") || isOurTor(-1, "") {
		t.Error("isOurTor matched PID 1, 0 or -1")
	}
	for _, p := range tn.procs() {
		if !isOurTor(p.pid, p.torrc) {
			t.Errorf("isOurTor does not recognise the shared network's %s (PID %d)", p.name, p.pid)
		}
		if isOurTor(p.pid, p.torrc+"x") {
			t.Errorf("isOurTor matched %s with another torrc path", p.name)
		}
	}
}

// fakeNode starts a process whose command line names dir's node torrc, as
// Up's tors do; with ignoreTerm it ignores SIGTERM.
func fakeNode(t *testing.T, dir, name string, ignoreTerm bool) (*exec.Cmd, string) {
	t.Helper()
	torrc := filepath.Join(dir, nodesDir, name, nodeTorrc)
	script := "read x"
	if ignoreTerm {
		script = "trap '' TERM; read x"
	}
	cmd := exec.Command("/bin/sh", "-c", script, "sh", "-f", torrc)
	stdin, err := cmd.StdinPipe() // never written: read blocks
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		stdin.Close()
		<-done
	})
	// Wait until the shell has set its trap (its cmdline is already there).
	time.Sleep(200 * time.Millisecond)
	return cmd, torrc
}

func TestDownEscalatesToSIGKILL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd, torrc := fakeNode(t, dir, "r0", true)
	pids := fmt.Sprintf("%d r0 %s\n", cmd.Process.Pid, torrc)
	if err := os.WriteFile(filepath.Join(dir, pidsFile), []byte(pids), 0o600); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := Down(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < stopGrace {
		t.Errorf("Down returned after %v, before the SIGTERM grace period", d)
	}
	if isOurTor(cmd.Process.Pid, torrc) {
		t.Fatal("the process that ignores SIGTERM survived Down")
	}
}

func TestDownSignalsOnlyItsOwn(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A process of someone else's whose PID is in the file (a reused PID).
	other, _ := fakeNode(t, dir+"-other", "r0", false)
	pids := fmt.Sprintf("%d r0 %s\n", other.Process.Pid, filepath.Join(dir, nodesDir, "r0", nodeTorrc))
	if err := os.WriteFile(filepath.Join(dir, pidsFile), []byte(pids), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Down(context.Background(), dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Down: %v, want ErrNotRunning", err)
	}
	if !isLive(other.Process.Pid) {
		t.Fatal("Down signalled a process that is not its tor")
	}
	// A corrupt PID file is refused, nothing is signalled.
	if err := os.WriteFile(filepath.Join(dir, pidsFile), []byte(fmt.Sprintf("%d r0 /etc/torrc\n", other.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Down(context.Background(), dir); err == nil || errors.Is(err, ErrNotRunning) {
		t.Fatalf("Down with a corrupt PID file: %v", err)
	}
	if err := Up(context.Background(), dir, Options{}); err == nil || !strings.Contains(err.Error(), pidsFile) {
		t.Fatalf("Up with a corrupt PID file: %v", err)
	}
	if !isLive(other.Process.Pid) {
		t.Fatal("a corrupt PID file got a process signalled")
	}
}

type fakeM int

func (m fakeM) Run() int { return int(m) }

// TestMainBookkeeping runs Main's logic over a fake network (a temporary
// directory, no tor): the exit code passes through, the directory goes
// after passing tests and stays, named, after failing ones; a network that
// cannot start fails the run with its error.
func TestMainBookkeeping(t *testing.T) {
	fakeStart := func(dir *string) func(context.Context, Options) (*Network, error) {
		return func(context.Context, Options) (*Network, error) {
			d, err := os.MkdirTemp("", "stn")
			*dir = d
			return &Network{dir: d, ownDir: true}, err
		}
	}
	for _, code := range []int{0, 1} {
		var dir string
		var out strings.Builder
		var got *Network
		if c := runMain(fakeM(code), func(n *Network) { got = n }, fakeStart(&dir), Options{}, &out); c != code {
			t.Fatalf("runMain = %d, want %d (%s)", c, code, out.String())
		}
		if got == nil || got.dir != dir {
			t.Fatalf("setup got %v", got)
		}
		_, err := os.Stat(dir)
		if code == 0 && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("passing tests: directory %s not removed (%v)", dir, err)
		}
		if code != 0 {
			if err != nil || !strings.Contains(out.String(), dir) {
				t.Errorf("failing tests: directory %s not kept and named (%v, %q)", dir, err, out.String())
			}
			os.RemoveAll(dir)
		}
	}
	var out strings.Builder
	failing := func(context.Context, Options) (*Network, error) { return nil, errors.New("boom; tor logs kept in /x") }
	if c := runMain(fakeM(0), nil, failing, Options{}, &out); c == 0 || !strings.Contains(out.String(), "boom; tor logs kept in /x") {
		t.Fatalf("runMain with a failing start = %d, %q", c, out.String())
	}
}
