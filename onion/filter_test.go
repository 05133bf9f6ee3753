package onion

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/edwards25519"
)

// The longest ADD_ONION Sotto can build, with MaxClientAuth keys and every
// option at its longest, fits in MaxCommandLine (what onion-grater passes);
// one more key is refused before anything is built (issue 17: the 153rd
// contact made a line onion-grater dropped).
func TestAddOnionFitsTheFilter(t *testing.T) {
	if MaxClientAuth < 100 || MaxClientAuth > 152 {
		t.Fatalf("MaxClientAuth = %d", MaxClientAuth)
	}
	key := [64]byte{1}
	targets := []string{
		"unix:/" + strings.Repeat("p", maxUnixPath-1),
		"[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
		"255.255.255.255:65535",
	}
	for _, target := range targets {
		a := addOnionArgs{target: target, maxStreams: maxMaxStreams, pow: true, clientAuth: validKeys(t, MaxClientAuth)}
		cmd, err := buildAddOnion(&key, a)
		if err != nil {
			t.Fatalf("%d keys, target of %d bytes: %v", MaxClientAuth, len(target), err)
		}
		if len(cmd) > MaxCommandLine {
			t.Fatalf("ADD_ONION of %d bytes > %d", len(cmd), MaxCommandLine)
		}
		if len(cmd)+clientAuthLen <= MaxCommandLine && len(target) == maxTargetLen {
			t.Fatalf("one more key would still fit (%d bytes): MaxClientAuth is not the most", len(cmd))
		}
		a.clientAuth = validKeys(t, MaxClientAuth+1)
		if _, err := buildAddOnion(&key, a); !errors.Is(err, ErrTooManyClients) || !strings.Contains(err.Error(), "at most") {
			t.Fatalf("%d keys: %v", MaxClientAuth+1, err)
		}
	}
	if _, err := buildAddOnion(&key, addOnionArgs{target: "unix:/" + strings.Repeat("p", maxUnixPath), maxStreams: 1}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("a target longer than maxTargetLen was accepted: %v", err)
	}
}

// ctlFake is an external tor's control port (NULL authentication) whose
// answers a test scripts: refuse names commands answered "510 Command
// filtered" (as onion-grater does), onions is what GETINFO onions/current
// lists, authCode answers ONION_CLIENT_AUTH_ADD. It records every line.
type ctlFake struct {
	mu       sync.Mutex
	lines    []string
	refuse   map[string]bool
	onions   map[string]bool
	authCode string
	conns    []net.Conn
	// addFails answers the next ADD_ONION of a service id with its reply
	// (once), as tor refusing that one command.
	addFails map[string]string
	// heard, if set, is called with each line before it is answered.
	heard func(line string)
}

func newCtlFake(t *testing.T) (*ctlFake, *External) {
	t.Helper()
	f := &ctlFake{refuse: map[string]bool{}, onions: map[string]bool{}, authCode: "250 OK", addFails: map[string]string{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, c)
			f.mu.Unlock()
			go f.serve(c)
		}
	}()
	return f, &External{ControlNetwork: "tcp", ControlAddress: ln.Addr().String(), SocksNetwork: "tcp", SocksAddress: "127.0.0.1:9"}
}

func (f *ctlFake) serve(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		l = strings.TrimRight(l, "\r\n")
		if answerAuth(c, l) {
			continue
		}
		f.mu.Lock()
		heard := f.heard
		f.mu.Unlock()
		if heard != nil {
			heard(l)
		}
		f.mu.Lock()
		f.lines = append(f.lines, l)
		cmd, arg, _ := strings.Cut(l, " ")
		var reply string
		switch {
		case f.refuse[cmd]:
			reply = "510 Command filtered\r\n"
		case l == "GETINFO version":
			reply = "250-version=0.4.9.11\r\n250 OK\r\n"
		case l == "GETINFO status/bootstrap-phase":
			reply = "250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY=\"Done\"\r\n250 OK\r\n"
		case l == "GETINFO onions/current":
			var list []string
			for a := range f.onions {
				list = append(list, a)
			}
			if len(list) == 0 {
				reply = "250-onions/current=\r\n250 OK\r\n"
			} else {
				reply = "250+onions/current=\r\n" + strings.Join(list, "\r\n") + "\r\n.\r\n250 OK\r\n"
			}
		case cmd == "ADD_ONION" && f.addFails[serviceIDOf(arg)] != "":
			id := serviceIDOf(arg)
			reply = f.addFails[id] + "\r\n"
			delete(f.addFails, id)
		case cmd == "ADD_ONION":
			id := serviceIDOf(arg)
			f.onions[id] = true
			reply = "250-ServiceID=" + id + "\r\n250 OK\r\n"
		case cmd == "DEL_ONION":
			delete(f.onions, arg)
			reply = "250 OK\r\n"
		case cmd == "ONION_CLIENT_AUTH_ADD":
			reply = f.authCode + "\r\n"
		default:
			reply = "250 OK\r\n"
		}
		f.mu.Unlock()
		io.WriteString(c, reply)
	}
}

