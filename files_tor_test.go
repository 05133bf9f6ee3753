package sotto

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sottochat/sotto/files"
	"github.com/sottochat/sotto/internal/contactcode"
	"github.com/sottochat/sotto/internal/wire"
	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/ratchet"
)

// TestFileReceiverNeverAcksOverTor is T31 over the private Tor network:
// mallory, a contact alice added, with its own tor, dials alice's onion,
// accepts her file and then never acknowledges a byte of it, while it
// keeps the session alive and answers texts. Alice stops sending at her
// window (files.Window, 16 MiB), and after her idle time with the window
// full (20 s here, 180 s in the product) ends the transfer with a clear
// file_failed; her original file is untouched, and texts go both ways in
// the same conversation while the file is held.
func TestFileReceiverNeverAcksOverTor(t *testing.T) {
	if tn == nil {
		t.Skip("no private Tor network")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir, netFile := torProfile(t)
	o := torOptions(dir, netFile, nil)
	o.timing.Idle = 20 * time.Second
	a := openTorPeer(t, o)
	ai := mustID(t, a, "alice", IdentityOptions{})
	a.waitOnline("alice")
	mtor := launchRawTor(t)

	var seed [32]byte
	rand.Read(seed[:])
	mpub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	auth, _ := ecdh.X25519().GenerateKey(rand.Reader)
	code := (&contactcode.Code{ID: mpub, Auth: [32]byte(auth.PublicKey().Bytes())}).String()
	if _, err := a.e.AddContact(ctx, "alice", "mallory", code); err != nil {
		t.Fatal(err)
	}
	const size = 24 << 20
	path, data := randomFile(t, size)
	fi, err := a.e.SendFile(ctx, "alice", "mallory", path, SendFileOptions{KeepMetadata: true})
	if err != nil {
		t.Fatal(err)
	}

	apub, _ := onion.ParseAddress(ai.Onion)
	priv := auth.Bytes()
	if err := mtor.AddClientAuth(ctx, ai.Onion, func(use func(*[32]byte) error) error {
		var k [32]byte
		copy(k[:], priv)
		defer clear(k[:])
		return use(&k)
	}); err != nil {
		t.Fatal(err)
	}
	var conn net.Conn
	for {
		conn, err = mtor.Dial(ctx, "mallory", ai.Onion)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("mallory cannot reach alice: %v", err)
		}
		time.Sleep(time.Second)
	}
	defer conn.Close()
	st := memHandshake(t, conn, apub, &seed, mpub)
	m := &neverAcker{t: t, conn: conn, st: st, me: mpub, peer: apub, in: make(chan *wire.Message, 4096)}
	go m.readLoop()

	// Mallory's side: accept the offer, take every chunk and never
	// acknowledge one; keep the session alive; answer texts.
	type report struct {
		received, atFirstChunk int
		firstChunk             time.Time
		gotAliceText           bool
		cancel                 *wire.Message
		closedAt               int // bytes received when alice closed the session; -1 if she did not
	}
	aliceText, malloryText := "alice: the file is on its way", "mallory: send me something else"
	stopped := make(chan report, 1)
	var aliceTextID MessageID
	var textAt time.Time
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		r := report{closedAt: -1}
		ka := time.NewTicker(2 * time.Second)
		defer ka.Stop()
		told := false
		tell := func() {
			if !told {
				told = true
				stopped <- r
			}
		}
		defer tell()
		for {
			select {
			case msg, ok := <-m.in:
				if !ok {
					r.closedAt = r.received
					return
				}
				switch msg.Kind {
				case wire.KindFileOffer:
					m.send(&wire.Message{Kind: wire.KindFileAccept, ID: msg.ID})
				case wire.KindFileChunk:
					if r.firstChunk.IsZero() {
						r.firstChunk, r.atFirstChunk = time.Now(), r.received
						// Texts while the file moves, both ways.
						id, err := a.e.Send(ctx, "alice", "mallory", aliceText)
						if err != nil {
							t.Error(err)
							return
						}
						aliceTextID, textAt = id, time.Now()
						var tid [16]byte
						rand.Read(tid[:])
						m.send(&wire.Message{Kind: wire.KindText, ID: tid, At: uint64(time.Now().Unix()), Text: malloryText})
					}
					r.received += len(msg.Data)
				case wire.KindText:
					if msg.Text == aliceText {
						r.gotAliceText = true
						t.Logf("alice's text reached mallory %v after it was sent, with %.1f MiB of the file received",
							time.Since(textAt).Round(time.Millisecond), float64(r.received)/(1<<20))
					}
					m.send(&wire.Message{Kind: wire.KindAck, Acks: [][16]byte{msg.ID}})
				case wire.KindFileCancel:
					if msg.ID == fi.ID {
						r.cancel = msg
						tell()
					}
				}
			case <-ka.C:
				m.send(&wire.Message{Kind: wire.KindKeepalive}) // alive, never an ack
			case <-quit:
				return
			}
		}
	}()
	var r report
	select {
	case r = <-stopped:
	case <-ctx.Done():
		t.Fatal("alice never stopped sending")
	}
	switch {
	case r.cancel == nil:
		t.Fatalf("alice closed the session after %d bytes of the file, before she stopped the transfer", r.closedAt)
	case r.cancel.Status != wire.CancelStalled:
		t.Fatalf("alice cancelled with reason %d, want stalled", r.cancel.Status)
	}
	f := waitFile[FileFailedEvent](a, "failed", fi.ID)
	if !strings.Contains(f.File.Err, "stopped acknowledging") {
		t.Errorf("file_failed says %q, want it to say the contact stopped acknowledging", f.File.Err)
	}
	t.Logf("alice stopped after %d bytes (%.1f MiB) without an acknowledgement, %v after the first chunk: %s",
		r.received, float64(r.received)/(1<<20), time.Since(r.firstChunk).Round(time.Second), f.File.Err)
	if r.received > files.Window || r.received == r.atFirstChunk {
		t.Errorf("alice sent %d bytes without an acknowledgement; want some, and at most her window (%d)", r.received, files.Window)
	}
	if !r.gotAliceText {
		t.Error("alice's text did not reach mallory while the file was held")
	}
	// Texts went both ways: alice's is delivered (mallory acknowledged it)
	// and mallory's is in alice's conversation.
	msgs, err := a.e.Messages("alice", "mallory")
	if err != nil {
		t.Fatal(err)
	}
	var delivered, got bool
	for _, msg := range msgs {
		delivered = delivered || msg.ID == aliceTextID && msg.State == Delivered
		got = got || msg.Dir == Incoming && msg.Text == malloryText
	}
	if !delivered || !got {
		t.Errorf("alice's text delivered: %v; mallory's text received: %v", delivered, got)
	}

	// Nothing lost on alice's side: her original is untouched, the
	// transfer is listed as failed with its reason, and she can send the
	// file again.
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(sha256Sum(b), sha256Sum(data)) {
		t.Errorf("alice's original changed: %v", err)
	}
	info, err := a.e.File(fi.ID)
	if err != nil || info.State != FileFailed || info.Err == "" {
		t.Errorf("alice's record of the file: %+v, %v", info, err)
	}
}

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// neverAcker is mallory's side of a session: a ratchet state shared by a
// reading goroutine and the test's sends.
type neverAcker struct {
	t        *testing.T
	conn     net.Conn
	mu       sync.Mutex
	st       *ratchet.State
	me, peer ed25519.PublicKey
	in       chan *wire.Message
}

func (m *neverAcker) readLoop() {
	defer close(m.in)
	for {
		ct, err := readFrameContent(m.conn)
		if err != nil {
			return
		}
		m.mu.Lock()
		pt, err := m.st.Decrypt(time.Now(), ct, adFor(m.peer, m.me))
		m.mu.Unlock()
		if err != nil {
			return
		}
		msg, err := wire.ParseMessage(pt)
		if err != nil {
			return
		}
		m.in <- msg
	}
}

func (m *neverAcker) send(msg *wire.Message) {
	m.t.Helper()
	pt, err := msg.Marshal()
	if err != nil {
		m.t.Fatal(err)
	}
	m.mu.Lock()
	ct, err := m.st.Encrypt(rand.Reader, pt, adFor(m.me, m.peer))
	m.mu.Unlock()
	if err != nil {
		m.t.Fatal(err)
	}
	m.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := wire.WriteFrame(m.conn, wire.FrameData, ct); err != nil {
		m.t.Fatalf("mallory's write: %v", err)
	}
}
