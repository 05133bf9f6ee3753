package sotto

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/vault"
)

// BenchmarkTorFileThroughput moves a file from alice to bob over the
// private Tor network, each with its own tor, and in the same run measures
// a raw onion stream between the same two tors (the bytes written straight
// to a stream, no Sotto), once before the file and once after it, so that
// a change of the machine's load during the run shows (both are logged)
// and the file is compared with their mean: the file's throughput must be
// at least 70 % of the raw stream's. It also samples the test process's resident memory
// (both engines live in it) while the file moves and reports its growth,
// which must stay under 32 MiB.
//
// The raw stream of %-of-raw goes from alice's tor, the client, to a
// service of bob's tor. The file goes over the session, and when bob dialed
// it (logged) the file flows from the service's side to the client's; so
// each round also measures, before and after the file, a raw stream with
// the roles of the file's session (the dialer's tor the client, the
// service's side writing), and reports the file against it too
// (%-of-raw-as-session). Three runs on a 2-core machine (load average 0.3
// to 1.6; 4 rounds of 32 MiB streams, then twice the benchmark's 3 rounds),
// raw streams in MB/s: client to service 6.7 to 14.5, 3.1 to 13.5 and 8.4
// to 16.9; service to client 6.1 to 10.8, 7.7 to 10.7 and 5.6 to 13.0. The
// service's side to the client's is often the slower way, not always;
// fresh circuits differ by up to 4x within a run, while the file stays on
// the session's one circuit for every round. Broken raw streams are logged
// after the rounds (a benchmark's log keeps its first 10 lines).
//
// The size is 64 MiB; SOTTO_BENCH_FILE_MIB=1024 moves 1 GiB (slow):
//
//	SOTTO_BENCH_FILE_MIB=1024 go test -run '^$' -bench TorFileThroughput -benchtime 1x .
func BenchmarkTorFileThroughput(b *testing.B) {
	mib := 64
	if s := os.Getenv("SOTTO_BENCH_FILE_MIB"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("SOTTO_BENCH_FILE_MIB=%q: a number of MiB", s)
		}
		mib = n
	}
	size := int64(mib) << 20
	a, c := torPair(b)
	ctx := context.Background()
	if err := c.e.SetFileLimits(FileLimits{MaxSize: size, AutoAccept: size}); err != nil {
		b.Fatal(err)
	}
	if err := a.e.SetFileLimits(FileLimits{MaxSize: size}); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "bench.bin")
	writeRandom(b, path, size)
	aTor := a.e.cfg.net.(*onionNet).t
	cTor := c.e.cfg.net.(*onionNet).t

	// The roles of the session the file will use: if bob dialed it, alice's
	// tor is the service's side and writes to bob's, the client.
	a.e.mu.Lock()
	aliceDialed := true
	for _, id := range a.e.ids {
		for _, ct := range id.contacts {
			if ct.sess != nil {
				aliceDialed = ct.sess.initiator
			}
		}
	}
	a.e.mu.Unlock()
	sessCli, sessSrv, srvWrites := aTor, cTor, false
	if !aliceDialed {
		sessCli, sessSrv, srvWrites = cTor, aTor, true
	}
	b.Logf("the session was dialed by %s: the file flows from the %s's side to the %s's",
		map[bool]string{true: "alice", false: "bob"}[aliceDialed],
		map[bool]string{true: "client", false: "service"}[aliceDialed],
		map[bool]string{true: "service", false: "client"}[aliceDialed])

	var rawTotal, sameTotal, fileTotal time.Duration
	var peakGrowth int64
	var runs, breaks []string
	raw := func(cli, srv *onion.Tor, size int64, srvWrites bool) time.Duration {
		return rawStream(b, cli, srv, size, srvWrites, &breaks)
	}
	for i := 0; i < b.N; i++ {
		before := raw(aTor, cTor, size, false)
		sameBefore := before // alice dialed: the same roles
		if !aliceDialed {
			sameBefore = raw(sessCli, sessSrv, size, srvWrites)
		}

		base := rssKiB(b)
		var peak atomic.Int64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				if r := rssKiB(b); r > peak.Load() {
					peak.Store(r)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		fi, err := a.e.SendFile(ctx, "alice", "bob", path, SendFileOptions{KeepMetadata: true})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		c.waitFor(time.Hour, "file received", func(ev Event) bool {
			r, ok := ev.(FileReceivedEvent)
			if f, bad := ev.(FileFailedEvent); bad && f.File.ID == fi.ID {
				b.Fatalf("file failed: %s", f.File.Err)
			}
			return ok && r.File.ID == fi.ID
		})
		took := time.Since(start)
		fileTotal += took
		close(stop)
		<-done
		if g := peak.Load() - base; g > peakGrowth {
			peakGrowth = g
		}
		// Make room for the next round.
		c.e.RejectFile(ctx, fi.ID)
		after := raw(aTor, cTor, size, false)
		sameAfter := after
		if !aliceDialed {
			sameAfter = raw(sessCli, sessSrv, size, srvWrites)
		}
		rawTotal += (before + after) / 2
		sameTotal += (sameBefore + sameAfter) / 2
		mbs := func(d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
		runs = append(runs, fmt.Sprintf("raw %.2f MB/s (as the session: %.2f), file %.2f MB/s, raw %.2f MB/s (as the session: %.2f); RSS +%.1f MiB",
			mbs(before), mbs(sameBefore), mbs(took), mbs(after), mbs(sameAfter), float64(peak.Load()-base)/1024))
	}
	for _, r := range runs {
		b.Logf("in turn: %s", r)
	}
	rawMBs := float64(size) * float64(b.N) / rawTotal.Seconds() / 1e6
	fileMBs := float64(size) * float64(b.N) / fileTotal.Seconds() / 1e6
	sameMBs := float64(size) * float64(b.N) / sameTotal.Seconds() / 1e6
	b.ReportMetric(rawMBs, "raw-MB/s")
	b.ReportMetric(sameMBs, "raw-as-session-MB/s")
	b.ReportMetric(fileMBs, "file-MB/s")
	b.ReportMetric(100*fileMBs/rawMBs, "%-of-raw")
	b.ReportMetric(100*fileMBs/sameMBs, "%-of-raw-as-session")
	b.ReportMetric(float64(peakGrowth)/1024, "RSS-growth-MiB")
	b.Logf("%d MiB: raw stream %.2f MB/s, file %.2f MB/s (%.0f %%; %.0f %% of a raw stream as the session, %.2f MB/s), resident memory grew by %.1f MiB at most",
		mib, rawMBs, fileMBs, 100*fileMBs/rawMBs, 100*fileMBs/sameMBs, sameMBs, float64(peakGrowth)/1024)
	for _, m := range breaks {
		b.Logf("raw stream broken, measured again on a new stream: %s", m)
	}
}

// writeRandom writes size random bytes to path without holding them.
func writeRandom(b testing.TB, path string, size int64) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := io.CopyN(w, rand.Reader, size); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
}