// serviceIDOf derives the onion address tor would from ADD_ONION's
// ED25519-V3 expanded key, as tor does (the public key of the scalar).
func serviceIDOf(arg string) string {
	b64key, _, _ := strings.Cut(strings.TrimPrefix(arg, "ED25519-V3:"), " ")
	ek, err := base64.StdEncoding.DecodeString(b64key)
	if err != nil || len(ek) != 64 {
		return "bad"
	}
	sc, err := edwards25519.NewScalar().SetBytesWithClamping(ek[:32])
	if err != nil {
		return "bad"
	}
	return AddressFromPublicKey(new(edwards25519.Point).ScalarBaseMult(sc).Bytes())
}

// event writes an asynchronous event line to every connection.
func (f *ctlFake) event(line string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		io.WriteString(c, line+"\r\n")
	}
}

func (f *ctlFake) setRefuse(cmd string, v bool) {
	f.mu.Lock()
	f.refuse[cmd] = v
	f.mu.Unlock()
}

func (f *ctlFake) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lines...)
}

func startFake(t *testing.T, ext *External, log *eventLog) *Tor {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tor, err := Start(ctx, Config{External: ext, Events: log.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tor.Close() })
	return tor
}

// A filter that refuses ADD_ONION's form sees it only with a throwaway key:
// the identity's key is never sent, and the error says what to install
// (issue 17: a refused line is logged in full).
func TestFilteredAddOnionSendsNoKey(t *testing.T) {
	f, ext := newCtlFake(t)
	f.setRefuse("ADD_ONION", true)
	tor := startFake(t, ext, newEventLog())
	id := newSecret(t)
	var ek [64]byte
	expandKey(&id.b, &ek)
	realKey := base64.StdEncoding.EncodeToString(ek[:])
	_, err := tor.Publish(context.Background(), ServiceConfig{Key: id.keyFunc(), ClientAuth: [][32]byte{{9}}})
	if !errors.Is(err, ErrFiltered) || !strings.Contains(err.Error(), "40_sotto.yml") {
		t.Fatalf("Publish through a filter that refuses ADD_ONION: %v", err)
	}
	adds := 0
	var cmds []string // what was sent, without arguments (keys), to say who sent a second probe
	for _, l := range f.sent() {
		if strings.Contains(l, realKey[:40]) || strings.Contains(l, clientAuthB32.EncodeToString([]byte{9, 31: 0})) {
			t.Fatalf("a real key reached the filter: %.60s…", l)
		}
		if strings.HasPrefix(l, "ADD_ONION ") {
			adds++
		}
		cmd, arg, _ := strings.Cut(l, " ")
		if cmd == "GETINFO" {
			cmd += " " + arg
		}
		cmds = append(cmds, cmd)
	}
	if adds != 1 {
		t.Fatalf("%d ADD_ONION sent, want the one probe; sent %q", adds, cmds)
	}

	f.setRefuse("ADD_ONION", false)
	f.setRefuse("ONION_CLIENT_AUTH_ADD", true)
	contact := AddressFromPublicKey(make([]byte, 32))
	if err := tor.AddClientAuth(context.Background(), contact, newSecret(t).keyFunc()); !errors.Is(err, ErrFiltered) {
		t.Fatalf("AddClientAuth through a filter that refuses it: %v", err)
	}
	for _, l := range f.sent() {
		if strings.HasPrefix(l, "ONION_CLIENT_AUTH_ADD "+contact) {
			t.Fatal("the contact's key was sent through a filter that refuses the command")
		}
	}
}

