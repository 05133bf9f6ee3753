package onion

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sottochat/sotto/onion/socks"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// systemTor is a tor the test runs the way a system would (control port
// with cookie auth and a SOCKS port on loopback), for external mode.
type systemTor struct {
	t   *testing.T
	rc  string
	dir string
	cmd *exec.Cmd
	env map[string]string // what a user would set
}

func startSystemTor(t *testing.T) *systemTor {
	t.Helper()
	needNetwork(t)
	dir := profileDir(t)
	ctlPort, socksPort := freePort(t), freePort(t)
	torrc := tn.ClientTorrc() + fmt.Sprintf(
		"DataDirectory %s\nControlPort 127.0.0.1:%d\nCookieAuthentication 1\nSocksPort 127.0.0.1:%d ExtendedErrors\nLog notice file %s\n",
		dir, ctlPort, socksPort, filepath.Join(dir, "notice.log"))
	st := &systemTor{t: t, dir: dir, rc: filepath.Join(dir, "torrc")}
	if err := os.WriteFile(st.rc, []byte(torrc), 0o600); err != nil {
		t.Fatal(err)
	}
	st.start()
	t.Cleanup(st.stop)
	st.env = map[string]string{
		"TOR_SKIP_LAUNCH":              "1",
		"TOR_CONTROL_HOST":             "127.0.0.1",
		"TOR_CONTROL_PORT":             strconv.Itoa(ctlPort),
		"TOR_CONTROL_COOKIE_AUTH_FILE": filepath.Join(dir, "control_auth_cookie"),
		"TOR_SOCKS_HOST":               "127.0.0.1",
		"TOR_SOCKS_PORT":               strconv.Itoa(socksPort),
	}
	return st
}

func (st *systemTor) start() {
	st.t.Helper()
	cookie := filepath.Join(st.dir, "control_auth_cookie")
	os.Remove(cookie)
	st.cmd = exec.Command("tor", "-f", st.rc, "--defaults-torrc", os.DevNull)
	if err := st.cmd.Start(); err != nil {
		st.t.Fatal(err)
	}
	// tor writes the cookie once the control port is open.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(cookie); err == nil && len(b) == 32 {
			return
		}
		if time.Now().After(deadline) {
			st.t.Fatal("system tor did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (st *systemTor) stop() {
	if st.cmd != nil {
		st.cmd.Process.Kill()
		st.cmd.Wait()
		st.cmd = nil
	}
}

func TestExternalMode(t *testing.T) {
	t.Parallel()
	env := startSystemTor(t).env
	ext, err := ExternalFromEnv(func(k string) string { return env[k] })
	if err != nil || ext == nil {
		t.Fatalf("ExternalFromEnv: %v, %v", ext, err)
	}
	base := freePort(t)
	ext.ServicePortBase = base
	torE, _, _ := launch(t, func(c *Config) { c.External = ext; c.DataDir = "" })
	torL, _, _ := launch(t, nil)
	se := publish(t, torE, ServiceConfig{Key: newSecret(t).keyFunc(), Open: true})
	sl := publish(t, torL, ServiceConfig{Key: newSecret(t).keyFunc(), Open: true})
	serveEcho(se)
	serveEcho(sl)
	if p := se.ln.Addr().(*net.TCPAddr).Port; p < base || p >= base+servicePortRange {
		t.Errorf("service listens on port %d, not in %d..+%d", p, base, servicePortRange)
	}
	exchange(t, torL, sl.Addr(), se.Addr(), "to the external tor's service").Close()
	exchange(t, torE, se.Addr(), sl.Addr(), "from the external tor").Close()

	// Close withdraws the service from the external tor, which keeps running.
	addr := se.Addr()
	if err := torE.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := dialCtrl(context.Background(), ctrlEndpoint{network: "tcp", address: ext.ControlAddress, cookieFile: ext.CookieFile})
	if err != nil {
		t.Fatalf("external tor gone after Close: %v", err)
	}
	defer c.close()
	v, err := c.getinfo(context.Background(), "onions/detached")
	if err == nil && strings.Contains(v, addr) {
		t.Fatal("service left behind in the external tor")
	}
}

func TestBridge(t *testing.T) {
	t.Parallel()
	needNetwork(t)
	line := tn.BridgeLine()
	if line == "" {
		t.Fatal("the test network has no bridge")
	}
	fp := strings.Fields(line)[2]
	torBr, _, _ := launch(t, func(c *Config) { c.Bridges = []string{line} })
	torP, _, _ := launch(t, nil)
	sb := publish(t, torBr, ServiceConfig{Key: newSecret(t).keyFunc(), Open: true})
	sp := publish(t, torP, ServiceConfig{Key: newSecret(t).keyFunc(), Open: true})
	serveEcho(sb)
	serveEcho(sp)
	exchange(t, torBr, sb.Addr(), sp.Addr(), "through the bridge").Close()
	exchange(t, torP, sp.Addr(), sb.Addr(), "to a service behind the bridge").Close()

	// Every circuit the bridged tor built starts at the bridge.
	g, err := torBr.current()
	if err != nil {
		t.Fatal(err)
	}
	v, err := g.c.getinfo(context.Background(), "circuit-status")
	if err != nil {
		t.Fatal(err)
	}
	built := 0
	for _, l := range strings.Split(v, "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || f[1] != "BUILT" {
			continue
		}
		built++
		first := strings.TrimPrefix(strings.Split(strings.Split(f[2], ",")[0], "~")[0], "$")
		if !strings.EqualFold(first, fp) {
			t.Errorf("circuit %s starts at %s, not at the bridge %s", f[0], first, fp)
		}
	}
	if built == 0 {
		t.Fatal("no built circuits to check")
	}
}

