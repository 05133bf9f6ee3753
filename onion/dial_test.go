package onion

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTor is a Tor whose SOCKS port answers with scripted reply codes and
// whose control port answers every command with 250 OK, recording them.
type fakeTor struct {
	*Tor
	mu       sync.Mutex
	replies  []byte // SOCKS reply code per connection; the last repeats; 0xff = never answer
	socksReq []string
	commands []string
}

func newFakeTor(t *testing.T, replies ...byte) *fakeTor {
	t.Helper()
	f := &fakeTor{replies: replies}
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go f.serveSocks(ln)

	a, b := net.Pipe()
	go func() {
		r := bufio.NewReader(b)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			l = strings.TrimSpace(l)
			if answerAuth(b, l) {
				continue
			}
			f.mu.Lock()
			f.commands = append(f.commands, l)
			f.mu.Unlock()
			io.WriteString(b, "250 OK\r\n")
			if addr, ok := strings.CutPrefix(l, "HSFETCH "); ok {
				io.WriteString(b, "650 HS_DESC RECEIVED "+addr+" NO_AUTH $AAAA~relay\r\n")
			}
		}
	}()
	c := openTestCtrl(t, a)
	g := &generation{c: c, down: make(chan struct{}), socksNet: "unix", socksAddr: sock}
	f.Tor = &Tor{gen: g, closing: make(chan struct{}), evq: make(chan Event, 8), descWait: map[string][]chan string{}, isoGen: map[string]uint32{}}
	f.Tor.isoKey[0] = 1
	go func() {
		for {
			select {
			case ev := <-c.events:
				f.Tor.onEvent(g, ev)
			case <-c.done:
				return
			}
		}
	}()
	t.Cleanup(func() { c.close(); b.Close() })
	return f
}

func (f *fakeTor) serveSocks(ln net.Listener) {
	for i := 0; ; i++ {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		code := f.replies[min(i, len(f.replies)-1)]
		f.mu.Unlock()
		go func() {
			defer c.Close()
			buf := make([]byte, 3)
			io.ReadFull(c, buf)
			c.Write([]byte{5, 2})
			h := make([]byte, 2)
			io.ReadFull(c, h)
			user := make([]byte, h[1])
			io.ReadFull(c, user)
			io.ReadFull(c, h[:1])
			pass := make([]byte, h[0])
			io.ReadFull(c, pass)
			c.Write([]byte{1, 0})
			req := make([]byte, 5)
			io.ReadFull(c, req)
			host := make([]byte, int(req[4])+2)
			io.ReadFull(c, host)
			f.mu.Lock()
			f.socksReq = append(f.socksReq, string(user)+":"+string(pass)+"@"+string(host[:len(host)-2]))
			f.mu.Unlock()
			if code == 0xff {
				io.Copy(io.Discard, c)
				return
			}
			c.Write([]byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0})
			if code == 0 {
				c.Write([]byte("hi"))
				io.Copy(io.Discard, c)
			}
		}()
	}
}

