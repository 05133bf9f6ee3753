package onion

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestCheckTorVersion(t *testing.T) {
	cases := []struct {
		in   string
		want error
	}{
		{"0.4.9.11 (git-0123456789abcdef)", nil},
		{"0.4.9.12", nil},
		{"0.4.10.1-alpha", nil},
		{"0.5.0.0", nil},
		{"1.0.0", nil},
		{"0.4.9.10", ErrTorTooOld},
		{"0.4.9.11-rc", ErrTorTooOld},
		{"0.4.8.17", ErrTorTooOld},
		{"0.3.5.8", ErrTorTooOld},
		{"", ErrControl},
		{"banana", ErrControl},
		{"0.4.x.1", ErrControl},
		{"0.4.9.+1", ErrControl},
	}
	for _, c := range cases {
		err := checkTorVersion(c.in)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("checkTorVersion(%q) = %v, want %v", c.in, err, c.want)
		}
	}
	if err := checkTorVersion("0.4.8.1"); !strings.Contains(err.Error(), "0.4.9.11") {
		t.Errorf("too-old message does not say what is needed: %v", err)
	}
}

func testPlan(t *testing.T, cfg Config) *launchPlan {
	t.Helper()
	p, err := newLaunchPlan(&cfg, 4242)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTorrc(t *testing.T) {
	p := testPlan(t, Config{DataDir: "/tmp/sotto-x/tor"})
	rc := string(p.torrc())
	for _, want := range []string{
		`DataDirectory "/tmp/sotto-x/tor"`,
		`ControlSocket unix:"/tmp/sotto-x/tor/c.sock"`,
		"ControlPort 0",
		"CookieAuthentication 1",
		`SocksPort unix:"/tmp/sotto-x/tor/s.sock" OnionTrafficOnly ExtendedErrors IsolateSOCKSAuth`,
		"ClientOnly 1", "AvoidDiskWrites 1", "SafeLogging 1", "DisableNetwork 1",
		"__OwningControllerProcess 4242",
		"Log err stdout",
	} {
		if !strings.Contains(rc, want+"\n") {
			t.Errorf("torrc lacks %q:\n%s", want, rc)
		}
	}
	for _, never := range []string{"HiddenService", "UseBridges", "tor.log"} {
		if strings.Contains(rc, never) {
			t.Errorf("torrc contains %q", never)
		}
	}

	// A long data directory falls back to loopback ports chosen by tor.
	long := "/tmp/" + strings.Repeat("d", 120)
	rc = string(testPlan(t, Config{DataDir: long, Debug: true}).torrc())
	for _, want := range []string{"ControlPort 127.0.0.1:auto", "ControlPortWriteToFile", "SocksPort 127.0.0.1:auto OnionTrafficOnly ExtendedErrors IsolateSOCKSAuth", "Log notice file"} {
		if !strings.Contains(rc, want) {
			t.Errorf("long-path torrc lacks %q", want)
		}
	}
	// A data directory with a quote stays one torrc token.
	rc = string(testPlan(t, Config{DataDir: `/tmp/a "b`}).torrc())
	if !strings.Contains(rc, `DataDirectory "/tmp/a \"b"`) {
		t.Errorf("quoting:\n%s", rc)
	}
	if _, err := newLaunchPlan(&Config{DataDir: "/tmp/a\nHiddenServiceDir /x"}, 1); !errors.Is(err, ErrBadConfig) {
		t.Errorf("newline in data dir: %v", err)
	}
}

func TestTorrcBridges(t *testing.T) {
	line := "obfs4 127.0.0.1:4433 0123456789ABCDEF0123456789ABCDEF01234567 cert=abc+/def iat-mode=0"
	rc := string(testPlan(t, Config{DataDir: "/tmp/x", Bridges: []string{"Bridge " + line}}).torrc())
	for _, want := range []string{"UseBridges 1", "ClientTransportPlugin obfs4 exec /usr/bin/obfs4proxy", "Bridge " + line} {
		if !strings.Contains(rc, want+"\n") {
			t.Errorf("torrc lacks %q", want)
		}
	}
	// A pasted line with its newline (and stray spaces) is taken, trimmed:
	// the torrc gets the clean line and nothing after it.
	rc = string(testPlan(t, Config{DataDir: "/tmp/x", Bridges: []string{"  Bridge " + line + " \r\n"}}).torrc())
	if !strings.Contains(rc, "\nBridge "+line+"\n") || strings.Contains(rc, "\r") || strings.Contains(rc, line+" ") {
		t.Errorf("pasted bridge line not trimmed to one clean torrc line:\n%s", rc)
	}
	for name, bad := range map[string]string{
		"newline":   line + "\nControlPort 9051",
		"hostname":  "obfs4 bridge.example:443 FP cert=x iat-mode=0",
		"transport": "meek 127.0.0.1:1 FP url=https://x",
		"port":      "127.0.0.1:99999",
		"empty":     "Bridge ",
		"short":     "obfs4 127.0.0.1:1",
	} {
		if _, err := newLaunchPlan(&Config{DataDir: "/tmp/x", Bridges: []string{bad}}, 1); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: bridge accepted: %v", name, err)
		}
	}
}

