package mailbox_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sottochat/sotto/mailbox"
	"github.com/sottochat/sotto/mailbox/mailboxtest"
	"github.com/sottochat/sotto/vault"
)

// The kill test runs the mailbox in a child process: this test binary,
// started with these variables set, opens the mailbox profile and serves it
// until it is killed.
const (
	killChildDir     = "SOTTO_MAILBOX_KILL_CHILD"   // the profile directory
	killChildSockets = "SOTTO_MAILBOX_KILL_SOCKETS" // the services' sockets
	killPass         = "kill test mailbox pass"
	// KillsEnv raises the number of kills of TestKillMailbox (default
	// defaultKills): SOTTO_MAILBOX_KILLS=2000 go test -run KillMailbox ./mailbox/
	killsEnv     = "SOTTO_MAILBOX_KILLS"
	defaultKills = 100
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(killChildDir); dir != "" {
		os.Exit(killChild(dir, os.Getenv(killChildSockets)))
	}
	os.Exit(m.Run())
}

// killChild is the mailbox process: it prints "ready" once its services
// are published and serves until it is killed.
func killChild(dir, sockets string) int {
	p, err := vault.NewPassphrase([]byte(killPass))
	if err != nil {
		fmt.Fprintln(os.Stderr, "passphrase:", err)
		return 1
	}
	m, err := mailbox.Open(dir, p, mailbox.Options{Vault: &vault.Options{UnsafeWorkFactor: 2}})
	p.Destroy()
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(context.Background(), mailboxtest.Unix{Dir: sockets}) }()
	select {
	case <-m.Ready():
		fmt.Println("ready")
	case err := <-done:
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "serve ended:", <-done)
	return 1
}

// killPayload is the record a depositor leaves: its tag, its sequence
// number and filler, so that a truncated or mixed-up blob shows.
func killPayload(tag string, seq int) []byte {
	s := fmt.Sprintf("%s %06d ", tag, seq)
	return []byte(s + strings.Repeat(s, 1+seq%7))
}

// killRun is the shared state of a kill test's clients.
type killRun struct {
	t       *testing.T
	u       mailboxtest.Unix
	stopDep chan struct{} // closed: depositors stop after their current deposit is acknowledged
	stopCol chan struct{} // closed: collectors stop at the first empty collection

	interrupted atomic.Int64 // operations that failed because the mailbox died under them
	deposits    atomic.Int64 // acknowledged deposits
	dups        atomic.Int64 // blobs collected again (a deposit or delete whose reply was lost), not shown again
	failed      atomic.Bool

	mu      sync.Mutex
	next    map[string]int  // per depositor: deposits acknowledged (0..next-1)
	shown   map[string]int  // per depositor: blobs shown (in order: 0..shown-1)
	deleted map[string]bool // item IDs whose deletion the mailbox acknowledged
	errs    []string
}

func (k *killRun) fail(format string, args ...any) {
	k.mu.Lock()
	k.errs = append(k.errs, fmt.Sprintf(format, args...))
	k.mu.Unlock()
	k.failed.Store(true)
}

// dial connects and says hello, retrying while the mailbox is down.
func (k *killRun) dial(svc string, role mailbox.Role, token [32]byte) *mailbox.Conn {
	for !k.failed.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := mailbox.Dial(ctx, k.u, "kill", svc) // k.u.Timeout bounds each stream
		cancel()
		if err == nil {
			if err = c.Hello(role, lend(token)); err == nil {
				return c
			}
			c.Close()
		}
		time.Sleep(3 * time.Millisecond)
	}
	return nil
}

// depositor leaves blobs 0, 1, 2, ... in order; it retries a deposit whose
// reply it did not get (so a blob may be stored twice, as a client that
// crashed would do) and moves on only once the mailbox acknowledged it.
func (k *killRun) depositor(tag, svc string, role mailbox.Role, token [32]byte, rel [mailbox.RelLen]byte) {
	var c *mailbox.Conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for seq := 0; ; seq++ {
		select {
		case <-k.stopDep:
			return
		default:
		}
		b, err := mailbox.Pack(mailbox.Record{Type: mailbox.RecRatchet, Payload: killPayload(tag, seq)})
		if err != nil {
			k.fail("pack: %v", err)
			return
		}
		for {
			if k.failed.Load() {
				return
			}
			if c == nil {
				if c = k.dial(svc, role, token); c == nil {
					return
				}
			}
			_, err := c.Deposit(rel, 0, b)
			if err == nil {
				break
			}
			var re *mailbox.RemoteError
			if errors.As(err, &re) {
				if re.Code != mailbox.CodeBusy && re.Code != mailbox.CodeFull {
					k.fail("%s's deposit %d refused: %v", tag, seq, err)
					return
				}
				// Rate limited or full: the depositor keeps its blob.
				time.Sleep(20 * time.Millisecond)
				continue
			}
			k.interrupted.Add(1)
			c.Close()
			c = nil
		}
		k.deposits.Add(1)
		k.mu.Lock()
		k.next[tag] = seq + 1
		k.mu.Unlock()
	}
}

