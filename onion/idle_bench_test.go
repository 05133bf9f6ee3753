package onion

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sottochat/sotto/internal/procstat"
	"github.com/sottochat/sotto/onion/socks"
)

// BenchmarkOfflineDialsControl is the control of the root package's
// BenchmarkTorIdleContacts (issue 16 goal 4): a plain tor client, and a
// SOCKS client of its own (no Dial: no HSFETCH, no change of isolation
// credentials, no client-auth commands unless auth=1) that requests n
// onion addresses whose descriptors do not exist at the rate Sotto's old
// dialer did: per dial up to three requests one and two seconds apart while
// tor answers "descriptor not found", a request left unanswered abandoned
// after 30 s, a dial bounded by 90 s, and dials of one address 5 s apart
// doubling to 10 minutes, jittered. It reports tor's CPU share of one core
// and RSS, and how tor answered, over SOTTO_IDLE_WINDOW (skipped unset).
// If tor spins here too, the cost is the request pattern's, not Sotto's.
//
// hsfetch=1 adds what the old Dial did on a stalled request besides new
// credentials: an HSFETCH of the descriptor (waiting up to 15 s for it).
//
// svc=1 also publishes a restricted onion service with n client-auth keys
// (at most MaxClientAuth)
// on the same tor, as a Sotto identity with n contacts does.
//
// pace=1 runs the same addresses at the new schedule instead: at most
// controlPool requests at once (the core's maxDialsAtOnce), one request per dial, and 5 minutes doubling
// to an hour between dials of an address whose descriptor is not found.
//
//	SOTTO_IDLE_WINDOW=3m go test -run '^$' -bench OfflineDialsControl -benchtime 1x ./onion
func BenchmarkOfflineDialsControl(b *testing.B) {
	for _, c := range []struct{ n, auth, pace, fetch, svc int }{
		{10, 0, 0, 0, 0}, {100, 0, 0, 0, 0}, {100, 1, 0, 0, 0}, {100, 1, 0, 1, 0}, {100, 1, 0, 1, 1},
		{200, 1, 0, 1, 1}, {200, 1, 1, 0, 1},
	} {
		b.Run(fmt.Sprintf("n=%d,auth=%d,pace=%d,hsfetch=%d,svc=%d", c.n, c.auth, c.pace, c.fetch, c.svc), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				offlineDialsControl(b, c.n, c.auth == 1, c.pace == 1, c.fetch == 1, c.svc == 1)
			}
		})
	}
}