// Through a filter that passes the form: the probe with a throwaway key,
// its withdrawal, then the real command; the next publication of the same
// form sends no probe.
func TestProbeThenReal(t *testing.T) {
	f, ext := newCtlFake(t)
	tor := startFake(t, ext, newEventLog())
	s, err := tor.Publish(context.Background(), ServiceConfig{Key: newSecret(t).keyFunc(), ClientAuth: validKeys(t, 2)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range f.sent() {
		if strings.HasPrefix(l, "ADD_ONION") || strings.HasPrefix(l, "DEL_ONION") {
			got = append(got, strings.Fields(l)[0]+" "+serviceIDOf(strings.TrimPrefix(l, "ADD_ONION ")))
		}
	}
	if len(got) != 3 || !strings.HasPrefix(got[0], "ADD_ONION") || !strings.HasPrefix(got[1], "DEL_ONION") || got[2] != "ADD_ONION "+s.Addr() {
		t.Fatalf("commands: %q", got)
	}
	if got[0] == got[2] {
		t.Fatal("the probe used the identity's key")
	}
	// Same form again (a new identity with two contacts): no probe.
	before := len(f.sent())
	if _, err := tor.Publish(context.Background(), ServiceConfig{Key: newSecret(t).keyFunc(), ClientAuth: validKeys(t, 2)}); err != nil {
		t.Fatal(err)
	}
	adds := 0
	for _, l := range f.sent()[before:] {
		if strings.HasPrefix(l, "ADD_ONION") {
			adds++
		}
	}
	if adds != 1 {
		t.Fatalf("%d ADD_ONION for a form already probed", adds)
	}
}

// tor answering 251 to a first ONION_CLIENT_AUTH_ADD held another key for
// that onion (another Whonix-Workstation with the same contact): said once,
// and Close leaves that key in tor (issue 17).
func TestClientAuthShared(t *testing.T) {
	f, ext := newCtlFake(t)
	log := newEventLog()
	tor := startFake(t, ext, log)
	contact := AddressFromPublicKey(make([]byte, 32))
	other := AddressFromPublicKey(append(make([]byte, 31), 1))
	f.mu.Lock()
	f.authCode = "251 Client for onion existed and replaced"
	f.mu.Unlock()
	for i := 0; i < 2; i++ {
		if err := tor.AddClientAuth(context.Background(), contact, newSecret(t).keyFunc()); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	f.authCode = "250 OK"
	f.mu.Unlock()
	if err := tor.AddClientAuth(context.Background(), other, newSecret(t).keyFunc()); err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, 5*time.Second, "ClientAuthShared", func(e Event) bool { return e.Kind == ClientAuthShared && e.Onion == contact })
	tor.Close()
	shared := 0
	for _, e := range log.all() {
		if e.Kind == ClientAuthShared {
			shared++
		}
	}
	if shared != 1 {
		t.Fatalf("%d ClientAuthShared events, want 1", shared)
	}
	removed := map[string]bool{}
	for _, l := range f.sent() {
		if a, ok := strings.CutPrefix(l, "ONION_CLIENT_AUTH_REMOVE "); ok {
			removed[a] = true
		}
	}
	if removed[contact] || !removed[other] {
		t.Fatalf("Close removed %v; want %s… kept and %s… removed", removed, contact[:6], other[:6])
	}
}

// A tor behind a filter that keeps our connection restarts: its onions are
// gone. Sotto notices (GETINFO onions/current), says Restarted and publishes
// the service again, with its client authorizations (issue 17).
func TestExternalRestartBehindFilter(t *testing.T) {
	old := externalCheck
	externalCheck = 100 * time.Millisecond
	t.Cleanup(func() { externalCheck = old })
	f, ext := newCtlFake(t)
	log := newEventLog()
	tor := startFake(t, ext, log)
	contact := AddressFromPublicKey(make([]byte, 32))
	if err := tor.AddClientAuth(context.Background(), contact, newSecret(t).keyFunc()); err != nil {
		t.Fatal(err)
	}
	s, err := tor.Publish(context.Background(), ServiceConfig{Key: newSecret(t).keyFunc(), Open: true})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * externalCheck) // several checks find the service: nothing happens
	for _, e := range log.all() {
		if e.Kind == Restarted {
			t.Fatal("Restarted while tor still has the service")
		}
	}
	mark := len(f.sent())
	f.mu.Lock()
	f.onions = map[string]bool{} // tor restarted
	f.mu.Unlock()
	log.waitFor(t, 5*time.Second, "Restarted", func(e Event) bool { return e.Kind == Restarted })
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		back := f.onions[s.Addr()]
		f.mu.Unlock()
		if back {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service was not published again; sent %q", f.sent()[mark:])
		}
		time.Sleep(20 * time.Millisecond) // polling the fake's state
	}
	reauth := false
	for _, l := range f.sent()[mark:] {
		reauth = reauth || strings.HasPrefix(l, "ONION_CLIENT_AUTH_ADD "+contact)
	}
	if !reauth {
		t.Fatal("client authorization not registered again")
	}
	log.waitFor(t, 5*time.Second, "Ready after the restart", func(e Event) bool { return e.Kind == Ready })
}