func TestDialRetriesTransient(t *testing.T) {
	f := newFakeTor(t, 0xF0, 0xF2, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := f.Dial(ctx, "me", vectorAddress)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make([]byte, 2)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "hi" {
		t.Fatalf("stream: %q %v", got, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.socksReq) != 3 {
		t.Fatalf("%d SOCKS requests, want 3", len(f.socksReq))
	}
	for _, r := range f.socksReq {
		if !strings.HasSuffix(r, "@"+vectorAddress+".onion") {
			t.Fatalf("request %q does not carry the onion host name", r)
		}
		creds := strings.SplitN(r, "@", 2)[0]
		if strings.Contains(creds, vectorAddress[:16]) || strings.Contains(creds, "me") {
			t.Fatalf("credentials %q carry an address or identity", creds)
		}
		if creds != strings.SplitN(f.socksReq[0], "@", 2)[0] {
			t.Fatal("credentials differ between retries of one (from, to) pair")
		}
	}
}

// TestDialSparesHSDirs: a contact that stays unpublished costs at most
// dialMaxDescMisses descriptor fetches per Dial (on the real network each
// one uses up an HSDir for 15 minutes), and one with NoDescRetry (the core's
// dialer, which schedules those retries itself); either way the error says
// ErrNoDescriptor, without the address.
func TestDialSparesHSDirs(t *testing.T) {
	for _, c := range []struct {
		o    DialOptions
		want int
	}{{DialOptions{}, dialMaxDescMisses}, {DialOptions{NoDescRetry: true}, 1}} {
		f := newFakeTor(t, 0xF0, 0xF0, 0xF0, 0)
		_, err := f.DialWith(context.Background(), "me", vectorAddress, c.o)
		if !errors.Is(err, ErrUnreachable) || !errors.Is(err, ErrNoDescriptor) {
			t.Fatalf("%+v: err = %v", c.o, err)
		}
		if strings.Contains(err.Error(), vectorAddress[:20]) {
			t.Fatalf("error %q carries the address", err)
		}
		f.mu.Lock()
		n := len(f.socksReq)
		f.mu.Unlock()
		if n != c.want {
			t.Fatalf("%+v: %d SOCKS requests for a missing descriptor, want %d", c.o, n, c.want)
		}
	}
}

func TestDialClientAuthErrors(t *testing.T) {
	for _, c := range []struct {
		code byte
		want error
	}{{0xF4, ErrNeedClientAuth}, {0xF5, ErrBadClientAuth}} {
		f := newFakeTor(t, c.code)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := f.Dial(ctx, "me", vectorAddress+".onion")
		cancel()
		if !errors.Is(err, c.want) {
			t.Fatalf("code %#x: %v, want %v", c.code, err, c.want)
		}
		if strings.Contains(err.Error(), vectorAddress) {
			t.Fatalf("error names the full address: %v", err)
		}
		f.mu.Lock()
		cmds := strings.Join(f.commands, "|")
		n := len(f.socksReq)
		f.mu.Unlock()
		if cmds != "HSFETCH "+vectorAddress || n != 2 {
			t.Fatalf("code %#x: commands %q, %d SOCKS requests; want one HSFETCH and a retry", c.code, cmds, n)
		}
	}
}

func TestDialErrors(t *testing.T) {
	f := newFakeTor(t, 0xF6)
	if _, err := f.Dial(context.Background(), "me", vectorAddress); !errors.Is(err, ErrBadAddress) {
		t.Fatalf("0xF6: %v", err)
	}
	if _, err := f.Dial(context.Background(), "me", "not-an-onion.example.com"); !errors.Is(err, ErrBadAddress) {
		t.Fatalf("clearnet host: %v", err)
	}
	if _, err := f.Dial(context.Background(), "", vectorAddress); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("empty from: %v", err)
	}
	//lint:ignore SA1012 testing the nil check
	if _, err := f.Dial(nil, "me", vectorAddress); !errors.Is(err, ErrBadConfig) { //nolint:staticcheck
		t.Fatalf("nil ctx: %v", err)
	}
}

func TestDialContextCancel(t *testing.T) {
	f := newFakeTor(t, 0xff) // tor never answers the CONNECT
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := f.Dial(ctx, "me", vectorAddress)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnreachable) || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Dial ignored its context")
	}
}

func TestIsolationCredentials(t *testing.T) {
	f := newFakeTor(t, 0)
	u1, p1 := f.isolation("alice", vectorAddress, 0)
	u2, p2 := f.isolation("bob", vectorAddress, 0)
	u3, p3 := f.isolation("alice", vectorAddress, 0)
	if string(u1)+string(p1) == string(u2)+string(p2) {
		t.Fatal("two identities share SOCKS credentials")
	}
	if string(u1)+string(p1) != string(u3)+string(p3) {
		t.Fatal("credentials of one pair are not stable")
	}
	// Length framing: ("ab", "c...") and ("a", "bc...") differ.
	ua, _ := f.isolation("ab", "c", 0)
	ub, _ := f.isolation("a", "bc", 0)
	if string(ua) == string(ub) {
		t.Fatal("isolation input is ambiguous")
	}
}