// rawStream sends size bytes from the client tor to an onion service of
// the server tor (with srvWrites, from the service to the client) and
// returns the time from the first byte written to the reader's
// confirmation that it read them all. A stream that tor breaks
// (seen on the loaded private network: the service's side ends at once,
// the client's stalls) is measured again on a new service, up to three
// times, and each break added to breaks.
func rawStream(b testing.TB, cli, srv *onion.Tor, size int64, srvWrites bool, breaks *[]string) time.Duration {
	once := rawStreamOnce
	if srvWrites {
		once = rawStreamFromService
	}
	d, err := once(cli, srv, size)
	for i := 0; err != nil && i < 3; i++ {
		*breaks = append(*breaks, err.Error())
		d, err = once(cli, srv, size)
	}
	if err != nil {
		b.Fatalf("raw stream: %v", err)
	}
	return d
}

func rawStreamOnce(cli, srv *onion.Tor, size int64) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	svc, err := publishRandom(ctx, srv)
	if err != nil {
		return 0, err
	}
	defer svc.Close()
	type result struct {
		n   int64
		err error
	}
	served := make(chan result, 1)
	go func() {
		c, err := svc.Accept()
		if err != nil {
			served <- result{err: fmt.Errorf("the server's accept: %w", err)}
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(10 * time.Minute))
		n, err := io.CopyN(io.Discard, c, size)
		served <- result{n, err}
		var out [8]byte
		binary.BigEndian.PutUint64(out[:], uint64(n))
		c.Write(out[:])
	}()
	conn, err := dialUntil(ctx, cli, "rawbench", svc.Addr())
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	buf := make([]byte, 32<<10)
	start := time.Now()
	broken := func(what string, err error) error {
		select {
		case r := <-served:
			return fmt.Errorf("%s after %v: %w (the server read %d bytes: %v)", what, time.Since(start).Round(time.Millisecond), err, r.n, r.err)
		default:
			return fmt.Errorf("%s after %v: %w", what, time.Since(start).Round(time.Millisecond), err)
		}
	}
	for sent := int64(0); sent < size; {
		n := min(int64(len(buf)), size-sent)
		// A stream that stops moving for 30 s is broken.
		conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := conn.Write(buf[:n]); err != nil {
			return 0, broken(fmt.Sprintf("writing byte %d of %d", sent, size), err)
		}
		sent += n
	}
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	var got [8]byte
	if _, err := io.ReadFull(conn, got[:]); err != nil {
		return 0, broken("reading the server's count", err)
	}
	if n := int64(binary.BigEndian.Uint64(got[:])); n != size {
		return 0, fmt.Errorf("the server read %d of %d bytes", n, size)
	}
	return time.Since(start), nil
}

