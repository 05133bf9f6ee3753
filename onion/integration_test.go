package onion

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sottochat/sotto/onion/testnet"
	"github.com/sottochat/sotto/onion/torctl"
)

// tn is the private Tor network every integration test of this package
// shares (3 authorities, 5 relays, an obfs4 bridge).
var tn *testnet.Network

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// -short: unit tests only, no network (integration tests skip).
		os.Exit(m.Run())
	}
	os.Exit(testnet.Main(m, func(n *testnet.Network) { tn = n }))
}

func needNetwork(t testing.TB) {
	t.Helper()
	if tn == nil {
		t.Skip("needs the private Tor network (not started with -short)")
	}
}

// Budgets of the integration tests on the loopback network.
const (
	readyTimeout  = 90 * time.Second
	onlineTimeout = 90 * time.Second
	dialTimeout   = 90 * time.Second
)

// profileDir returns a short directory (unix socket paths must fit in ~100
// bytes; t.TempDir's names are long) removed at the end of the test.
func profileDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "so")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

type eventLog struct {
	mu  sync.Mutex
	evs []Event
	ch  chan Event
}

func newEventLog() *eventLog { return &eventLog{ch: make(chan Event, 1024)} }

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.evs = append(l.evs, e)
	l.mu.Unlock()
	select {
	case l.ch <- e:
	default:
	}
}

// waitFor waits for an event matching pred.
func (l *eventLog) waitFor(t testing.TB, d time.Duration, what string, pred func(Event) bool) Event {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case e := <-l.ch:
			if pred(e) {
				return e
			}
		case <-timer.C:
			t.Fatalf("no %s event within %v", what, d)
		}
	}
}

// launch starts a tor joining the test network and waits for its bootstrap.
func launch(t testing.TB, mod func(*Config)) (*Tor, *eventLog, string) {
	t.Helper()
	needNetwork(t)
	dir := profileDir(t)
	log := newEventLog()
	cfg := Config{DataDir: filepath.Join(dir, "tor"), Network: tn.ClientTorrc(), Events: log.add}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tor, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { tor.Close() })
	if err := tor.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return tor, log, dir
}

// secret is a 32-byte key a test keeps to search for leaks.
type secret struct{ b [32]byte }

func newSecret(t testing.TB) *secret {
	s := &secret{}
	if _, err := rand.Read(s.b[:]); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *secret) keyFunc() KeyFunc {
	return func(use func(*[32]byte) error) error {
		k := s.b
		defer wipe(k[:])
		return use(&k)
	}
}

func (s *secret) x25519Pub(t testing.TB) [32]byte {
	p, err := x25519Public(&s.b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// publish publishes a service and waits until it is online.
func publish(t testing.TB, tor *Tor, sc ServiceConfig) *Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), onlineTimeout)
	defer cancel()
	s, err := tor.Publish(ctx, sc)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	waitOnline(t, s)
	return s
}