func TestKillRestart(t *testing.T) {
	t.Parallel()
	torA, logA, _ := launch(t, nil)
	torB, _, dirB := launch(t, func(c *Config) { c.Debug = true })
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dirB, "tor", debugLogName))
			t.Logf("dialing tor's log:\n%s", b[max(0, len(b)-6000):])
		}
	})
	// Both services restricted, each side holding the other's client-auth
	// key: after the restart A must re-publish with its client list and
	// re-register its client-auth key for B.
	authA, authB := newSecret(t), newSecret(t)
	sa := publish(t, torA, ServiceConfig{Key: newSecret(t).keyFunc(), ClientAuth: [][32]byte{authB.x25519Pub(t)}})
	sb := publish(t, torB, ServiceConfig{Key: newSecret(t).keyFunc(), ClientAuth: [][32]byte{authA.x25519Pub(t)}})
	serveEcho(sa)
	serveEcho(sb)
	ctx := context.Background()
	if err := torA.AddClientAuth(ctx, sb.Addr(), authA.keyFunc()); err != nil {
		t.Fatal(err)
	}
	if err := torB.AddClientAuth(ctx, sa.Addr(), authB.keyFunc()); err != nil {
		t.Fatal(err)
	}
	exchange(t, torB, sb.Addr(), sa.Addr(), "before").Close()

	pid := torA.pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	died := logA.waitFor(t, 10*time.Second, "Died", func(e Event) bool { return e.Kind == Died })
	if !errors.Is(died.Err, ErrTorUnavailable) {
		t.Errorf("Died event error: %v", died.Err)
	}
	restarted, ready, online := false, false, false
	logA.waitFor(t, 90*time.Second, "Restarted, Ready and ServiceOnline", func(e Event) bool {
		switch {
		case e.Kind == Restarted:
			restarted = true
		case e.Kind == Ready && !restarted:
			t.Errorf("Ready before Restarted")
		case e.Kind == Ready:
			ready = true
		case e.Kind == ServiceOnline && e.Service == sa.Addr():
			online = true
		}
		return restarted && ready && online
	})
	if torA.pid() == pid || torA.pid() == 0 {
		t.Fatal("no new tor process after restart")
	}
	if err := torA.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	// B has A's old descriptor cached; its tor finds the new introduction
	// points through the same Dial.
	exchange(t, torB, sb.Addr(), sa.Addr(), "after").Close()
	exchange(t, torA, sa.Addr(), sb.Addr(), "from the restarted tor").Close()
}

