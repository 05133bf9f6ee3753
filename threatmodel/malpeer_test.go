package threatmodel

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sottochat/sotto/internal/contactcode"
	"github.com/sottochat/sotto/internal/e2e"
	"github.com/sottochat/sotto/internal/wire"
	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/ratchet"
)

// T23: a stranger who has an open-mode identity's contact code attacks it
// over Tor: garbage, a huge length prefix, a malformed handshake, a stall
// mid-frame, a flood of half-open connections, a replay of its own recorded
// session, and ratchet messages whose counters run far past the skip bound.
//
// TestT23HostilePeerOverTor mounts all of it against a real `sotto headless`
// over the private Tor network, from an attacker with its own tor (the
// descriptor of an open-mode identity is public to whoever has its address).
// Throughout, the client answers on its headless interface, a real contact's
// message sent during the flood is delivered, the client's resident memory
// stays bounded, and nothing the attacker sends becomes more than the one
// contact request its honest first session made.

// adLabel and adFor copy the associated data of Sotto's data frames
// (docs/PROTOCOL.md): the label, then the sender's and the receiver's
// Ed25519 public keys.
const adLabel = "sotto/2 data"

func adFor(from, to ed25519.PublicKey) []byte {
	return append(append([]byte(adLabel), from...), to...)
}

// recorder keeps a copy of everything written to a connection.
type recorder struct {
	net.Conn
	mu  sync.Mutex
	out bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.out.Write(p)
	r.mu.Unlock()
	return r.Conn.Write(p)
}

// attacker is a stranger with its own identity key and its own tor.
type attacker struct {
	tor  *onion.Tor
	seed [32]byte
	pub  ed25519.PublicKey
	auth *ecdh.PrivateKey
}

func newAttacker(t *testing.T, ctx context.Context) *attacker {
	t.Helper()
	dir, err := os.MkdirTemp("", "tma")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tor, err := onion.Start(ctx, onion.Config{DataDir: dir + "/tor", Network: tnet.ClientTorrc()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tor.Close() })
	if err := tor.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	a := &attacker{tor: tor}
	rand.Read(a.seed[:])
	a.pub = ed25519.NewKeyFromSeed(a.seed[:]).Public().(ed25519.PublicKey)
	if a.auth, err = ecdh.X25519().GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	return a
}

// handshake runs the initiator's side of Sotto's handshake over conn and
// reads the responder's hello. It returns the ratchet state.
func (a *attacker) handshake(conn net.Conn, peer ed25519.PublicKey) (*ratchet.State, error) {
	h, err := ratchet.NewInitiator(rand.Reader, peer, nil)
	if err != nil {
		return nil, err
	}
	defer h.Clear()
	m1, err := h.Hello()
	if err != nil {
		return nil, err
	}
	b, _ := wire.AppendFrame(wire.Preamble(), wire.FrameHandshake, m1)
	if _, err := conn.Write(b); err != nil {
		return nil, err
	}
	if err := wire.ReadPreamble(conn); err != nil {
		return nil, fmt.Errorf("preamble: %w", err)
	}
	m2, err := readFrame(conn, wire.FrameHandshake)
	if err != nil {
		return nil, fmt.Errorf("m2: %w", err)
	}
	m3, err := h.Authenticate(m2, &a.seed)
	if err != nil {
		return nil, err
	}
	if err := wire.WriteFrame(conn, wire.FrameHandshake, m3); err != nil {
		return nil, err
	}
	m4, err := readFrame(conn, wire.FrameHandshake)
	if err != nil {
		return nil, fmt.Errorf("m4: %w", err)
	}
	st, err := h.Finish(m4)
	if err != nil {
		return nil, err
	}
	ct, err := readFrame(conn, wire.FrameData)
	if err != nil {
		return nil, fmt.Errorf("hello: %w", err)
	}
	pt, err := st.Decrypt(time.Now(), ct, adFor(peer, a.pub))
	if err != nil {
		return nil, err
	}
	hello, err := wire.ParseMessage(pt)
	if err != nil || hello.Kind != wire.KindHello || hello.Status != wire.HelloRequest {
		return nil, fmt.Errorf("hello %+v, %v: want a request hello", hello, err)
	}
	return st, nil
}

func readFrame(r io.Reader, want wire.FrameType) ([]byte, error) {
	t, content, err := wire.ReadFrame(r, nil)
	if err != nil {
		return nil, err
	}
	if t != want {
		return nil, fmt.Errorf("frame %v, want %v", t, want)
	}
	return content, nil
}

// dropped waits until the peer closes conn (reading and discarding what it
// sends) and fails if it has not within d.
func dropped(t *testing.T, conn net.Conn, what string, d time.Duration) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(d))
	start := time.Now()
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the client did not drop the connection within %v", what, d)
	}
	t.Logf("%s: dropped after %v", what, time.Since(start).Round(time.Millisecond))
}