func waitOnline(t testing.TB, s *Service) {
	t.Helper()
	deadline := time.Now().Add(onlineTimeout)
	for !s.Online() {
		if time.Now().After(deadline) {
			t.Fatalf("service %s not online after %v", Abbrev(s.Addr()), onlineTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serveEcho answers every inbound stream of s: it reads a line and writes
// back "echo:" + the line.
func serveEcho(s *Service) {
	go func() {
		for {
			c, err := s.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 256)
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				c.Write(append([]byte("echo:"), buf[:n]...))
				io.Copy(io.Discard, c)
			}()
		}
	}()
}

// exchange dials to from the identity from, sends msg and checks the echo.
func exchange(t testing.TB, tor *Tor, from, to, msg string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	c, err := tor.Dial(ctx, from, to)
	if err != nil {
		t.Fatalf("Dial %s -> %s: %v", Abbrev(from), Abbrev(to), err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	want := "echo:" + msg
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("echo: %q, %v", got, err)
	}
	c.SetDeadline(time.Time{})
	return c
}

func TestTwoTorsReachEachOther(t *testing.T) {
	t.Parallel()
	torA, logA, _ := launch(t, nil)
	torB, _, _ := launch(t, nil)
	idA, idB := newSecret(t), newSecret(t)
	authA, authB := newSecret(t), newSecret(t) // client-auth keys: A's to reach B, B's to reach A
	// Each service lets only the other in (restricted discovery).
	sA := publish(t, torA, ServiceConfig{Key: idA.keyFunc(), ClientAuth: [][32]byte{authB.x25519Pub(t)}})
	sB := publish(t, torB, ServiceConfig{Key: idB.keyFunc(), ClientAuth: [][32]byte{authA.x25519Pub(t)}})
	serveEcho(sA)
	serveEcho(sB)
	logA.waitFor(t, time.Second, "ServiceOnline", func(e Event) bool { return e.Kind == ServiceOnline && e.Service == sA.Addr() })
	ctx := context.Background()
	if err := torA.AddClientAuth(ctx, sB.Addr()+".onion", authA.keyFunc()); err != nil {
		t.Fatal(err)
	}
	if err := torB.AddClientAuth(ctx, sA.Addr(), authB.keyFunc()); err != nil {
		t.Fatal(err)
	}
	exchange(t, torA, sA.Addr(), sB.Addr(), "hello from A").Close()
	exchange(t, torB, sB.Addr(), sA.Addr(), "hello from B").Close()
}

// streamCircuits returns the circuit of each of tor's streams to target.
func streamCircuits(t testing.TB, tor *Tor, target string) []string {
	t.Helper()
	g, err := tor.current()
	if err != nil {
		t.Fatal(err)
	}
	v, err := g.c.getinfo(context.Background(), "stream-status")
	if err != nil {
		t.Fatal(err)
	}
	ss, err := torctl.ParseStreamStatus(v)
	if err != nil {
		t.Fatal(err)
	}
	var circs []string
	for _, s := range ss {
		if s.Target == target+".onion:"+strconv.Itoa(VirtualPort) && s.Status == "SUCCEEDED" {
			circs = append(circs, s.Circuit)
		}
	}
	return circs
}

func TestIdentitiesUseDistinctCircuits(t *testing.T) {
	t.Parallel()
	torA, _, _ := launch(t, nil)
	torB, _, _ := launch(t, nil)
	a1 := publish(t, torA, ServiceConfig{Key: newSecret(t).keyFunc(), Open: true})
	a2 := publish(t, torA, ServiceConfig{Key: newSecret(t).keyFunc(), Open: true})
	b := publish(t, torB, ServiceConfig{Key: newSecret(t).keyFunc(), Open: true})
	serveEcho(b)
	c1 := exchange(t, torA, a1.Addr(), b.Addr(), "from a1")
	defer c1.Close()
	c2 := exchange(t, torA, a2.Addr(), b.Addr(), "from a2")
	defer c2.Close()
	c3 := exchange(t, torA, a1.Addr(), b.Addr(), "from a1 again")
	defer c3.Close()
	circs := streamCircuits(t, torA, b.Addr())
	if len(circs) != 3 {
		t.Fatalf("stream-status shows %d streams to the service, want 3: %v", len(circs), circs)
	}
	// Streams are listed in creation order: a1, a2, a1.
	t.Logf("circuits: a1=%s a2=%s a1(again)=%s", circs[0], circs[1], circs[2])
	if circs[0] == circs[1] {
		t.Errorf("identities a1 and a2 share circuit %s", circs[0])
	}
	if circs[0] != circs[2] {
		t.Errorf("the same (identity, contact) pair used two circuits (%s, %s): isolation keys are not stable", circs[0], circs[2])
	}
}

func TestRestrictedDiscovery(t *testing.T) {
	t.Parallel()
	torS, _, _ := launch(t, nil)
	torC, _, _ := launch(t, nil)
	torX, _, _ := launch(t, nil)
	authC, authX, wrong := newSecret(t), newSecret(t), newSecret(t)
	s := publish(t, torS, ServiceConfig{Key: newSecret(t).keyFunc(), ClientAuth: [][32]byte{authC.x25519Pub(t)}})
	serveEcho(s)
	ctx := context.Background()
	if err := torC.AddClientAuth(ctx, s.Addr(), authC.keyFunc()); err != nil {
		t.Fatal(err)
	}
	exchange(t, torC, "c", s.Addr(), "authorised").Close()

	// A restricted identity with no contacts yet is invisible to all.
	lonely := publish(t, torS, ServiceConfig{Key: newSecret(t).keyFunc()})
	lctx, lcancel := context.WithTimeout(ctx, dialTimeout)
	defer lcancel()
	if _, err := torC.Dial(lctx, "c", lonely.Addr()); !errors.Is(err, ErrNeedClientAuth) {
		t.Fatalf("dial to a restricted service without contacts: %v, want ErrNeedClientAuth", err)
	}

	// A stranger who knows the address cannot decrypt the descriptor.
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	_, err := torX.Dial(dctx, "x", s.Addr())
	if !errors.Is(err, ErrNeedClientAuth) {
		t.Fatalf("stranger's dial: %v, want ErrNeedClientAuth", err)
	}
	if strings.Contains(err.Error(), s.Addr()) {
		t.Fatalf("error names the full address: %v", err)
	}
	// A wrong key does not help either.
	if err := torX.AddClientAuth(ctx, s.Addr(), wrong.keyFunc()); err != nil {
		t.Fatal(err)
	}
	_, err = torX.Dial(dctx, "x", s.Addr())
	if !errors.Is(err, ErrBadClientAuth) && !errors.Is(err, ErrNeedClientAuth) {
		t.Fatalf("dial with a wrong key: %v, want ErrBadClientAuth", err)
	}

	// Adding X to the list re-publishes; with the right key X gets in.
	if err := s.SetClientAuth(ctx, [][32]byte{authC.x25519Pub(t), authX.x25519Pub(t)}); err != nil {
		t.Fatal(err)
	}
	waitOnline(t, s)
	if err := torX.AddClientAuth(ctx, s.Addr(), authX.keyFunc()); err != nil {
		t.Fatal(err)
	}
	exchange(t, torX, "x", s.Addr(), "now authorised").Close()
}