// collector collects, "shows" each blob the first time it sees it (the
// messenger drops one it already has by its message ID), then deletes what
// it collected. A blob whose deletion was acknowledged must never come
// back; the blobs of each depositor must be shown in order, with no gap.
func (k *killRun) collector(svc string, role mailbox.Role, token [32]byte) {
	var c *mailbox.Conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	stopping := false
	for !k.failed.Load() {
		if !stopping {
			select {
			case <-k.stopCol:
				stopping = true
			default:
			}
		}
		if c == nil {
			if c = k.dial(svc, role, token); c == nil {
				return
			}
		}
		if k.failed.Load() {
			return
		}
		var items []mailbox.Item
		_, err := c.Collect([mailbox.RelLen]byte{}, mailbox.MaxCollect, func(it mailbox.Item) error {
			items = append(items, it)
			return nil
		})
		if err != nil {
			k.interrupted.Add(1)
			c.Close()
			c = nil
			continue
		}
		if len(items) == 0 {
			if stopping {
				return
			}
			time.Sleep(2 * time.Millisecond)
			continue
		}
		byRel := map[[mailbox.RelLen]byte][][mailbox.ItemLen]byte{}
		k.mu.Lock()
		for _, it := range items {
			id := string(it.ID[:])
			if k.deleted[id] {
				k.mu.Unlock()
				k.fail("item %x came back after its deletion was acknowledged", it.ID)
				return
			}
			if it.Kind != mailbox.ItemBlob {
				k.mu.Unlock()
				k.fail("item %x is not a blob (kind %d)", it.ID, it.Kind)
				return
			}
			recs, err := mailbox.Unpack(it.Blob)
			if err != nil || len(recs) != 1 {
				k.mu.Unlock()
				k.fail("item %x does not unpack: %v", it.ID, err)
				return
			}
			f := strings.Fields(string(recs[0].Payload))
			seq, err := strconv.Atoi(f[min(1, len(f)-1)])
			if err != nil || !bytes.Equal(recs[0].Payload, killPayload(f[0], seq)) {
				k.mu.Unlock()
				k.fail("item %x holds a corrupted blob %q", it.ID, recs[0].Payload)
				return
			}
			switch tag := f[0]; {
			case seq < k.shown[tag]:
				k.dups.Add(1) // already shown: dropped
			case seq == k.shown[tag]:
				k.shown[tag]++
			default:
				k.mu.Unlock()
				k.fail("%s's blob %d collected after %d: one is missing or out of order", tag, seq, k.shown[tag]-1)
				return
			}
			byRel[it.Rel] = append(byRel[it.Rel], it.ID)
		}
		k.mu.Unlock()
		for rel, ids := range byRel {
			if role == mailbox.RoleContact {
				rel = [mailbox.RelLen]byte{}
			}
			if _, err := c.Delete(rel, ids); err != nil {
				k.interrupted.Add(1)
				c.Close()
				c = nil
				break
			}
			k.mu.Lock()
			for _, id := range ids {
				k.deleted[string(id[:])] = true
			}
			k.mu.Unlock()
		}
	}
}

// killChildProc is one run of the mailbox process.
type killChildProc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

func startKillChild(t testing.TB, dir, sockets string) *killChildProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killChildDir+"="+dir, killChildSockets+"="+sockets)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := sc.Scan() && sc.Text() == "ready"
		ready <- ok
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Wait()
			t.Fatalf("the mailbox did not start (a crash left a vault that does not open?): %s", stderr.String())
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the mailbox did not start within 2 minutes: %s", stderr.String())
	}
	return &killChildProc{cmd: cmd, stderr: &stderr}
}

func (p *killChildProc) kill(t testing.TB) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	if s := p.stderr.String(); strings.Contains(s, "DATA RACE") || strings.Contains(s, "panic:") {
		t.Fatalf("the mailbox process failed: %s", s)
	}
}

