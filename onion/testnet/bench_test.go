package testnet

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// The benchmarks measure the raw-Tor floor Sotto is later compared with.
// Each iteration does the real thing over real tor processes; run them with
// -benchtime 1x (make bench) or more for steadier medians.

// BenchmarkNetworkUp starts a new network of 3 authorities and 5 relays per
// iteration. ns/op is Start until it returns (usable consensus plus one
// voting round); s-first-consensus is the time to the first consensus
// that gives every node the flags an onion service needs.
func BenchmarkNetworkUp(b *testing.B) {
	var firsts, totals []float64
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		n, err := Start(ctx, Options{})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		firsts = append(firsts, n.firstUsable.Sub(n.started).Seconds())
		totals = append(totals, n.ready.Sub(n.started).Seconds())
		if err := n.Close(); err != nil {
			b.Fatal(err)
		}
		if left := n.leftovers(); left != "" {
			b.Fatalf("Close left %s behind", left)
		}
		b.StartTimer()
	}
	b.ReportMetric(median(firsts), "s-first-consensus")
	b.ReportMetric(median(totals), "s-usable")
}

// benchClients are a service-side client A and a dialing client B on the
// shared network, started once for all benchmarks and stopped by TestMain.
var benchClients struct {
	once sync.Once
	a, b *client
	err  error
}

func getBenchClients(b *testing.B) (*client, *client) {
	bc := &benchClients
	bc.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if bc.a, bc.err = startClient(ctx, "benchA", tn.ClientTorrc(), ""); bc.err != nil {
			return
		}
		if bc.b, bc.err = startClient(ctx, "benchB", tn.ClientTorrc(), ""); bc.err != nil {
			return
		}
		bc.err = errors.Join(bc.a.bootstrap(ctx), bc.b.bootstrap(ctx))
	})
	if bc.err != nil {
		b.Fatal(bc.err)
	}
	return bc.a, bc.b
}

func stopBenchClients() {
	for _, c := range []*client{benchClients.a, benchClients.b} {
		if c != nil {
			c.stop(true)
		}
	}
}

// BenchmarkPublishToFirstConnect publishes a new ephemeral onion service
// per iteration and measures ADD_ONION until the first echo comes back
// through another client (dial retried while the descriptor spreads).
// ms-to-upload is ADD_ONION until the first HS_DESC UPLOADED.
func BenchmarkPublishToFirstConnect(b *testing.B) {
	sa, sb := getBenchClients(b)
	target := echoServer(b)
	var uploads, totals []float64
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		t0 := time.Now()
		id, err := sa.publish(ctx, target)
		if err != nil {
			cancel()
			b.Fatal(err)
		}
		uploads = append(uploads, float64(time.Since(t0).Milliseconds()))
		conn, err := sb.dialOnion(ctx, id)
		if err == nil {
			err = echo(conn, []byte("first\n"))
			conn.Close()
		}
		totals = append(totals, float64(time.Since(t0).Milliseconds()))
		b.StopTimer()
		err = errors.Join(err, sa.unpublish(ctx, id))
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(median(uploads), "ms-to-upload")
	b.ReportMetric(median(totals), "ms-to-first-echo")
}

// minEchoSamples is the least number of round trips the median and p90 of
// BenchmarkOnionEchoRTT rest on, even with -benchtime 1x.
const minEchoSamples = 64

// BenchmarkOnionEchoRTT measures the round trip of a 64-byte echo over an
// established onion circuit (3 hops each side, Schedulers Vanilla). One op
// is one round trip. ns/echo-median and ns/echo-p90 are over every round
// trip made, topped up (outside the timer) to minEchoSamples when b.N is
// smaller.
func BenchmarkOnionEchoRTT(b *testing.B) {
	sa, sb := getBenchClients(b)
	target := echoServer(b)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id, err := sa.publish(ctx, target)
	if err != nil {
		b.Fatal(err)
	}
	defer sa.unpublish(context.Background(), id)
	conn, err := sb.dialOnion(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte('a' + i%26)
	}
	if err := echo(conn, msg); err != nil { // warm the circuit
		b.Fatal(err)
	}
	var rtts []float64
	one := func() {
		t0 := time.Now()
		if err := echo(conn, msg); err != nil {
			b.Fatal(err)
		}
		rtts = append(rtts, float64(time.Since(t0).Nanoseconds()))
	}
	for b.Loop() {
		one()
	}
	b.StopTimer()
	for len(rtts) < minEchoSamples {
		one()
	}
	b.ReportMetric(median(rtts), "ns/echo-median")
	b.ReportMetric(percentile(rtts, 0.9), "ns/echo-p90")
}

func median(xs []float64) float64 { return percentile(xs, 0.5) }

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1)+0.5)]
}