// TestKeyNeverOnDisk publishes a restricted service and uses client
// authorization with tor's notice log on, then searches every file under
// both profiles and the network's logs for the keys, raw and encoded.
func TestKeyNeverOnDisk(t *testing.T) {
	t.Parallel()
	torS, _, dirS := launch(t, func(c *Config) { c.Debug = true })
	torC, _, dirC := launch(t, func(c *Config) { c.Debug = true })
	id, auth := newSecret(t), newSecret(t)
	s := publish(t, torS, ServiceConfig{Key: id.keyFunc(), ClientAuth: [][32]byte{auth.x25519Pub(t)}, PoW: true})
	serveEcho(s)
	if err := torC.AddClientAuth(context.Background(), s.Addr(), auth.keyFunc()); err != nil {
		t.Fatal(err)
	}
	exchange(t, torC, "c", s.Addr(), "secret-free").Close()
	torS.Close()
	torC.Close()

	var ek [64]byte
	expandKey(&id.b, &ek)
	h := sha512.Sum512(id.b[:])
	needles := map[string][]byte{}
	for name, k := range map[string][]byte{"seed": id.b[:], "expanded key": ek[:], "unclamped hash": h[:], "scalar": ek[:32], "client-auth key": auth.b[:]} {
		needles[name+" raw"] = k
		needles[name+" base64"] = []byte(base64.StdEncoding.EncodeToString(k))
		needles[name+" base64 raw"] = []byte(base64.RawStdEncoding.EncodeToString(k))
		needles[name+" base32"] = []byte(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(k))
		needles[name+" hex"] = []byte(hex.EncodeToString(k))
	}
	files := 0
	for _, root := range []string{dirS, dirC, tn.LogDir()} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			files++
			for name, n := range needles {
				if bytes.Contains(b, n) || bytes.Contains(bytes.ToLower(b), bytes.ToLower(n)) && !strings.HasSuffix(name, "raw") {
					t.Errorf("%s found in %s", name, path)
				}
			}
			return nil
		})
	}
	if files < 10 {
		t.Fatalf("searched only %d files", files)
	}
	// The debug log exists and was written (so the search covered it).
	if fi, err := os.Stat(filepath.Join(dirS, "tor", debugLogName)); err != nil || fi.Size() == 0 {
		t.Fatalf("no debug log to search: %v", err)
	}
	t.Logf("searched %d files for %d encodings of the keys", files, len(needles))
}

// TestLaunchedTorrcOnDisk checks the launched tor's torrc and data
// directory, that tor's output is captured (never our stdout), and tor's own
// view of its configuration.
func TestLaunchedTorrcOnDisk(t *testing.T) {
	t.Parallel()
	tor, _, dir := launch(t, nil)
	b, err := os.ReadFile(filepath.Join(dir, "tor", torrcName))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("HiddenServiceDir")) || bytes.Contains(b, []byte("Log notice")) {
		t.Fatalf("torrc:\n%s", b)
	}
	fi, err := os.Stat(filepath.Join(dir, "tor"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode %v, %v", fi.Mode(), err)
	}
	g, _ := tor.current()
	if g.proc.Stdout == os.Stdout || g.proc.Stderr == os.Stderr || g.proc.Stdout == nil {
		t.Fatal("tor's output is not captured")
	}
	// Tor's own view: the owning controller and the SOCKS flags.
	v, err := g.c.getinfo(context.Background(), "config-text")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"OnionTrafficOnly", "ExtendedErrors", "ClientOnly 1", "AvoidDiskWrites 1"} {
		if !strings.Contains(v, want) {
			t.Errorf("tor's config lacks %q", want)
		}
	}
	// SafeLogging 1 is tor's default, which config-text leaves out.
	rep, err := g.c.do(context.Background(), []byte("GETCONF SafeLogging"))
	if err != nil || rep.Lines[0].Text != "SafeLogging=1" {
		t.Errorf("GETCONF SafeLogging: %+v, %v", rep, err)
	}
	// Tor itself refuses anything but an onion on our SOCKS port
	// (OnionTrafficOnly): a host name and an IP address are both refused.
	for _, host := range []string{"example.com", "127.0.0.1"} {
		c, err := net.Dial(g.socksNet, g.socksAddr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		err = socks.Connect(c, []byte("u"), []byte("p"), host, 80)
		c.Close()
		var re *socks.ReplyError
		if !errors.As(err, &re) {
			t.Errorf("SOCKS CONNECT %s: %v, want a refusal from tor", host, err)
		}
	}
	sc := bufio.NewScanner(strings.NewReader(v))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "HiddenService") {
			t.Errorf("tor config has %q", sc.Text())
		}
	}
}

