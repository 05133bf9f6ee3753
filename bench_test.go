package sotto

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/vault"
)

// Benchmarks. The Tor ones run over the private network TestMain starts; run
// them with -benchtime 1x or a small Nx, e.g.
//
//	go test -run '^$' -bench 'Tor' -benchtime 20x .

// torPair opens two engines with their own tors, each with an identity,
// adds them to each other and waits until a first message went through.
func torPair(b testing.TB) (a, c *testPeer) {
	ad, an := torProfile(b)
	cd, cn := torProfile(b)
	a = openTorPeer(b, torOptions(ad, an, nil))
	c = openTorPeer(b, torOptions(cd, cn, nil))
	mustID(b, a, "alice", IdentityOptions{})
	mustID(b, c, "bob", IdentityOptions{})
	a.waitOnline("alice")
	c.waitOnline("bob")
	befriend(b, a, "alice", "alice", c, "bob", "bob")
	unbounded(c) // b.N may pass maxUnread
	if _, err := a.e.Send(context.Background(), "alice", "bob", "warm-up"); err != nil {
		b.Fatal(err)
	}
	c.waitText("warm-up")
	return a, c
}

func (p *testPeer) waitDelivered(id MessageID) {
	p.t.Helper()
	p.waitFor(60*time.Second, "delivered", func(ev Event) bool {
		d, ok := ev.(DeliveredEvent)
		return ok && d.ID == id
	})
}

// waitAllDelivered waits for a DeliveredEvent of every message in want,
// in any order, and empties it.
func (p *testPeer) waitAllDelivered(want map[MessageID]bool) {
	p.t.Helper()
	for len(want) > 0 {
		ev := p.wait("delivered", func(ev Event) bool { _, ok := ev.(DeliveredEvent); return ok })
		delete(want, ev.(DeliveredEvent).ID)
	}
}

// BenchmarkTorRoundTrip: one message and its acknowledgement through two
// engines over established onion circuits (send -> stored -> acked).
// Each stage's median goes beside the total (stageClock).
func BenchmarkTorRoundTrip(b *testing.B) {
	a, c := torPair(b)
	roundTrips(b, a, c)
}

// roundTrips sends b.N messages from a to c, one at a time, each after the
// previous one was acknowledged, and reports the median of each stage.
func roundTrips(b *testing.B, a, c *testPeer) {
	ctx := context.Background()
	sc := startStages(a, c)
	var total []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		id, err := a.e.Send(ctx, "alice", "bob", fmt.Sprintf("ping %d", i))
		if err != nil {
			b.Fatal(err)
		}
		a.waitDelivered(id)
		t1 := time.Now()
		total = append(total, t1.Sub(t0))
		sc.record(id, t0, t1)
	}
	b.StopTimer()
	sc.report(b, a, c)
	b.ReportMetric(float64(median(total))/1e3, "median-us")
}

// BenchmarkTorRawEcho: the same path without Sotto: one byte echoed through
// an onion service between two tors on the same network, over an
// established stream.
func BenchmarkTorRawEcho(b *testing.B) { rawEcho(b, 1) }

// BenchmarkTorRawEcho4K: the same with 4096 bytes each way, the size of a
// padded frame that carries a post-quantum ratchet header (nine cells).
func BenchmarkTorRawEcho4K(b *testing.B) { rawEcho(b, 4096) }

// publishRandom publishes an open service of tor t under a fresh random key.
func publishRandom(ctx context.Context, t *onion.Tor) (*onion.Service, error) {
	var seed [32]byte
	rand.Read(seed[:])
	return t.Publish(ctx, onion.ServiceConfig{Key: func(use func(*[32]byte) error) error {
		k := seed
		defer clear(k[:])
		return use(&k)
	}, Open: true})
}