// A Publish that failed is over: the check of tor's onions (watch), asked
// for while that Publish waits for tor's answer, does not publish the
// service again behind the caller's back (it did, quietly, when Publish let
// go of pubMu before forgetting the service: the identity was then online
// with no Service to accept on it or withdraw it, and through a filter that
// refused ADD_ONION a second probe was sent).
func TestFailedPublishIsNotRetried(t *testing.T) {
	f, ext := newCtlFake(t)
	tor := startFake(t, ext, newEventLog())
	id := newSecret(t)
	addr := AddressFromPublicKey(ed25519.NewKeyFromSeed(id.b[:]).Public().(ed25519.PublicKey))
	f.mu.Lock()
	f.heard = func(l string) {
		if a, ok := strings.CutPrefix(l, "ADD_ONION "); ok && serviceIDOf(a) == addr {
			tor.gen.check() // the watch now waits for this Publish
		}
	}
	f.mu.Unlock()
	const tries = 50 // before the fix about half of them were published again
	for i := 0; i < tries; i++ {
		f.mu.Lock()
		f.addFails[addr] = "551 Failed to add onion"
		f.mu.Unlock()
		if _, err := tor.Publish(context.Background(), ServiceConfig{Key: id.keyFunc(), ClientAuth: validKeys(t, 1)}); !errors.Is(err, ErrControl) {
			t.Fatalf("Publish that tor refused: %v", err)
		}
		// A check that saw the service holds pubMu until it is done.
		tor.pubMu.Lock()
		tor.pubMu.Unlock()
		f.mu.Lock()
		online := f.onions[addr]
		f.mu.Unlock()
		if online {
			t.Fatalf("try %d: the identity was published after Publish failed", i)
		}
	}
	adds := 0
	for _, l := range f.sent() {
		if a, ok := strings.CutPrefix(l, "ADD_ONION "); ok && serviceIDOf(a) == addr {
			adds++
		}
	}
	if adds != tries {
		t.Fatalf("%d ADD_ONION with the identity's key for %d publications", adds, tries)
	}
}

func (l *eventLog) all() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.evs...)
}

// validKeys returns n distinct usable client-auth public keys.
func validKeys(t testing.TB, n int) [][32]byte {
	keys := make([][32]byte, n)
	for i := range keys {
		keys[i] = newSecret(t).x25519Pub(t)
	}
	return keys
}

// An all-zero client-auth key makes tor 0.4.9.11 abort while building the
// descriptor (an assertion in hs_desc_build_authorized_client; found by
// contrib/onion-grater's test, which crashed the gateway's tor with it),
// and a key of small order gives a shared secret of zero: neither is ever
// sent (issue 17's gateway is shared by every Workstation).
func TestClientAuthKeyChecked(t *testing.T) {
	lowOrder := [][32]byte{
		{},  // zero
		{1}, // order 4
		{0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00}, // order 8
	}
	key := [64]byte{1}
	for _, k := range lowOrder {
		if err := CheckClientAuthKey(&k); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%x accepted", k[:4])
		}
		if _, err := buildAddOnion(&key, addOnionArgs{target: "127.0.0.1:1", maxStreams: 1, clientAuth: append(validKeys(t, 1), k)}); !errors.Is(err, ErrBadConfig) {
			t.Errorf("ADD_ONION with %x built", k[:4])
		}
	}
	for _, k := range validKeys(t, 20) {
		if err := CheckClientAuthKey(&k); err != nil {
			t.Fatalf("a real key refused: %v", err)
		}
	}
}