// BenchmarkLaunchToBootstrap measures Start to 100 % bootstrap of a
// launched tor joining the test network (TESTNET.md: a client joins in ~3 s
// once the network is settled).
func BenchmarkLaunchToBootstrap(b *testing.B) {
	needNetwork(b)
	for i := 0; i < b.N; i++ {
		dir := profileDir(b)
		ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
		tor, err := Start(ctx, Config{DataDir: filepath.Join(dir, "tor"), Network: tn.ClientTorrc()})
		if err != nil {
			b.Fatal(err)
		}
		if err := tor.WaitReady(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
		b.StopTimer()
		tor.Close()
		b.StartTimer()
	}
}

// BenchmarkPublishToFirstInbound measures Publish of a fresh identity to
// the first inbound stream from another tor. "after-online": the peer dials
// once the descriptor is uploaded (TESTNET.md raw figure for ADD_ONION to
// first echo: 1.4 s). "at-once": the peer dials right after Publish, so
// its first attempts find no descriptor and Dial's retry backoff (1 s, 2 s;
// sized for the real network) adds to the time.
func BenchmarkPublishToFirstInbound(b *testing.B) {
	torA, _, _ := launch(b, nil)
	torB, _, _ := launch(b, nil)
	for _, mode := range []string{"after-online", "at-once"} {
		b.Run(mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
				s, err := torA.Publish(ctx, ServiceConfig{Key: newSecret(b).keyFunc(), Open: true})
				if err != nil {
					b.Fatal(err)
				}
				accepted := make(chan error, 1)
				go func() {
					c, err := s.Accept()
					if err == nil {
						c.Close()
					}
					accepted <- err
				}()
				if mode == "after-online" {
					for !s.Online() {
						time.Sleep(5 * time.Millisecond)
					}
				}
				c, err := torB.Dial(ctx, "b", s.Addr())
				if err != nil {
					b.Fatal(err)
				}
				if err := <-accepted; err != nil {
					b.Fatal(err)
				}
				cancel()
				b.StopTimer()
				c.Close()
				s.Close()
				b.StartTimer()
			}
		})
	}
}

// TestCloseLeavesNothing runs before the parallel tests resume (it is not
// parallel): a Tor that published, dialed and accepted leaves no goroutine,
// no tor process and no socket file behind after Close.
func TestCloseLeavesNothing(t *testing.T) {
	needNetwork(t)
	before := runtime.NumGoroutine()
	dir := profileDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tor, err := Start(ctx, Config{DataDir: filepath.Join(dir, "tor"), Network: tn.ClientTorrc()})
	if err != nil {
		t.Fatal(err)
	}
	if err := tor.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := tor.Publish(ctx, ServiceConfig{Key: newSecret(t).keyFunc(), Open: true})
	if err != nil {
		t.Fatal(err)
	}
	serveEcho(s)
	exchange(t, tor, "self", s.Addr(), "loop").Close()
	pid := tor.pid()
	if err := tor.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("tor %d still running after Close", pid)
	}
	socks, _ := filepath.Glob(filepath.Join(dir, "tor", serviceSocketPrefix+"*"))
	if len(socks) != 0 {
		t.Errorf("service sockets left: %v", socks)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := tor.Publish(ctx, ServiceConfig{Key: newSecret(t).keyFunc()}); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if _, err := tor.Dial(ctx, "self", s.Addr()); !errors.Is(err, ErrClosed) {
		t.Errorf("Dial after Close: %v", err)
	}
}