func TestT23HostilePeerOverTor(t *testing.T) {
	needNetwork(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	owner, oc := newUser(t, "owner", false)
	owner.Must("id", "new", "tips", "--open")
	tipsCode := strings.TrimSpace(owner.Must("id", "card", "tips", "--no-qr"))
	friend, fc := newUser(t, "friend", false)
	owner.Must("contact", "add", "owner", "friend", fc)
	friend.Must("contact", "add", "friend", "owner", oc)

	no, nf := startReady(t, owner, []string{"tips", "owner"}), startReady(t, friend, []string{"friend"})
	tips, _ := no.WaitFor(0, readyWithin, "tips ready", e2e.Is(map[string]any{"event": "ready", "identity": "tips"}))
	// The attacker knows what the tip line's contact code says, nothing more.
	code, err := contactcode.Parse(tipsCode)
	if err != nil {
		t.Fatal(err)
	}
	tipsPub := code.ID
	tipsOnion := onion.AddressFromPublicKey(tipsPub)
	if tipsOnion != fmt.Sprint(tips["onion"]) {
		t.Fatalf("the code names %s, the ready event %s", tipsOnion, tips["onion"])
	}
	pid := no.PID(false)
	a := newAttacker(t, ctx)
	send(t, nf, "friend", "owner", no, "owner", "before the attack")
	rssBefore := vmRSS(t, pid)
	var rssPeak atomic.Int64
	rssPeak.Store(int64(rssBefore))
	sample := func() {
		if k := vmRSS(t, pid); int64(k) > rssPeak.Load() {
			rssPeak.Store(int64(k))
		}
	}

	dial := func(from string) net.Conn {
		t.Helper()
		c, err := a.tor.Dial(ctx, from, tipsOnion)
		if err != nil {
			t.Fatalf("attacker cannot reach the open-mode identity: %v", err)
		}
		return c
	}

	t.Run("malformed", func(t *testing.T) {
		huge := append(wire.Preamble(), 0x7f, 0xff, 0xff, 0xff)
		badHS, _ := wire.AppendFrame(wire.Preamble(), wire.FrameHandshake, bytes.Repeat([]byte{0xa5}, 200))
		stall, _ := wire.AppendFrame(wire.Preamble(), wire.FrameHandshake, bytes.Repeat([]byte{1}, 100))
		cases := []struct {
			name    string
			payload []byte
		}{
			{"garbage", []byte("GET / HTTP/1.1\r\nHost: tips\r\n\r\n")},
			{"random bytes", randomBytes(4096)},
			{"wrong version", append([]byte("sotto\x00\x00\x09"), 0, 0, 1, 0)},
			{"huge length prefix", huge},
			{"odd length prefix", append(wire.Preamble(), 0, 0, 0x10, 0x01)},
			{"bad handshake", badHS},
			{"huge prefix after a good hello", func() []byte {
				h, _ := ratchet.NewInitiator(rand.Reader, tipsPub, nil)
				m1, _ := h.Hello()
				h.Clear()
				b, _ := wire.AppendFrame(wire.Preamble(), wire.FrameHandshake, m1)
				return binary.BigEndian.AppendUint32(b, 0xfffffff0)
			}()},
		}
		for _, c := range cases {
			conn := dial("malformed")
			conn.Write(c.payload)
			dropped(t, conn, c.name, 60*time.Second)
			conn.Close()
			sample()
		}
		// Stalled mid-frame: dropped by the handshake deadline, which is
		// long (90 s) for slow Tor links; here we only check it stays open
		// without harm while the rest goes on, and close it ourselves.
		conn := dial("malformed")
		conn.Write(stall[:len(stall)/2])
		defer conn.Close()
	})

	t.Run("replayed session", func(t *testing.T) {
		mark := no.Mark()
		conn := &recorder{Conn: dial("replay-1")}
		st, err := a.handshake(conn, tipsPub)
		if err != nil {
			t.Fatalf("an honest handshake as a stranger failed: %v", err)
		}
		var id [wire.IDLen]byte
		rand.Read(id[:])
		req := &wire.Message{Kind: wire.KindRequest, HasFirst: true, ID: id, At: uint64(time.Now().Unix()), Text: "a tip, once"}
		copy(req.AuthKey[:], a.auth.PublicKey().Bytes())
		pt, err := req.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		ct, err := st.Encrypt(rand.Reader, pt, adFor(a.pub, tipsPub))
		if err != nil {
			t.Fatal(err)
		}
		if err := wire.WriteFrame(conn, wire.FrameData, ct); err != nil {
			t.Fatal(err)
		}
		no.WaitFor(mark, deliverWithin, "the honest request", e2e.Is(map[string]any{"event": "request", "identity": "tips"}))
		conn.Close()
		st.Wipe()
		conn.mu.Lock()
		rec := append([]byte(nil), conn.out.Bytes()...)
		conn.mu.Unlock()

		// The same bytes again, on a fresh circuit: the responder's fresh
		// handshake values make the recorded message 3 fail.
		for i := 0; i < 3; i++ {
			c := dial(fmt.Sprintf("replay-%d", i+2))
			c.Write(rec)
			dropped(t, c, "replayed session", 60*time.Second)
			c.Close()
		}
		r := no.Do(time.Minute, map[string]any{"cmd": "requests", "identity": "tips"})
		if rs := r["requests"].([]any); len(rs) != 1 {
			t.Fatalf("%d requests after replays, want the one honest request", len(rs))
		}
		sample()
	})

	t.Run("counters past the skip bound", func(t *testing.T) {
		for _, skip := range []int{ratchet.MaxSkip + 1, 5 * ratchet.MaxSkip} {
			conn := dial(fmt.Sprintf("skip-%d", skip))
			st, err := a.handshake(conn, tipsPub)
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			// Encrypt skip+1 messages and send only the last: its counter
			// is skip past the receiver's.
			var ct []byte
			for i := 0; i <= skip; i++ {
				if ct, err = st.Encrypt(rand.Reader, []byte("x"), adFor(a.pub, tipsPub)); err != nil {
					t.Fatal(err)
				}
			}
			st.Wipe()
			if err := wire.WriteFrame(conn, wire.FrameData, ct); err != nil {
				t.Fatal(err)
			}
			dropped(t, conn, fmt.Sprintf("counter %d ahead", skip), 60*time.Second)
			conn.Close()
			sample()
		}
	})

	t.Run("half-open flood", func(t *testing.T) {
		// 1000 streams that send half a preamble and stall, spread over
		// circuits of 25 streams (under tor's per-circuit stream limit).
		const total, perCircuit, workers = 1000, 25, 40
		var (
			mu    sync.Mutex
			conns []net.Conn
			fails int
			errs  = map[string]int{}
			wg    sync.WaitGroup
			next  atomic.Int64
		)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= total {
						return
					}
					c, err := a.tor.Dial(ctx, fmt.Sprintf("flood-%d", i/perCircuit), tipsOnion)
					mu.Lock()
					if err != nil {
						fails++
						errs[err.Error()]++
						mu.Unlock()
						continue
					}
					conns = append(conns, c)
					mu.Unlock()
					c.Write([]byte("sot"))
				}
			}()
		}
		// During the flood: the client answers, and the friend's message
		// gets through.
		time.Sleep(2 * time.Second)
		no.Do(time.Minute, map[string]any{"cmd": "ping"})
		send(t, nf, "friend", "owner", no, "owner", "during the flood")
		wg.Wait()
		sample()
		mu.Lock()
		open := len(conns)
		mu.Unlock()
		t.Logf("flood: %d streams open and stalled, %d dials failed %v; VmRSS %d KiB before, peak %d KiB", open, fails, errs, rssBefore, rssPeak.Load())
		if open < total/2 {
			t.Fatalf("only %d of %d half-open streams got through: the flood did not happen", open, total)
		}
		no.Do(time.Minute, map[string]any{"cmd": "ping"})
		send(t, nf, "friend", "owner", no, "owner", "with the flood still open")
		send(t, no, "owner", "friend", nf, "friend", "and back")
		sample()
		for _, c := range conns {
			c.Close()
		}
	})

	no.Do(time.Minute, map[string]any{"cmd": "ping"})
	send(t, nf, "friend", "owner", no, "owner", "after the attack")
	if m := no.All(0, func(m map[string]any) bool { return m["event"] == "message" && m["identity"] == "tips" }); len(m) != 0 {
		t.Fatalf("the attacker got messages through to tips: %v", m)
	}
	// Everything the attacker sent became, in all, the one request of its
	// honest session.
	r := no.Do(time.Minute, map[string]any{"cmd": "requests", "identity": "tips"})
	if rs := r["requests"].([]any); len(rs) != 1 {
		t.Fatalf("%d requests on tips after the attack, want the one honest request", len(rs))
	}
	if k := len(no.All(0, e2e.Is(map[string]any{"event": "request"}))); k != 1 {
		t.Fatalf("%d request events, want 1", k)
	}
	peak := int(rssPeak.Load())
	t.Logf("VmRSS of the attacked client: %d KiB before, peak %d KiB", rssBefore, peak)
	if peak-rssBefore > maxAttackGrowthKiB {
		t.Fatalf("resident memory grew by %d KiB under attack, more than %d KiB", peak-rssBefore, maxAttackGrowthKiB)
	}
}

// maxAttackGrowthKiB bounds the growth of the attacked client's resident
// memory: 1000 stalled streams at a few KiB each (a goroutine stack, a
// connection, a preamble buffer) plus the Go heap's slack.
//
// A weakness of this measure, seen on some runs: before the attack the
// client's VmRSS was 79 MiB on one run and 276 MiB on others, the difference
// consistent with the scrypt buffer of the vault unlock (128*r*N bytes, 256
// MiB at N=2^18), freed but not yet returned to the kernel by Go's scavenger. Allocations made during the attack can
// reuse those resident pages without raising VmRSS, so up to that much
// growth could hide under the baseline. The bound still catches a client
// that keeps per-stream buffers of the size an attacker asks for (2 GiB
// length prefixes) or grows without bound with the number of streams.
const maxAttackGrowthKiB = 64 << 10

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