// rawStreamFromService is rawStreamOnce the other way: the service's side
// writes size bytes to the client, timed from its first byte written to
// the client's count of the bytes it read.
func rawStreamFromService(cli, srv *onion.Tor, size int64) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	svc, err := publishRandom(ctx, srv)
	if err != nil {
		return 0, err
	}
	defer svc.Close()
	type result struct {
		d   time.Duration
		err error
	}
	served := make(chan result, 1)
	go func() {
		c, err := svc.Accept()
		if err != nil {
			served <- result{err: fmt.Errorf("the server's accept: %w", err)}
			return
		}
		defer c.Close()
		buf := make([]byte, 32<<10)
		start := time.Now()
		for sent := int64(0); sent < size; {
			n := min(int64(len(buf)), size-sent)
			// A stream that stops moving for 30 s is broken.
			c.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.Write(buf[:n]); err != nil {
				served <- result{err: fmt.Errorf("the service writing byte %d of %d after %v: %w", sent, size, time.Since(start).Round(time.Millisecond), err)}
				return
			}
			sent += n
		}
		c.SetReadDeadline(time.Now().Add(time.Minute))
		var got [8]byte
		if _, err := io.ReadFull(c, got[:]); err != nil {
			served <- result{err: fmt.Errorf("reading the client's count: %w", err)}
			return
		}
		if n := int64(binary.BigEndian.Uint64(got[:])); n != size {
			served <- result{err: fmt.Errorf("the client read %d of %d bytes", n, size)}
			return
		}
		served <- result{d: time.Since(start)}
	}()
	conn, err := dialUntil(ctx, cli, "rawbench", svc.Addr())
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	// A stream that stops moving for 30 s is broken (the service then
	// reports its write's timeout; a stall here ends the read).
	n, rerr := io.CopyN(io.Discard, &deadlineReader{conn, 30 * time.Second}, size)
	var out [8]byte
	binary.BigEndian.PutUint64(out[:], uint64(n))
	conn.SetWriteDeadline(time.Now().Add(time.Minute))
	conn.Write(out[:])
	r := <-served
	if r.err == nil && rerr != nil {
		r.err = fmt.Errorf("the client read %d of %d bytes: %w", n, size, rerr)
	}
	return r.d, r.err
}

// deadlineReader reads with a deadline renewed before every read.
type deadlineReader struct {
	c    net.Conn
	idle time.Duration
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	d.c.SetReadDeadline(time.Now().Add(d.idle))
	return d.c.Read(p)
}

// rssKiB is this process's resident set, from /proc/self/status.
func rssKiB(b testing.TB) int64 {
	s, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(s), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// BenchmarkPipeFileVault: the engine's own cost of moving a file (scrub
// skipped, ratchet, framing, vault storage with its fsyncs on both sides)
// over an in-memory pipe, no Tor: the ceiling Tor's throughput is compared
// against.
func BenchmarkPipeFileVault(b *testing.B) {
	n := newMemNet()

	mk := func() *testPeer {
		dir := b.TempDir() + "/v"
		v, err := vault.Create(dir, benchPass(b), &vault.Options{UnsafeWorkFactor: 10})
		if err != nil {
			b.Fatal(err)
		}
		e, err := newEngine(engineConfig{disk: &vaultStore{v: v}, net: n.tor(), timing: torTiming,
			newSecret: func(b []byte) (secretBox, error) { return vault.NewSecret(b) },
			newLocked: func(n int) (lockedBuf, error) { return vault.NewLocked(n) }, closeFn: v.Close})
		if err != nil {
			b.Fatal(err)
		}
		e.start()
		return watchEvents(&testPeer{t: b, e: e}, 100000)
	}
	a, c := mk(), mk()
	mustID(b, a, "alice", IdentityOptions{})
	mustID(b, c, "bob", IdentityOptions{})
	befriend(b, a, "alice", "alice", c, "bob", "bob")
	const size = 16 << 20
	c.e.SetFileLimits(FileLimits{MaxSize: size, AutoAccept: size})
	path := filepath.Join(b.TempDir(), "f.bin")
	writeRandom(b, path, size)
	ctx := context.Background()
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fi, err := a.e.SendFile(ctx, "alice", "bob", path, SendFileOptions{KeepMetadata: true})
		if err != nil {
			b.Fatal(err)
		}
		c.waitFor(10*time.Minute, "received", func(ev Event) bool {
			r, ok := ev.(FileReceivedEvent)
			return ok && r.File.ID == fi.ID
		})
		c.e.RejectFile(ctx, fi.ID)
	}
}