// TestExternalPasswordAuth attaches to a tor (network disabled: no
// bootstrap needed) that wants HASHEDPASSWORD authentication and also
// offers a cookie this process cannot read (issue 17: the cookie always won),
// with TOR_CONTROL_PASSWD as Tor Browser passes it: quoted with tor's
// escapes, or hex.
func TestExternalPasswordAuth(t *testing.T) {
	t.Parallel()
	const password = `pa"ss\w rd`
	out, err := exec.Command("tor", "--quiet", "--hash-password", password).Output()
	if err != nil {
		t.Skipf("tor --hash-password: %v", err)
	}
	hash := strings.TrimSpace(string(out))
	dir := profileDir(t)
	ctlPort := freePort(t)
	rc := filepath.Join(dir, "torrc")
	cookie := filepath.Join(dir, "control_auth_cookie")
	os.WriteFile(rc, []byte(fmt.Sprintf("DataDirectory %s\nControlPort 127.0.0.1:%d\nHashedControlPassword %s\nCookieAuthentication 1\nCookieAuthFile %s\nSocksPort 0\nDisableNetwork 1\nLog err stdout\n", dir, ctlPort, hash, cookie)), 0o600)
	cmd := exec.Command("tor", "-f", rc, "--defaults-torrc", os.DevNull)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The cookie tor offers is gone once tor has written it: unreadable.
	for {
		if _, err := os.Stat(cookie); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("tor wrote no cookie")
		}
		time.Sleep(50 * time.Millisecond) // polling for a file tor writes
	}
	os.Remove(cookie)
	start := func(passwd string) (*Tor, error) {
		env := map[string]string{"TOR_SKIP_LAUNCH": "true", "TOR_CONTROL_PORT": strconv.Itoa(ctlPort), "TOR_CONTROL_PASSWD": passwd, "TOR_SOCKS_PORT": "9"}
		ext, err := ExternalFromEnv(func(k string) string { return env[k] })
		if err != nil {
			return nil, err
		}
		for {
			tor, err := Start(ctx, Config{External: ext})
			if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "cannot reach") {
				return tor, err
			}
			time.Sleep(50 * time.Millisecond) // tor is still opening its control port
		}
	}
	for _, passwd := range []string{`"pa\"ss\\w rd"`, hex.EncodeToString([]byte(password))} {
		tor, err := start(passwd)
		if err != nil {
			t.Fatalf("Start with TOR_CONTROL_PASSWD=%s: %v", passwd, err)
		}
		// Publishing works without network: tor accepts the service at once.
		s, err := tor.Publish(ctx, ServiceConfig{Key: newSecret(t).keyFunc(), Open: true})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		tor.Close()
	}

	if _, err := start(`"wrong"`); !errors.Is(err, ErrTorUnavailable) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := start(""); !errors.Is(err, ErrTorUnavailable) || !strings.Contains(err.Error(), "TOR_CONTROL_PASSWD") {
		t.Fatalf("no password: %v", err)
	}
}