// dialUntil dials addr through t every 500 ms (a service just published may
// not be reachable yet) until it connects or ctx ends.
func dialUntil(ctx context.Context, t *onion.Tor, from, addr string) (net.Conn, error) {
	for {
		conn, err := t.Dial(ctx, from, addr)
		if err == nil || ctx.Err() != nil {
			return conn, err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func rawEcho(b *testing.B, size int) {
	srv := launchRawTor(b)
	cli := launchRawTor(b)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	svc, err := publishRandom(ctx, srv)
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	go func() {
		for {
			c, err := svc.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	conn, err := dialUntil(ctx, cli, "bench", svc.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := conn.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTorFirstMessage: from opening two profiles (each launching its
// tor) to the first message delivered and acknowledged.
func BenchmarkTorFirstMessage(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ad, an := torProfile(b)
		cd, cn := torProfile(b)
		for _, d := range []string{ad, cd} {
			if err := Init(context.Background(), Options{ProfileDir: d, unsafeVaultWork: 10}, pass("pw")); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		a := openTorPeer(b, torOptions(ad, an, nil))
		c := openTorPeer(b, torOptions(cd, cn, nil))
		mustID(b, a, "alice", IdentityOptions{})
		mustID(b, c, "bob", IdentityOptions{})
		befriend(b, a, "alice", "alice", c, "bob", "bob")
		unbounded(c) // b.N may pass maxUnread
		id, err := a.e.Send(context.Background(), "alice", "bob", "first")
		if err != nil {
			b.Fatal(err)
		}
		a.waitDelivered(id)
		b.StopTimer()
		a.close()
		c.close()
		b.StartTimer()
	}
}

// BenchmarkTorFirstMessageFloor: the floor of BenchmarkTorFirstMessage on
// the same network: two plain tors launched at once (bootstrap), an onion
// service published on one (descriptor upload), the other dialling it until
// a stream opens (descriptor fetch, rendezvous) and one byte echoed. No
// Sotto: no vault, no handshake, no message.
func BenchmarkTorFirstMessageFloor(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var srv, cli *onion.Tor
		done := make(chan struct{})
		go func() { defer close(done); srv = launchRawTor(b) }()
		cli = launchRawTor(b)
		<-done
		if srv == nil {
			b.FailNow()
		}
		var seed [32]byte
		rand.Read(seed[:])
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		svc, err := srv.Publish(ctx, onion.ServiceConfig{Key: func(use func(*[32]byte) error) error {
			k := seed
			defer clear(k[:])
			return use(&k)
		}, Open: true})
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			c, err := svc.Accept()
			if err == nil {
				io.Copy(c, c)
				c.Close()
			}
		}()
		var conn net.Conn
		for {
			conn, err = cli.Dial(ctx, "bench", svc.Addr())
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				b.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		var one [1]byte
		if _, err := conn.Write(one[:]); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(conn, one[:]); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		conn.Close()
		svc.Close()
		cancel()
		srv.Close()
		cli.Close()
		b.StartTimer()
	}
}

// BenchmarkTorThroughput: messages per second on one conversation, each
// stored in both vaults and acknowledged.
func BenchmarkTorThroughput(b *testing.B) {
	a, c := torPair(b)
	throughput(b, a, c)
}

// BenchmarkPipeThroughputVault: BenchmarkTorThroughput's bursts over an
// in-memory pipe, both sides on real vaults: the engine's and the disk's
// share of a burst without Tor.
func BenchmarkPipeThroughputVault(b *testing.B) {
	a, c := pipePair(b, pipeConfig{locked: true, live: true, vault: true})
	throughput(b, a, c)
}

func throughput(b *testing.B, a, c *testPeer) {
	ctx := context.Background()
	const batch = 100
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		var last MessageID
		for j := range batch {
			id, err := a.e.Send(ctx, "alice", "bob", fmt.Sprintf("bulk %d/%d", i, j))
			if err != nil {
				b.Fatal(err)
			}
			last = id
		}
		a.waitDelivered(last)
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "msgs/s")
	_ = c
}

// BenchmarkTorThroughputConcurrent: as BenchmarkTorThroughput with the 100
// texts of each burst sent by 4 goroutines at once (a UI or a script that
// does not wait for one Send before the next): each Send still returns
// only once its text is on disk, but texts sent together share a commit.
// BenchmarkTorThroughput's one-at-a-time Send pays a whole commit per
// text; this is what batching across sends buys.
func BenchmarkTorThroughputConcurrent(b *testing.B) {
	a, c := torPair(b)
	concurrentThroughput(b, a, c)
}

// BenchmarkPipeThroughputVaultConcurrent: BenchmarkTorThroughputConcurrent
// over a pipe with real vaults.
func BenchmarkPipeThroughputVaultConcurrent(b *testing.B) {
	a, c := pipePair(b, pipeConfig{locked: true, live: true, vault: true})
	concurrentThroughput(b, a, c)
}

func concurrentThroughput(b *testing.B, a, c *testPeer) {
	ctx := context.Background()
	const batch, senders = 100, 4
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		ids := make(chan MessageID, batch)
		errs := make(chan error, senders)
		for g := range senders {
			go func() {
				for j := g; j < batch; j += senders {
					id, err := a.e.Send(ctx, "alice", "bob", fmt.Sprintf("bulk %d/%d", i, j))
					if err != nil {
						errs <- err
						return
					}
					ids <- id
				}
				errs <- nil
			}()
		}
		for range senders {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		close(ids)
		want := map[MessageID]bool{}
		for id := range ids {
			want[id] = true
		}
		a.waitAllDelivered(want)
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "msgs/s")
	_ = c
}

// BenchmarkTorThroughputPipelined: as BenchmarkTorThroughput with each
// burst sent the way headless runs a script's consecutive "send" lines
// (headless.sendPipe): every text queued in order with SendQueued, at most
// maxInFlight of them waiting for their commit at once, each acknowledged
// only when its stored returns. Texts queued while a commit is written
// share the next one.
func BenchmarkTorThroughputPipelined(b *testing.B) {
	a, c := torPair(b)
	pipelinedThroughput(b, a, c)
}

// BenchmarkPipeThroughputVaultPipelined: BenchmarkTorThroughputPipelined
// over a pipe with real vaults.
func BenchmarkPipeThroughputVaultPipelined(b *testing.B) {
	a, c := pipePair(b, pipeConfig{locked: true, live: true, vault: true})
	pipelinedThroughput(b, a, c)
}

func pipelinedThroughput(b *testing.B, a, c *testPeer) {
	ctx := context.Background()
	const batch, maxInFlight = 100, 64 // headless's maxPipelined
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		slots := make(chan struct{}, maxInFlight)
		errs := make(chan error, batch)
		want := map[MessageID]bool{}
		var wg sync.WaitGroup
		for j := range batch {
			slots <- struct{}{}
			id, stored, err := a.e.SendQueued(ctx, "alice", "bob", fmt.Sprintf("bulk %d/%d", i, j))
			if err != nil {
				b.Fatal(err)
			}
			want[id] = true
			wg.Go(func() {
				errs <- stored()
				<-slots
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		a.waitAllDelivered(want)
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "msgs/s")
	_ = c
}

// BenchmarkPipeRoundTrip: the engine's own cost of a round trip (ratchet,
// framing, storage in memory) over an in-memory pipe, no Tor, no disk, keys
// in plain test boxes.
func BenchmarkPipeRoundTrip(b *testing.B) {
	a, c := pipePair(b, pipeConfig{})
	roundTrips(b, a, c)
}

// BenchmarkPipeRoundTripLocked: as BenchmarkPipeRoundTrip with the keys in
// locked memory as in the product: identity keys in enclaves, the ratchet
// state in a locked buffer while the session is up (livestate.go).
func BenchmarkPipeRoundTripLocked(b *testing.B) {
	a, c := pipePair(b, pipeConfig{locked: true, live: true})
	roundTrips(b, a, c)
}

// BenchmarkPipeRoundTripEnclave: the baseline of BenchmarkPipeRoundTripLocked:
// the ratchet state opened from its enclave and sealed into a new one for
// every message (what the engine did before livestate.go).
func BenchmarkPipeRoundTripEnclave(b *testing.B) {
	a, c := pipePair(b, pipeConfig{locked: true})
	roundTrips(b, a, c)
}

// BenchmarkPipeRoundTripVault: as BenchmarkPipeRoundTripLocked with both
// sides on real vaults (every write fsynced): the storage cost of a round
// trip.
func BenchmarkPipeRoundTripVault(b *testing.B) {
	a, c := pipePair(b, pipeConfig{locked: true, live: true, vault: true})
	roundTrips(b, a, c)
}

// BenchmarkPipeRoundTripVaultEnclave: the baseline of
// BenchmarkPipeRoundTripVault, with the ratchet state opened from its
// enclave and sealed into a new one for every message.
func BenchmarkPipeRoundTripVaultEnclave(b *testing.B) {
	a, c := pipePair(b, pipeConfig{locked: true, vault: true})
	roundTrips(b, a, c)
}

type pipeConfig struct {
	locked bool // vault.NewSecret for keys, not test boxes
	live   bool // vault.NewLocked for live states
	vault  bool // real vaults, not memory stores
}

// pipePair is two engines over an in-memory network with the given keys
// and storage, friends, after a first message went through.
func pipePair(b *testing.B, pc pipeConfig) (a, c *testPeer) {
	n := newMemNet()
	mk := func() *testPeer {
		if !pc.locked && !pc.vault {
			return startPeer(b, n, nil)
		}
		cfg := engineConfig{net: n.tor(), timing: fastTiming, newSecret: testSecret, newLocked: testLocked, logf: b.Logf}
		if pc.locked {
			cfg.newSecret = func(b []byte) (secretBox, error) { return vault.NewSecret(b) }
			cfg.newLocked = nil
		}
		if pc.live {
			cfg.newLocked = func(n int) (lockedBuf, error) { return vault.NewLocked(n) }
		}
		if pc.vault {
			dir := b.TempDir() + "/v"
			v, err := vault.Create(dir, benchPass(b), &vault.Options{UnsafeWorkFactor: 10})
			if err != nil {
				b.Fatal(err)
			}
			cfg.disk, cfg.closeFn = &vaultStore{v: v}, v.Close
		} else {
			cfg.disk = newMemStore()
		}
		e, err := newEngine(cfg)
		if err != nil {
			b.Fatal(err)
		}
		e.start()
		return watchEvents(&testPeer{t: b, e: e}, 100000)
	}
	a, c = mk(), mk()
	mustID(b, a, "alice", IdentityOptions{})
	mustID(b, c, "bob", IdentityOptions{})
	befriend(b, a, "alice", "alice", c, "bob", "bob")
	unbounded(c) // b.N may pass maxUnread
	id, err := a.e.Send(context.Background(), "alice", "bob", "warm-up")
	if err != nil {
		b.Fatal(err)
	}
	a.waitDelivered(id)
	return a, c
}

func benchPass(b testing.TB) *vault.Passphrase {
	p, err := vault.NewPassphrase([]byte("pw"))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// unbounded lifts p's bound on unread incoming messages (maxUnread), which a
// long benchmark run on one conversation would otherwise reach.
func unbounded(p *testPeer) {
	p.e.mu.Lock()
	p.e.maxUnread = math.MaxInt
	p.e.mu.Unlock()
}

// BenchmarkTorRestartDelivery: bob's process stops, alice writes 20
// messages, bob starts again; measured from bob's Open (his tor launching)
// to alice holding all 20 acknowledgements. Both run the product's timing
// (5 s backoff doubling to 10 min, 90 s handshake), not the tests' shorter
// one: this is the wait a person sees after restarting. Run with
// -benchtime Nx; ns/op is one restart.
func BenchmarkTorRestartDelivery(b *testing.B) {
	ad, an := torProfile(b)
	cd, cn := torProfile(b)
	ao, co := torOptions(ad, an, nil), torOptions(cd, cn, nil)
	ao.timing, co.timing = timing{}, timing{} // defaultTiming
	a := openTorPeer(b, ao)
	c := openTorPeer(b, co)
	mustID(b, a, "alice", IdentityOptions{})
	mustID(b, c, "bob", IdentityOptions{})
	a.waitOnline("alice")
	c.waitOnline("bob")
	befriend(b, a, "alice", "alice", c, "bob", "bob")
	ctx := context.Background()
	if _, err := a.e.Send(ctx, "alice", "bob", "warm-up"); err != nil {
		b.Fatal(err)
	}
	c.waitText("warm-up")
	const queued = 20
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c.close()
		want := map[MessageID]bool{}
		for j := range queued {
			id, err := a.e.Send(ctx, "alice", "bob", fmt.Sprintf("while away %d/%d", i, j))
			if err != nil {
				b.Fatal(err)
			}
			want[id] = true
		}
		b.StartTimer()
		c = openTorPeer(b, co)
		for len(want) > 0 {
			ev := a.waitFor(10*time.Minute, "delivered after bob's restart", func(ev Event) bool {
				d, ok := ev.(DeliveredEvent)
				return ok && want[d.ID]
			})
			delete(want, ev.(DeliveredEvent).ID)
		}
	}
}