// TestKillMailbox is issue 13's crash must-show for the mailbox process: a
// real mailbox (this package's server and vault, in a process of its own,
// its services unix sockets instead of onion services so that a restart
// costs milliseconds, not a descriptor upload) is SIGKILLed at a random
// moment defaultKills times (SOTTO_MAILBOX_KILLS more; 10 with -short) while
// three contacts deposit toward the owner, the owner deposits toward one of
// them, and both collect and delete. After every kill the vault opens; at
// the end every acknowledged deposit was collected, in order, each shown
// once (a blob collected again because a reply was lost is counted and
// dropped, as the messenger drops a message ID it has), no blob is
// corrupted and none whose deletion was acknowledged comes back.
// cmd/sotto.TestMailboxKillE2E kills a real 'sotto mailbox serve' over the
// private Tor network a few times, with the messenger on both sides.
func TestKillMailbox(t *testing.T) {
	kills := defaultKills
	if testing.Short() {
		kills = 10
	}
	if s := os.Getenv(killsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a number of kills", killsEnv, s)
		}
		kills = n
	}
	base := t.TempDir()
	dir, sockets := filepath.Join(base, "mb"), filepath.Join(base, "s")
	if err := os.Mkdir(sockets, 0o700); err != nil {
		t.Fatal(err)
	}
	u := mailboxtest.Unix{Dir: sockets}
	p := passphrase(t, killPass)
	if err := mailbox.Init(dir, p, mailbox.DefaultConfig(), &vault.Options{UnsafeWorkFactor: 2}); err != nil {
		t.Fatal(err)
	}
	p.Destroy()

	// Pairing and relations, in this process.
	p = passphrase(t, killPass)
	m, err := mailbox.Open(dir, p, mailbox.Options{Vault: &vault.Options{UnsafeWorkFactor: 2}})
	p.Destroy()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- m.Serve(ctx, u) }()
	<-m.Ready()
	code, err := m.NewCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ownerToken := random32(t)
	svcKey, _, err := mailbox.Pair(ctx, u, "owner", code, pub(t, random32(t)), lend(ownerToken), false)
	if err != nil {
		t.Fatal(err)
	}
	svc := mailbox.OnionOf(svcKey)
	oc, err := mailbox.Dial(ctx, u, "owner", svc)
	if err != nil {
		t.Fatal(err)
	}
	if err := oc.Hello(mailbox.RoleOwner, lend(ownerToken)); err != nil {
		t.Fatal(err)
	}
	type rel struct {
		id    [mailbox.RelLen]byte
		token [32]byte
	}
	rels := make([]rel, 3)
	for i := range rels {
		rels[i].token = random32(t)
		r := random32(t)
		rels[i].id = [mailbox.RelLen]byte(r[:mailbox.RelLen])
		if err := oc.Add(rels[i].id, mailbox.HashToken(&rels[i].token), pub(t, random32(t))); err != nil {
			t.Fatal(err)
		}
	}
	oc.Close()
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	m.Close()

	k := &killRun{t: t, u: mailboxtest.Unix{Dir: sockets, Timeout: time.Minute}, stopDep: make(chan struct{}), stopCol: make(chan struct{}),
		next: map[string]int{}, shown: map[string]int{}, deleted: map[string]bool{}}
	var deps, cols sync.WaitGroup
	for i, r := range rels {
		deps.Go(func() {
			k.depositor(fmt.Sprintf("contact%d", i), svc, mailbox.RoleContact, r.token, [mailbox.RelLen]byte{})
		})
	}
	deps.Go(func() { k.depositor("owner", svc, mailbox.RoleOwner, ownerToken, rels[0].id) })
	cols.Go(func() { k.collector(svc, mailbox.RoleOwner, ownerToken) })
	cols.Go(func() { k.collector(svc, mailbox.RoleContact, rels[0].token) })

	start := time.Now()
	var child *killChildProc
	var starting time.Duration
	for i := range kills {
		t0 := time.Now()
		child = startKillChild(t, dir, sockets)
		starting += time.Since(t0)
		// Clients reconnect within milliseconds; the kill lands while they
		// deposit, collect or delete (the vault's writes among them).
		time.Sleep(time.Duration(5+mrand.IntN(150)) * time.Millisecond)
		child.kill(t)
		if k.failed.Load() {
			t.Fatalf("after %d kills: %s", i+1, strings.Join(k.errs, "; "))
		}
	}
	elapsed := time.Since(start)
	child = startKillChild(t, dir, sockets)
	defer child.kill(t)
	close(k.stopDep)
	deps.Wait()
	close(k.stopCol)
	cols.Wait()
	if k.failed.Load() {
		t.Fatal(strings.Join(k.errs, "; "))
	}
	total := 0
	for tag, n := range k.next {
		if k.shown[tag] != n {
			t.Errorf("%s: %d deposits acknowledged, %d shown", tag, n, k.shown[tag])
		}
		total += n
	}
	if total == 0 || len(k.next) != 4 {
		t.Fatalf("deposits acknowledged per depositor: %v", k.next)
	}
	// Nothing is left behind.
	oc = k.dial(svc, mailbox.RoleOwner, ownerToken)
	defer oc.Close()
	if st, err := oc.Status(); err != nil || st.In != 0 || st.Out != 0 {
		t.Fatalf("after collecting everything the mailbox holds %+v (%v)", st, err)
	}
	// The kills hit clients at work: most of them broke operations in flight.
	if int(k.interrupted.Load()) < kills/2 {
		t.Fatalf("only %d operations were interrupted by %d kills: the kills did not land during deposits and collections", k.interrupted.Load(), kills)
	}
	t.Logf("%d kills in %s (%s of it starting the mailbox): %d deposits acknowledged (%v), %d operations interrupted, %d blobs collected again and dropped",
		kills, elapsed.Round(time.Millisecond), starting.Round(time.Millisecond), total, k.next, k.interrupted.Load(), k.dups.Load())
}