// TestExternalReconnect: the system tor Sotto attaches to is restarted
// (as by a package upgrade); Sotto notices, reconnects with backoff and
// publishes its service again.
func TestExternalReconnect(t *testing.T) {
	t.Parallel()
	st := startSystemTor(t)
	ext, err := ExternalFromEnv(func(k string) string { return st.env[k] })
	if err != nil {
		t.Fatal(err)
	}
	torE, logE, _ := launch(t, func(c *Config) { c.External = ext; c.DataDir = "" })
	torL, _, _ := launch(t, nil)
	se := publish(t, torE, ServiceConfig{Key: newSecret(t).keyFunc(), Open: true})
	serveEcho(se)
	exchange(t, torL, "l", se.Addr(), "before").Close()

	st.stop()
	logE.waitFor(t, 10*time.Second, "Died", func(e Event) bool { return e.Kind == Died })
	if _, err := torE.Dial(context.Background(), "e", se.Addr()); !errors.Is(err, ErrTorUnavailable) {
		t.Fatalf("Dial while tor is down: %v, want ErrTorUnavailable", err)
	}
	st.start()
	restarted, online := false, false
	logE.waitFor(t, 90*time.Second, "Restarted and ServiceOnline", func(e Event) bool {
		restarted = restarted || e.Kind == Restarted
		online = online || e.Kind == ServiceOnline && e.Service == se.Addr()
		return restarted && online
	})
	exchange(t, torL, "l", se.Addr(), "after").Close()
}

// BenchmarkRedial measures a Dial to a contact whose descriptor tor has
// cached, with a fresh circuit each time (a new identity per iteration, so
// SOCKS isolation forces a new rendezvous), up to the first echoed byte
// (TESTNET.md raw figure: re-dial with the descriptor cached 0.16-0.24 s),
// for a restricted service and for an open one with proof-of-work on.
func BenchmarkRedial(b *testing.B) {
	torA, _, _ := launch(b, nil)
	torB, _, _ := launch(b, nil)
	auth := newSecret(b)
	for _, mode := range []string{"restricted", "open-pow"} {
		b.Run(mode, func(b *testing.B) {
			sc := ServiceConfig{Key: newSecret(b).keyFunc(), ClientAuth: [][32]byte{auth.x25519Pub(b)}}
			if mode == "open-pow" {
				sc = ServiceConfig{Key: newSecret(b).keyFunc(), Open: true}
			}
			s := publish(b, torA, sc)
			serveEcho(s)
			if mode == "restricted" {
				if err := torB.AddClientAuth(context.Background(), s.Addr(), auth.keyFunc()); err != nil {
					b.Fatal(err)
				}
			}
			exchange(b, torB, "warm-up", s.Addr(), "x").Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				exchange(b, torB, mode+strconv.Itoa(i), s.Addr(), "x").Close()
			}
		})
	}
}

// TestNetworkUp: tor reports NetworkUp with its bootstrap, and again when it
// builds circuits after its network was disabled (as Tails and Whonix do,
// and as a machine that slept or lost its network looks to tor): the sign
// Sotto dials its contacts on (docs/PROTOCOL.md, "Dialling").
func TestNetworkUp(t *testing.T) {
	t.Parallel()
	tor, log, _ := launch(t, nil)
	log.waitFor(t, 30*time.Second, "NetworkUp with the bootstrap", func(e Event) bool { return e.Kind == NetworkUp })
	g, err := tor.current()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := g.c.do(ctx, []byte("SETCONF DisableNetwork=1")); err != nil {
		t.Fatal(err)
	}
	// No NetworkUp while tor has no network.
	quiet := time.After(3 * time.Second)
	for waiting := true; waiting; {
		select {
		case e := <-log.ch:
			if e.Kind == NetworkUp {
				t.Fatal("NetworkUp while the network is disabled")
			}
		case <-quiet:
			waiting = false
		}
	}
	if _, err := g.c.do(ctx, []byte("SETCONF DisableNetwork=0")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	log.waitFor(t, 90*time.Second, "NetworkUp after the network came back", func(e Event) bool { return e.Kind == NetworkUp })
	t.Logf("NetworkUp %v after DisableNetwork=0", time.Since(start).Round(time.Millisecond))
}