// A bootstrap that goes back (tor restarted behind a filter and the filter
// subscribed us to the new tor's events) makes Sotto check tor's onions at
// once, not at the next periodic check.
func TestBootstrapRegressionChecksAtOnce(t *testing.T) {
	old := externalCheck
	externalCheck = time.Hour
	t.Cleanup(func() { externalCheck = old })
	f, ext := newCtlFake(t)
	log := newEventLog()
	tor := startFake(t, ext, log)
	s, err := tor.Publish(context.Background(), ServiceConfig{Key: newSecret(t).keyFunc(), Open: true})
	if err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, 5*time.Second, "Ready", func(e Event) bool { return e.Kind == Ready })
	f.mu.Lock()
	f.onions = map[string]bool{}
	f.mu.Unlock()
	f.event("650 STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=5 TAG=conn SUMMARY=\"Connecting to a relay\"")
	log.waitFor(t, 5*time.Second, "Restarted", func(e Event) bool { return e.Kind == Restarted })
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		back := f.onions[s.Addr()]
		f.mu.Unlock()
		if back {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the service was not published again after the bootstrap went back")
		}
		time.Sleep(20 * time.Millisecond) // polling the fake's state
	}
}

// Contacts added at once through a filter (a profile starting with many
// contacts): one probe of ONION_CLIENT_AUTH_ADD, not one per caller that
// found the form unprobed before the first probe was done.
func TestConcurrentClientAuthProbesOnce(t *testing.T) {
	f, ext := newCtlFake(t)
	tor := startFake(t, ext, newEventLog())
	contacts := map[string]bool{}
	var wg sync.WaitGroup
	for i := range 8 {
		pub := make([]byte, 32)
		pub[0] = byte(i + 1)
		addr := AddressFromPublicKey(pub)
		contacts[addr] = true
		key := newSecret(t).keyFunc()
		wg.Go(func() {
			if err := tor.AddClientAuth(context.Background(), addr, key); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	probes := 0
	for _, l := range f.sent() {
		if a, ok := strings.CutPrefix(l, "ONION_CLIENT_AUTH_ADD "); ok && !contacts[strings.Fields(a)[0]] {
			probes++
		}
	}
	if probes != 1 {
		t.Fatalf("%d probes of ONION_CLIENT_AUTH_ADD for 8 contacts added at once, want 1", probes)
	}
}

// A service closed while it is being published again (new client keys, a
// restart of tor, the watch finding it missing) stays withdrawn. Close did
// not wait for that publication: it sent DEL_ONION between the publication's
// check that the service was open and its ADD_ONION, which then put the
// descriptor back, so an identity taken offline or burned stayed published
// until Sotto's control connection closed.
func TestCloseDuringRepublishStaysClosed(t *testing.T) {
	f, ext := newCtlFake(t)
	tor := startFake(t, ext, newEventLog())
	id := newSecret(t)
	addr := AddressFromPublicKey(ed25519.NewKeyFromSeed(id.b[:]).Public().(ed25519.PublicKey))
	var svc *Service
	var armed, fired atomic.Bool
	closed := make(chan error, 1)
	key := func(use func(*[32]byte) error) error {
		if armed.Load() && !fired.Swap(true) {
			// The second publication (SetClientAuth's), past its check
			// that the service is open: close it now, and give Close time
			// to withdraw it before ADD_ONION goes (fixed: Close waits).
			go func() { closed <- svc.Close() }()
			deadline := time.Now().Add(300 * time.Millisecond)
			for time.Now().Before(deadline) {
				svc.mu.Lock()
				c := svc.closed
				svc.mu.Unlock()
				if c {
					time.Sleep(50 * time.Millisecond) // its DEL_ONION goes first
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		return id.keyFunc()(use)
	}
	ctx := context.Background()
	var err error
	svc, err = tor.Publish(ctx, ServiceConfig{Key: key, ClientAuth: validKeys(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	_ = svc.SetClientAuth(ctx, validKeys(t, 2)) // ErrClosed or nil: either way it must end withdrawn
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	f.mu.Lock()
	online := f.onions[addr]
	f.mu.Unlock()
	if online {
		t.Fatal("the service is published again after Close returned")
	}
	if !fired.Load() {
		t.Fatal("SetClientAuth did not publish again: the test did not run its case")
	}
}