func offlineDialsControl(b *testing.B, n int, auth, paced, hsfetch, svc bool) {
	b.StopTimer()
	s := os.Getenv("SOTTO_IDLE_WINDOW")
	if s == "" {
		b.Skip("set SOTTO_IDLE_WINDOW (e.g. 3m) to watch tor that long")
	}
	window, err := time.ParseDuration(s)
	if err != nil || window < 2*time.Minute {
		b.Fatalf("SOTTO_IDLE_WINDOW=%q: want a duration of at least 2m", s)
	}
	tor, _, _ := launch(b, nil)
	g, err := tor.current()
	if err != nil {
		b.Fatal(err)
	}
	addrs := make([]string, n)
	for i := range addrs {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		addrs[i] = AddressFromPublicKey(pub)
		if auth {
			var k [32]byte
			rand.Read(k[:])
			if err := tor.AddClientAuth(context.Background(), addrs[i], func(use func(*[32]byte) error) error { return use(&k) }); err != nil {
				b.Fatal(err)
			}
		}
	}
	if svc {
		var seed [32]byte
		rand.Read(seed[:])
		publish(b, tor, ServiceConfig{Key: func(use func(*[32]byte) error) error { k := seed; return use(&k) }, ClientAuth: validKeys(b, min(n, MaxClientAuth))})
	}
	pid := tor.pid()
	if pid == 0 {
		b.Fatal("no tor process")
	}
	var notFound, unanswered, other atomic.Int64
	// request sends one SOCKS request and reports whether tor answered
	// "descriptor not found".
	request := func(ctx context.Context, i, gen int) bool {
		var d net.Dialer
		c, err := d.DialContext(ctx, g.socksNet, g.socksAddr)
		if err != nil {
			return false
		}
		defer c.Close()
		stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
		defer stop()
		user := fmt.Appendf(nil, "control-%d-%d", i, gen)
		err = socks.Connect(c, user, []byte("x"), addrs[i]+onionSuffix, VirtualPort)
		var re *socks.ReplyError
		switch {
		case ctx.Err() != nil:
			unanswered.Add(1)
		case err == nil:
			other.Add(1)
		case asReply(err, &re) && re.Code == socks.OnionDescNotFound:
			notFound.Add(1)
			return true
		default:
			other.Add(1)
		}
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	sem := make(chan struct{}, controlPool)
	b.StartTimer()
	t0, err := procstat.Read(pid)
	if err != nil {
		b.Skip(err)
	}
	for i := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			backoff, gen := 5*time.Second, 0
			if paced {
				backoff = 5 * time.Minute
			}
			for ctx.Err() == nil {
				if paced {
					select {
					case sem <- struct{}{}:
					case <-ctx.Done():
						return
					}
					rctx, rcancel := context.WithTimeout(ctx, dialStallTimeout)
					request(rctx, i, 0)
					rcancel()
					<-sem
				} else {
					dctx, dcancel := context.WithTimeout(ctx, 90*time.Second)
					for try := 0; try < dialMaxDescMissesOld && dctx.Err() == nil; try++ {
						rctx, rcancel := context.WithTimeout(dctx, dialStallTimeout)
						nf := request(rctx, i, gen)
						stalled := rctx.Err() != nil
						rcancel()
						if stalled {
							gen++ // Sotto moved a stalled pair to new circuits
							if hsfetch {
								// ... after fetching the descriptor again
								tor.refetch(dctx, addrs[i])
							}
							continue
						}
						if !nf {
							break
						}
						sleepFor(dctx, time.Duration(1<<try)*time.Second)
					}
					dcancel()
				}
				sleepFor(ctx, jittered(backoff))
				backoff = min(2*backoff, map[bool]time.Duration{false: 10 * time.Minute, true: time.Hour}[paced])
			}
		}()
	}
	const step = 30 * time.Second
	prev := t0
	var t1 procstat.Sample
	for el := step; el <= window; el += step {
		time.Sleep(time.Until(t0.At.Add(el)))
		s, err := procstat.Read(pid)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%3.0fs: tor %5.1f %% %4d MB; answers: %d not found, %d unanswered, %d other",
			el.Seconds(), procstat.CPUPercent(prev, s), s.RSS>>20, notFound.Load(), unanswered.Load(), other.Load())
		prev = s
		if el == 2*step {
			t1 = s
		}
	}
	b.StopTimer()
	cancel()
	wg.Wait()
	b.ReportMetric(procstat.CPUPercent(t0, t1), "tor-start-%cpu")
	b.ReportMetric(procstat.CPUPercent(t1, prev), "tor-idle-%cpu")
	b.ReportMetric(float64(t0.RSS>>20), "tor-MB-start")
	b.ReportMetric(float64(prev.RSS>>20), "tor-MB-end")
	b.ReportMetric(float64(notFound.Load()), "not-found")
	b.ReportMetric(float64(unanswered.Load()), "unanswered")
}

// dialMaxDescMissesOld is the old Dial's requests per dial for a missing
// descriptor (the control reproduces the old pattern).
const dialMaxDescMissesOld = 3

// controlPool is the core's maxDialsAtOnce.
const controlPool = 4

func asReply(err error, re **socks.ReplyError) bool {
	e, ok := err.(*socks.ReplyError)
	if ok {
		*re = e
	}
	return ok
}

func sleepFor(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func jittered(d time.Duration) time.Duration {
	var b [8]byte
	rand.Read(b[:])
	f := float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53)
	return time.Duration(float64(d) * (0.75 + 0.5*f))
}
