package sotto

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sottochat/sotto/internal/contactcode"
	"github.com/sottochat/sotto/internal/procstat"
	"github.com/sottochat/sotto/onion"
)

// BenchmarkTorIdleContacts measures what an idle profile with many contacts
// costs (issue 16 goal 4): a profile with off contacts that are offline
// (random onion addresses whose descriptors do not exist: they were never
// published) and on contacts that are online and have chatted, left alone
// for SOTTO_IDLE_WINDOW with the production dial schedule (defaultTiming). It
// reports, read from /proc: how long the start-up round of dials took
// (until the dialer called every offline contact offline) and tor's CPU
// over it; then, over the window that follows, the CPU share of one core
// and the RSS of the profile's tor and of the Sotto process, over its first
// minute and over the rest (the idle cost), and over the whole window, with
// the dials made in each 30 s.
//
// The Sotto figure is this test process: it also runs the engine that
// plays the online contacts, so it is an upper bound. The control with a
// plain tor client requesting the same kind of addresses at the old
// schedule's rate is onion's BenchmarkOfflineDialsControl.
//
//	SOTTO_IDLE_WINDOW=3m go test -run '^$' -bench TorIdleContacts -benchtime 1x .
//	SOTTO_IDLE_WINDOW=35m go test -run '^$' -bench 'TorIdleContacts/off=190' -benchtime 1x .
//
// 35 minutes cover the first re-dials of the offline contacts (15-30 min
// after the start-up round found them offline, dialgate.go).
func BenchmarkTorIdleContacts(b *testing.B) {
	for _, c := range []struct{ off, on int }{{10, 1}, {100, 1}, {190, 10}} {
		b.Run(fmt.Sprintf("off=%d,on=%d", c.off, c.on), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				idleContacts(b, c.off, c.on)
			}
		})
	}
}

