package sotto

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto/files"
	"github.com/sottochat/sotto/internal/contactcode"
	"github.com/sottochat/sotto/internal/wire"
	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/ratchet"
)

// TestFileExpires: a file in a conversation with a timer is deleted on
// both sides, stored bytes and all, when its clock runs out (T33).
func TestFileExpires(t *testing.T) {
	n := newMemNet()
	clock := &testClock{t: time.Now()}
	a, b := startPeerClock(t, n, nil, clock.now), startPeerClock(t, n, nil, clock.now)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	b.e.SetFileLimits(FileLimits{MaxSize: 1 << 20, AutoAccept: 1 << 20})
	if err := a.e.SetTimer(ctx, "alice", "bob", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "note.txt")
	os.WriteFile(p, []byte(strings.Repeat("the meeting is at noon\n", 100)), 0o600)
	fi, err := a.e.SendFile(ctx, "alice", "bob", p, SendFileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := waitFile[FileReceivedEvent](b, "received", fi.ID)
	if got.File.ExpiresAt.IsZero() {
		t.Fatal("the received file has no expiry")
	}
	waitFile[FileDeliveredEvent](a, "delivered", fi.ID)
	clock.add(32 * time.Second)
	for _, p := range []*testPeer{a, b} {
		p.waitLong("expired", func(ev Event) bool { x, ok := ev.(ExpiredEvent); return ok && x.ID == fi.ID })
		if _, err := p.e.File(fi.ID); err == nil {
			t.Error("an expired file is still listed")
		}
		if strings.Contains(p.disk.dump(), "the meeting is at noon") {
			t.Error("an expired file's bytes are still stored")
		}
		if keys, _ := p.disk.Keys(kindBlob); len(keys) != 0 {
			t.Errorf("%d stored pieces left", len(keys))
		}
	}
	if _, err := b.e.SaveFile(ctx, fi.ID, filepath.Join(t.TempDir(), "x"), false); err == nil {
		t.Error("an expired file can still be saved")
	}
}

// TestFileReceiverNeverAcks: a contact accepts a file and then never
// acknowledges a byte (while keeping the session alive). The sender stops
// at its window, and after the idle time ends the transfer with a clear
// error (T31).
func TestFileReceiverNeverAcks(t *testing.T) {
	n := newMemNet()
	a := startPeer(t, n, nil)
	ai := mustID(t, a, "alice", IdentityOptions{})
	var seed [32]byte
	rand.Read(seed[:])
	mpub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	auth, _ := ecdh.X25519().GenerateKey(rand.Reader)
	code := (&contactcode.Code{ID: mpub, Auth: [32]byte(auth.PublicKey().Bytes())}).String()
	if _, err := a.e.AddContact(context.Background(), "alice", "mallory", code); err != nil {
		t.Fatal(err)
	}
	path, _ := randomFile(t, 24<<20)
	fi, err := a.e.SendFile(context.Background(), "alice", "mallory", path, SendFileOptions{KeepMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := n.dialRaw(ai.Onion)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	apub, _ := onion.ParseAddress(ai.Onion)
	st := memHandshake(t, conn, apub, &seed, mpub)
	var received int
	deadline := time.Now().Add(2 * time.Minute)
	ka := time.Now()
	for time.Now().Before(deadline) {
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		ct, err := readFrameContent(conn)
		if err == nil {
			pt, err := st.Decrypt(time.Now(), ct, adFor(apub, mpub))
			if err != nil {
				t.Fatal(err)
			}
			m, _ := wire.ParseMessage(pt)
			switch {
			case m.Kind == wire.KindFileOffer:
				sendMsg(t, conn, st, mpub, apub, &wire.Message{Kind: wire.KindFileAccept, ID: m.ID})
			case m.Kind == wire.KindFileChunk:
				received += len(m.Data)
			case m.Kind == wire.KindFileCancel:
				if m.Status != wire.CancelStalled {
					t.Fatalf("cancel reason %d", m.Status)
				}
				deadline = time.Now() // done
			}
		}
		if time.Since(ka) > 300*time.Millisecond { // keep the session alive, never ack
			sendMsg(t, conn, st, mpub, apub, &wire.Message{Kind: wire.KindKeepalive})
			ka = time.Now()
		}
	}
	f := waitFile[FileFailedEvent](a, "failed", fi.ID)
	if !strings.Contains(f.File.Err, "stopped acknowledging") {
		t.Errorf("error %q", f.File.Err)
	}
	if received > files.Window {
		t.Errorf("the sender sent %d bytes without an acknowledgement, more than its window", received)
	}
	t.Logf("the sender stopped after %d bytes: %s", received, f.File.Err)
}

func memHandshake(t *testing.T, conn net.Conn, peer ed25519.PublicKey, seed *[32]byte, me ed25519.PublicKey) *ratchet.State {
	t.Helper()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetDeadline(time.Time{})
	h, err := ratchet.NewInitiator(rand.Reader, peer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Clear()
	m1, _ := h.Hello()
	b, _ := wire.AppendFrame(wire.Preamble(), wire.FrameHandshake, m1)
	conn.Write(b)
	if err := wire.ReadPreamble(conn); err != nil {
		t.Fatal(err)
	}
	_, m2, err := wire.ReadFrame(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	m3, err := h.Authenticate(append([]byte(nil), m2...), seed)
	if err != nil {
		t.Fatal(err)
	}
	wire.WriteFrame(conn, wire.FrameHandshake, m3)
	_, m4, err := wire.ReadFrame(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := h.Finish(append([]byte(nil), m4...))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := readFrameContent(conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Decrypt(time.Now(), ct, adFor(peer, me)); err != nil {
		t.Fatal(err)
	}
	return st
}

func readFrameContent(conn net.Conn) ([]byte, error) {
	_, c, err := wire.ReadFrame(conn, nil)
	return append([]byte(nil), c...), err
}

func sendMsg(t *testing.T, conn net.Conn, st *ratchet.State, from, to ed25519.PublicKey, m *wire.Message) {
	t.Helper()
	pt, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ct, err := st.Encrypt(rand.Reader, pt, adFor(from, to))
	if err != nil {
		t.Fatal(err)
	}
	conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	wire.WriteFrame(conn, wire.FrameData, ct)
}