func TestNetworkFragment(t *testing.T) {
	good := "# private\nTestingTorNetwork 1\nDirAuthority a orport=5001 no-v2 v3ident=AB 127.0.0.1:7001 FP\nPathsNeededToBuildCircuits 0.67\nTestingDirAuthVoteHSDir *\n"
	got, err := checkNetworkFragment(good)
	if err != nil || !strings.Contains(got, "DirAuthority a") || strings.Contains(got, "#") {
		t.Fatalf("good fragment: %q, %v", got, err)
	}
	for name, bad := range map[string]string{
		"hsdir":     "TestingTorNetwork 1\nHiddenServiceDir /tmp/x\n",
		"control":   "ControlPort 9051\n",
		"socks":     "SocksPort 9050\n",
		"plugin":    "ClientTransportPlugin x exec /bin/sh\n",
		"log":       "Log debug file /tmp/log\n",
		"datadir":   "DataDirectory /\n",
		"continued": "DirAuthority a \\\n b\n",
		"nul":       "TestingTorNetwork 1\x00\n",
		"huge":      strings.Repeat("#", maxNetworkFragment+1),
	} {
		if _, err := checkNetworkFragment(bad); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: accepted: %v", name, err)
		}
	}
}

func TestBuildAddOnion(t *testing.T) {
	var key [64]byte
	for i := range key {
		key[i] = byte(i)
	}
	kb := base64.StdEncoding.EncodeToString(key[:])
	cmd, err := buildAddOnion(&key, addOnionArgs{target: "unix:/d/svc.sock", maxStreams: 32})
	if err != nil {
		t.Fatal(err)
	}
	want := "ADD_ONION ED25519-V3:" + kb + " Flags=DiscardPK,MaxStreamsCloseCircuit MaxStreams=32 Port=443,unix:/d/svc.sock"
	if string(cmd) != want {
		t.Fatalf("got  %s\nwant %s", cmd, want)
	}
	cmd, err = buildAddOnion(&key, addOnionArgs{target: "127.0.0.1:5555", maxStreams: 8, pow: true, clientAuth: [][32]byte{{9}, {2}}})
	if err != nil {
		t.Fatal(err)
	}
	want = "ADD_ONION ED25519-V3:" + kb + " Flags=DiscardPK,MaxStreamsCloseCircuit,V3Auth MaxStreams=8 PoWDefensesEnabled=1 PoWQueueRate=250 PoWQueueBurst=2500 Port=443,127.0.0.1:5555" +
		" ClientAuthV3=" + clientAuthB32.EncodeToString([]byte{9, 31: 0}) + " ClientAuthV3=" + clientAuthB32.EncodeToString([]byte{2, 31: 0})
	if string(cmd) != want {
		t.Fatalf("got  %s\nwant %s", cmd, want)
	}
	for _, bad := range []string{"unix:/a b", "x\r\nDEL_ONION y", "a%s", "", "a\x00"} {
		if _, err := buildAddOnion(&key, addOnionArgs{target: bad, maxStreams: 1}); !errors.Is(err, ErrBadConfig) {
			t.Errorf("target %q accepted", bad)
		}
	}
	if _, err := buildAddOnion(&key, addOnionArgs{target: "1.2.3.4:5", maxStreams: 0}); !errors.Is(err, ErrBadConfig) {
		t.Error("MaxStreams 0 accepted")
	}
}

func TestBuildClientAuthAdd(t *testing.T) {
	priv := [32]byte{7}
	cmd, err := buildClientAuthAdd(vectorAddress, &priv)
	if err != nil {
		t.Fatal(err)
	}
	want := "ONION_CLIENT_AUTH_ADD " + vectorAddress + " x25519:" + base64.StdEncoding.EncodeToString(priv[:])
	if string(cmd) != want {
		t.Fatalf("got %s", cmd)
	}
	if bytes.Contains(cmd, []byte("Permanent")) {
		t.Fatal("Permanent flag")
	}
	if _, err := buildClientAuthAdd("a\r\nTAKEOWNERSHIP", &priv); !errors.Is(err, ErrBadConfig) {
		t.Fatal("CRLF accepted")
	}
}

func TestExpandKey(t *testing.T) {
	// tor derives the same public key from the expanded key as Go does
	// from the seed: checked end to end by TestAddressVector's vector
	// (tor's ServiceID), here only the clamping.
	seed := vectorSeed()
	var ek [64]byte
	expandKey(&seed, &ek)
	if ek[0]&7 != 0 || ek[31]&128 != 0 || ek[31]&64 == 0 {
		t.Fatalf("not clamped: %x", ek[:32])
	}
}

func TestExternalFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	e, err := ExternalFromEnv(env(nil))
	if e != nil || err != nil {
		t.Fatalf("no TOR_SKIP_LAUNCH: %v %v", e, err)
	}
	e, err = ExternalFromEnv(env(map[string]string{"TOR_SKIP_LAUNCH": "1"}))
	if err != nil || e.ControlNetwork != "tcp" || e.ControlAddress != "127.0.0.1:9051" || e.SocksAddress != "127.0.0.1:9050" {
		t.Fatalf("defaults: %+v %v", e, err)
	}
	e, err = ExternalFromEnv(env(map[string]string{
		"TOR_SKIP_LAUNCH": "1", "TOR_CONTROL_SOCKET": "/run/tor/control", "TOR_CONTROL_PASSWD": `"se cret"`,
		"TOR_CONTROL_COOKIE_AUTH_FILE": "/run/tor/control.authcookie", "TOR_SOCKS_HOST": "10.152.152.10", "TOR_SOCKS_PORT": "9150",
	}))
	if err != nil || e.ControlNetwork != "unix" || e.ControlAddress != "/run/tor/control" || string(e.Password) != "se cret" ||
		e.CookieFile != "/run/tor/control.authcookie" || e.SocksAddress != "10.152.152.10:9150" {
		t.Fatalf("full: %+v %v", e, err)
	}
	e, err = ExternalFromEnv(env(map[string]string{"TOR_SKIP_LAUNCH": "1", "TOR_CONTROL_HOST": "::1", "TOR_CONTROL_PORT": "9151", "TOR_SOCKS_IPC_PATH": "unix:/run/s"}))
	if err != nil || e.ControlAddress != "[::1]:9151" || e.SocksNetwork != "unix" || e.SocksAddress != "/run/s" {
		t.Fatalf("ipv6/ipc: %+v %v", e, err)
	}
	for name, m := range map[string]map[string]string{
		"hostname":   {"TOR_SKIP_LAUNCH": "1", "TOR_CONTROL_HOST": "localhost"},
		"socks name": {"TOR_SKIP_LAUNCH": "1", "TOR_SOCKS_HOST": "gateway.local"},
		"port":       {"TOR_SKIP_LAUNCH": "1", "TOR_CONTROL_PORT": "70000"},
		"port text":  {"TOR_SKIP_LAUNCH": "1", "TOR_SOCKS_PORT": "x"},
		"skip":       {"TOR_SKIP_LAUNCH": "yes"},
		"relative":   {"TOR_SKIP_LAUNCH": "1", "TOR_CONTROL_SOCKET": "control"},
		"newline":    {"TOR_SKIP_LAUNCH": "1", "TOR_CONTROL_COOKIE_AUTH_FILE": "/a\n/b"},
		"zone":       {"TOR_SKIP_LAUNCH": "1", "TOR_CONTROL_HOST": "fe80::1%eth0"},
	} {
		if _, err := ExternalFromEnv(env(m)); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: accepted: %v", name, err)
		}
	}
}

// fakeControl serves one control connection of a tor that says it is
// version (NULL authentication).
func fakeControl(t *testing.T, version string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch strings.TrimSpace(l) {
			case "PROTOCOLINFO 1":
				io.WriteString(c, "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor=\""+version+"\"\r\n250 OK\r\n")
			case "GETINFO version":
				io.WriteString(c, "250-version="+version+"\r\n250 OK\r\n")
			default:
				io.WriteString(c, "250 OK\r\n")
			}
		}
	}()
	return ln.Addr().String()
}

func TestStartRefusesOldTor(t *testing.T) {
	addr := fakeControl(t, "0.4.8.17")
	ext := &External{ControlNetwork: "tcp", ControlAddress: addr, SocksNetwork: "tcp", SocksAddress: "127.0.0.1:9"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Start(ctx, Config{External: ext})
	if !errors.Is(err, ErrTorTooOld) || !strings.Contains(err.Error(), "0.4.8.17") || !strings.Contains(err.Error(), MinTorVersion) {
		t.Fatalf("Start against tor 0.4.8.17: %v", err)
	}
}

func TestConfigCheck(t *testing.T) {
	good := Config{DataDir: "/tmp/p/tor", Network: "TestingTorNetwork 1\n", Bridges: []string{"obfs4 10.0.0.1:443 0123456789ABCDEF0123456789ABCDEF01234567 cert=x iat-mode=0"}}
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{
		"no data dir": {},
		"network":     {DataDir: "/tmp/p", Network: "HiddenServiceDir /tmp/x\n"},
		"bridge":      {DataDir: "/tmp/p", Bridges: []string{"obfs4 example.com:443 FP cert=x"}},
		"external":    {External: &External{ControlNetwork: "tcp", ControlAddress: "localhost:9051", SocksNetwork: "tcp", SocksAddress: "127.0.0.1:9050"}},
	} {
		if err := c.Check(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestScrubReply(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 64))
	got := scrubReply("Invalid v3 address \"" + vectorAddress + "\" key " + key + "\x1b[31m")
	if strings.Contains(got, vectorAddress) || strings.Contains(got, key[:40]) || strings.Contains(got, "\x1b") {
		t.Fatalf("scrubReply left secrets or escapes: %q", got)
	}
	if !strings.Contains(got, "eip6l5…") {
		t.Fatalf("scrubReply lost the abbreviation: %q", got)
	}
}
