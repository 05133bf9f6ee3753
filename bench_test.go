package sotto

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math"
	"net"
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

// BenchmarkTorRoundTrip: one message and its acknowledgement through two
// engines over established onion circuits (send -> stored -> acked).
func BenchmarkTorRoundTrip(b *testing.B) {
	a, _ := torPair(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id, err := a.e.Send(ctx, "alice", "bob", fmt.Sprintf("ping %d", i))
		if err != nil {
			b.Fatal(err)
		}
		a.waitDelivered(id)
	}
}

// BenchmarkTorRawEcho: the same path without Sotto: one byte echoed through
// an onion service between two tors on the same network, over an
// established stream.
func BenchmarkTorRawEcho(b *testing.B) { rawEcho(b, 1) }

// BenchmarkTorRawEcho4K: the same with 4096 bytes each way, the size of a
// padded frame that carries a post-quantum ratchet header (nine cells).
func BenchmarkTorRawEcho4K(b *testing.B) { rawEcho(b, 4096) }

func rawEcho(b *testing.B, size int) {
	srv := launchRawTor(b)
	cli := launchRawTor(b)
	var seed [32]byte
	rand.Read(seed[:])
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	svc, err := srv.Publish(ctx, onion.ServiceConfig{Key: func(use func(*[32]byte) error) error {
		k := seed
		defer clear(k[:])
		return use(&k)
	}, Open: true})
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
	var conn net.Conn
	for {
		conn, err = cli.Dial(ctx, "bench", svc.Addr())
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			b.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
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

// BenchmarkTorThroughput: messages per second on one conversation, each
// stored in both vaults and acknowledged.
func BenchmarkTorThroughput(b *testing.B) {
	a, c := torPair(b)
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

// BenchmarkPipeRoundTrip: the engine's own cost of a round trip (ratchet,
// framing, storage in memory) over an in-memory pipe, no Tor.
func BenchmarkPipeRoundTrip(b *testing.B) {
	n := newMemNet()
	a, c := startPeer(b, n, nil), startPeer(b, n, nil)
	mustID(b, a, "alice", IdentityOptions{})
	mustID(b, c, "bob", IdentityOptions{})
	befriend(b, a, "alice", "alice", c, "bob", "bob")
	unbounded(c) // b.N may pass maxUnread
	ctx := context.Background()
	id, _ := a.e.Send(ctx, "alice", "bob", "warm-up")
	a.waitDelivered(id)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id, err := a.e.Send(ctx, "alice", "bob", "ping")
		if err != nil {
			b.Fatal(err)
		}
		a.waitDelivered(id)
	}
}

// BenchmarkPipeRoundTripVault: as BenchmarkPipeRoundTrip with both sides on
// real vaults (every write fsynced): the storage cost of a round trip.
func BenchmarkPipeRoundTripVault(b *testing.B) {
	n := newMemNet()
	mk := func() *testPeer {
		dir := b.TempDir() + "/v"
		v, err := vault.Create(dir, benchPass(b), &vault.Options{UnsafeWorkFactor: 10})
		if err != nil {
			b.Fatal(err)
		}
		e, err := newEngine(engineConfig{disk: &vaultStore{v: v}, net: n.tor(), timing: fastTiming,
			newSecret: func(b []byte) (secretBox, error) { return vault.NewSecret(b) }, closeFn: v.Close})
		if err != nil {
			b.Fatal(err)
		}
		e.start()
		p := &testPeer{t: b, e: e, evs: make(chan Event, 100000), done: make(chan struct{})}
		go func() {
			defer close(p.done)
			for ev := range e.Events() {
				p.evs <- ev
			}
		}()
		b.Cleanup(p.close)
		return p
	}
	a, c := mk(), mk()
	mustID(b, a, "alice", IdentityOptions{})
	mustID(b, c, "bob", IdentityOptions{})
	befriend(b, a, "alice", "alice", c, "bob", "bob")
	unbounded(c) // b.N may pass maxUnread
	ctx := context.Background()
	id, _ := a.e.Send(ctx, "alice", "bob", "warm-up")
	a.waitDelivered(id)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id, err := a.e.Send(ctx, "alice", "bob", "ping")
		if err != nil {
			b.Fatal(err)
		}
		a.waitDelivered(id)
	}
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