// TestDialStalledRequestGetsNewCircuits: tor leaves the first SOCKS request
// unanswered (a stream attached to a dead rendezvous circuit). Dial gives up
// on it after dialStallTimeout and retries with new isolation credentials,
// which tor puts on new circuits; later dials of the pair keep the new
// credentials, and other pairs are not affected. Without a bound, Dial
// waited for its context (TestKillRestart's intermittent 90 s hang).
func TestDialStalledRequestGetsNewCircuits(t *testing.T) {
	old := dialStallTimeout
	dialStallTimeout = 300 * time.Millisecond
	t.Cleanup(func() { dialStallTimeout = old })
	f := newFakeTor(t, 0xff, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 2 {
		c, err := f.Dial(ctx, "me", vectorAddress)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	c, err := f.Dial(ctx, "other", vectorAddress)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.socksReq) != 4 {
		t.Fatalf("%d SOCKS requests, want 4 (stalled, retried, next dial, other pair): %q", len(f.socksReq), f.socksReq)
	}
	creds := func(i int) string { return strings.SplitN(f.socksReq[i], "@", 2)[0] }
	u0, p0 := f.isolation("me", vectorAddress, 0)
	u1, p1 := f.isolation("me", vectorAddress, 1)
	uo, po := f.isolation("other", vectorAddress, 0)
	for i, want := range []string{string(u0) + ":" + string(p0), string(u1) + ":" + string(p1), string(u1) + ":" + string(p1), string(uo) + ":" + string(po)} {
		if creds(i) != want {
			t.Errorf("request %d used credentials %q, want %q", i, creds(i), want)
		}
	}
	if creds(0) == creds(1) {
		t.Error("the retry after a stall reused the stalled request's credentials (same dead circuit)")
	}
	if cmds := strings.Join(f.commands, "|"); cmds != "HSFETCH "+vectorAddress {
		t.Errorf("control commands %q, want one HSFETCH after the stall", cmds)
	}
}

// TestDialGivesUpAfterStalls: a tor that never answers makes Dial fail with
// ErrUnreachable after dialMaxStalls retries, before its context ends.
func TestDialGivesUpAfterStalls(t *testing.T) {
	old := dialStallTimeout
	dialStallTimeout = 200 * time.Millisecond
	t.Cleanup(func() { dialStallTimeout = old })
	f := newFakeTor(t, 0xff)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := f.Dial(ctx, "me", vectorAddress)
	if !errors.Is(err, ErrUnreachable) || ctx.Err() != nil {
		t.Fatalf("Dial: %v (context: %v), want ErrUnreachable before the context ends", err, ctx.Err())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.socksReq) != dialMaxStalls+1 {
		t.Fatalf("%d SOCKS requests, want %d", len(f.socksReq), dialMaxStalls+1)
	}
}

// TestDialRetriesAfterStall: transient errors on the new circuits after a
// stall get their own retry window and attempts; before, the stalled
// requests used them up and the first transient error after a stall ended
// the dial (seen in CI: a 0x01 right after the retry).
func TestDialRetriesAfterStall(t *testing.T) {
	old := dialStallTimeout
	dialStallTimeout = 300 * time.Millisecond
	t.Cleanup(func() { dialStallTimeout = old })
	f := newFakeTor(t, 0xff, 0xff, 0xF2, 0xF2, 0xF2, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := f.Dial(ctx, "me", vectorAddress)
	if err != nil {
		t.Fatalf("Dial after two stalls and three transient errors: %v", err)
	}
	c.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.socksReq) != 6 {
		t.Fatalf("%d SOCKS requests, want 6", len(f.socksReq))
	}
}

// TestDialRefreshesAfterFailedWindow: introductions that keep failing for a
// whole retry window (a restarted contact whose old introduction points and
// circuits tor still uses) get one more window on a fresh descriptor and
// new circuits, once per Dial. Seen in TestKillRestart: 0x01 replies until
// the window closed, then the dial gave up while the contact was online.
func TestDialRefreshesAfterFailedWindow(t *testing.T) {
	f := newFakeTor(t, 0xF2, 0xF2, 0xF2, 0xF2, 0xF2, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := f.Dial(ctx, "me", vectorAddress)
	if err != nil {
		t.Fatalf("Dial after a window of failed introductions: %v", err)
	}
	c.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	creds := func(i int) string { return strings.SplitN(f.socksReq[i], "@", 2)[0] }
	if len(f.socksReq) != 6 || creds(4) == creds(5) {
		t.Fatalf("%d SOCKS requests (want 6, the last on new credentials): %q", len(f.socksReq), f.socksReq)
	}
	if cmds := strings.Join(f.commands, "|"); cmds != "HSFETCH "+vectorAddress {
		t.Errorf("control commands %q, want one HSFETCH", cmds)
	}
}

// TestDialStallThenDeadline: when the dial's time runs out after stalled
// requests, the error says that tor did not answer; it used to blame the
// SOCKS port ("cannot reach tor's SOCKS port: i/o timeout", ErrTorUnavailable),
// which sent a reader after a dead tor while tor was alive and its network
// was not.
func TestDialStallThenDeadline(t *testing.T) {
	old := dialStallTimeout
	dialStallTimeout = 200 * time.Millisecond
	t.Cleanup(func() { dialStallTimeout = old })
	f := newFakeTor(t, 0xff) // tor never answers the CONNECT
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := f.Dial(ctx, "me", vectorAddress)
	if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrTorUnavailable) || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("Dial: %v; want ErrUnreachable saying that tor did not answer", err)
	}
}