// idleWindow is how long BenchmarkTorIdleContacts watches an idle profile:
// SOTTO_IDLE_WINDOW, a Go duration of at least 2 minutes. Unset, the
// benchmark is skipped (it takes minutes per case; scripts/bench.sh sets it).
func idleWindow(b *testing.B) time.Duration {
	s := os.Getenv("SOTTO_IDLE_WINDOW")
	if s == "" {
		b.Skip("set SOTTO_IDLE_WINDOW (e.g. 3m) to watch an idle profile that long")
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 2*time.Minute {
		b.Fatalf("SOTTO_IDLE_WINDOW=%q: want a duration of at least 2m", s)
	}
	return d
}

func idleContacts(b *testing.B, off, on int) {
	b.StopTimer()
	window := idleWindow(b)
	ad, an := torProfile(b)
	cd, cn := torProfile(b)
	ao := torOptions(ad, an, nil)
	ao.timing = defaultTiming // the schedule users get
	// Count the contacts the dialer has called offline: the start-up round
	// of dials ends when every offline contact is. Count the dials too:
	// each is a descriptor fetch, what the CPU of an idle tor goes to.
	var offline, dials atomic.Int64
	logf := ao.logf
	ao.logf = func(f string, args ...any) {
		if strings.Contains(f, "offline after") {
			offline.Add(1)
		}
		if strings.HasSuffix(f, ": dialing") {
			dials.Add(1)
		}
		logf(f, args...)
	}
	a := openTorPeer(b, ao)
	co := torOptions(cd, cn, nil)
	co.timing = defaultTiming // the same keep-alive and idle limits on both sides
	c := openTorPeer(b, co)
	ctx := context.Background()

	// Spread the contacts over as few identities as client auth allows,
	// and one per online contact: the online contacts are identities of
	// one other profile, and a profile reaches an onion from one of its
	// identities only (tor keeps one client-auth key per address).
	per := onion.MaxClientAuth
	nids := max((off+on+per-1)/per, on)
	for i := range nids {
		mustID(b, a, fmt.Sprintf("a%d", i), IdentityOptions{})
		a.waitOnline(fmt.Sprintf("a%d", i))
	}
	aid := func(k int) string { return fmt.Sprintf("a%d", k%nids) }
	// The online contacts first (they have chatted), then the offline ones.
	unbounded(c)
	for k := range on {
		name := fmt.Sprintf("on%d", k)
		mustID(b, c, name, IdentityOptions{})
		c.waitOnline(name)
		befriend(b, a, aid(k), "alice", c, name, name)
		if _, err := a.e.Send(ctx, aid(k), name, "hello "+name); err != nil {
			b.Fatal(err)
		}
		c.waitText("hello " + name)
	}

	for k := range off {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		code := contactcode.Code{ID: pub}
		rand.Read(code.Auth[:])
		if _, err := a.e.AddContact(ctx, aid(k), fmt.Sprintf("off%d", k), code.String()); err != nil {
			b.Fatal(err)
		}
	}
	tors, err := procstat.Children(os.Getpid(), "-f", ad)
	if err != nil {
		b.Skip(err)
	}
	if len(tors) != 1 {
		b.Fatalf("found %d tors of the profile, want 1", len(tors))
	}
	tor := tors[0]
	read := func() (t, s procstat.Sample) {
		t, err1 := procstat.Read(tor)
		s, err2 := procstat.Read(os.Getpid())
		if err1 != nil || err2 != nil {
			b.Fatalf("reading /proc: %v %v", err1, err2)
		}
		return t, s
	}
	// The start-up round: until every offline contact was called offline.
	r0, _ := read()
	roundStart := time.Now()
	for offline.Load() < int64(off) && time.Since(roundStart) < 15*time.Minute {
		time.Sleep(time.Second)
	}
	r1, _ := read()
	b.Logf("start-up round: %v, tor %.1f %% of a core, %d of %d contacts offline", time.Since(roundStart).Round(time.Second), procstat.CPUPercent(r0, r1), offline.Load(), off)
	b.ReportMetric(time.Since(roundStart).Seconds(), "round-s")
	b.ReportMetric(procstat.CPUPercent(r0, r1), "tor-round-%cpu")
	b.StartTimer()
	t0, s0 := read()
	d0 := dials.Load()
	const step = 30 * time.Second
	var t1, s1 procstat.Sample
	prevT, prevS, prevD := t0, s0, d0
	for el := step; el <= window; el += step {
		time.Sleep(time.Until(t0.At.Add(el)))
		tn, sn := read()
		dn := dials.Load()
		b.Logf("%4.0fs: tor %5.1f %% %4d MB, sotto %5.1f %% %4d MB, %3d dials", el.Seconds(),
			procstat.CPUPercent(prevT, tn), tn.RSS>>20, procstat.CPUPercent(prevS, sn), sn.RSS>>20, dn-prevD)
		prevT, prevS, prevD = tn, sn, dn
		if el == 2*step {
			t1, s1 = tn, sn
		}
	}
	b.StopTimer()
	// The whole window, first minute included (the idle figures below
	// leave it out): what the profile costs on average once started.
	torW, sottoW := procstat.CPUPercent(t0, prevT), procstat.CPUPercent(s0, prevS)
	b.Logf("window %v: tor %.2f %%, sotto %.2f %%, both %.2f %% of a core; %d dials", window, torW, sottoW, torW+sottoW, prevD-d0)
	b.ReportMetric(torW, "tor-window-%cpu")
	b.ReportMetric(sottoW, "sotto-window-%cpu")
	b.ReportMetric(float64(prevD-d0), "window-dials")
	b.ReportMetric(procstat.CPUPercent(t0, t1), "tor-start-%cpu")
	b.ReportMetric(procstat.CPUPercent(t1, prevT), "tor-idle-%cpu")
	b.ReportMetric(procstat.CPUPercent(s1, prevS), "sotto-idle-%cpu")
	b.ReportMetric(procstat.CPUPercent(t1, prevT)+procstat.CPUPercent(s1, prevS), "both-idle-%cpu")
	b.ReportMetric(float64(t0.RSS>>20), "tor-MB-start")
	b.ReportMetric(float64(prevT.RSS>>20), "tor-MB-end")
	b.ReportMetric(float64(prevS.RSS>>20), "sotto-MB-end")

	// The online contacts are still connected (or reconnect) and talk.
	for k := range on {
		name := fmt.Sprintf("on%d", k)
		if cs, err := a.e.Contacts(aid(k)); err == nil {
			for _, ci := range cs {
				if ci.Name == name {
					b.Logf("%s online at the end of the window: %v", name, ci.Online)
				}
			}
		}
		if _, err := c.e.Send(ctx, name, "alice", "still here "+name); err != nil {
			b.Fatal(err)
		}
		a.waitText("still here " + name)
	}
	a.close()
	c.close()
}
