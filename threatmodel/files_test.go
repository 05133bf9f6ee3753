package threatmodel

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sottochat/sotto/files"
	"github.com/sottochat/sotto/internal/contactcode"
	"github.com/sottochat/sotto/internal/e2e"
	"github.com/sottochat/sotto/internal/wire"
	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/ratchet"
	"github.com/sottochat/sotto/scrub/scrubtest"
)

// T28, T29, T30: a contact sends hostile files. The attacker is a real
// contact of the victim (the victim added its code), with its own tor, and
// speaks the protocol itself, so it can lie in every field: names that
// climb out of a directory or hide behind bidi and invisible characters, a
// size the data exceeds, a wrong SHA-256, chunks of the wrong size and
// chunks that never end, and a decompression-bomb image. Each ends with a
// clear file_failed on the victim's headless interface; nothing is ever
// shown as received; the victim's profile holds only its vault and tor's
// state, and every stored piece of a file is an age file.

// session is an attacker's established session with the victim.
type hostileSession struct {
	t      *testing.T
	conn   net.Conn
	mu     sync.Mutex
	st     *ratchet.State
	me     ed25519.PublicKey
	victim ed25519.PublicKey
	in     chan *wire.Message
	closed chan struct{}
}

func (a *attacker) contactSession(t *testing.T, conn net.Conn, victim ed25519.PublicKey) *hostileSession {
	t.Helper()
	h, err := ratchet.NewInitiator(rand.Reader, victim, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Clear()
	m1, _ := h.Hello()
	b, _ := wire.AppendFrame(wire.Preamble(), wire.FrameHandshake, m1)
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := wire.ReadPreamble(conn); err != nil {
		t.Fatal(err)
	}
	m2, err := readFrame(conn, wire.FrameHandshake)
	if err != nil {
		t.Fatal(err)
	}
	m3, err := h.Authenticate(m2, &a.seed)
	if err != nil {
		t.Fatal(err)
	}
	wire.WriteFrame(conn, wire.FrameHandshake, m3)
	m4, err := readFrame(conn, wire.FrameHandshake)
	if err != nil {
		t.Fatal(err)
	}
	st, err := h.Finish(m4)
	if err != nil {
		t.Fatal(err)
	}
	s := &hostileSession{t: t, conn: conn, st: st, me: a.pub, victim: victim, in: make(chan *wire.Message, 1000), closed: make(chan struct{})}
	hello := s.read()
	if hello == nil || hello.Kind != wire.KindHello || hello.Status != wire.HelloContact {
		t.Fatalf("hello %+v: the victim does not treat the attacker as its contact", hello)
	}
	conn.SetDeadline(time.Time{})
	go func() {
		defer close(s.closed)
		for {
			m := s.read()
			if m == nil {
				return
			}
			select {
			case s.in <- m:
			default:
			}
		}
	}()
	return s
}

// read decrypts the next data frame; nil when the connection ends.
func (s *hostileSession) read() *wire.Message {
	ct, err := readFrame(s.conn, wire.FrameData)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	pt, err := s.st.Decrypt(time.Now(), ct, adFor(s.victim, s.me))
	s.mu.Unlock()
	if err != nil {
		return nil
	}
	m, err := wire.ParseMessage(pt)
	if err != nil {
		return nil
	}
	return m
}

func (s *hostileSession) send(m *wire.Message) error {
	pt, err := m.Marshal()
	if err != nil {
		s.t.Fatalf("marshal %v: %v", m.Kind, err)
	}
	s.mu.Lock()
	ct, err := s.st.Encrypt(rand.Reader, pt, adFor(s.me, s.victim))
	s.mu.Unlock()
	if err != nil {
		s.t.Fatal(err)
	}
	return wire.WriteFrame(s.conn, wire.FrameData, ct)
}

// expect waits for a message of kind about id.
func (s *hostileSession) expect(kind wire.Kind, id [16]byte) *wire.Message {
	s.t.Helper()
	timeout := time.After(deliverWithin)
	for {
		select {
		case m := <-s.in:
			if m.Kind == kind && m.ID == id {
				return m
			}
		case <-s.closed:
			s.t.Fatalf("the victim closed the session while the attacker waited for %v", kind)
		case <-timeout:
			s.t.Fatalf("no %v from the victim", kind)
		}
	}
}

func TestT28HostileFileSenderOverTor(t *testing.T) {
	needNetwork(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	victim, vcode := newUser(t, "victim", false)
	a := newAttacker(t, ctx)
	var authPub [32]byte
	copy(authPub[:], a.auth.PublicKey().Bytes())
	acode := (&contactcode.Code{ID: a.pub, Auth: authPub}).String()
	victim.Must("contact", "add", "victim", "mallory", acode)
	victim.Must("file", "limits", "--max", "64M", "--auto-accept", "64M")
	nv := startReady(t, victim, []string{"victim"})
	e2e.DumpOnFailure(t, map[string]*e2e.Node{"victim": nv})
	code, err := contactcode.Parse(vcode)
	if err != nil {
		t.Fatal(err)
	}
	vOnion := onion.AddressFromPublicKey(code.ID)
	priv := a.auth.Bytes()
	if err := a.tor.AddClientAuth(ctx, vOnion, func(use func(*[32]byte) error) error {
		var k [32]byte
		copy(k[:], priv)
		return use(&k)
	}); err != nil {
		t.Fatal(err)
	}
	var conn net.Conn
	for i := 0; ; i++ {
		conn, err = a.tor.Dial(ctx, "mallory", vOnion)
		if err == nil {
			break
		}
		if i > 30 {
			t.Fatalf("the attacker cannot reach the victim: %v", err)
		}
		time.Sleep(2 * time.Second)
	}
	defer conn.Close()
	s := a.contactSession(t, conn, code.ID)

	failed := func(id [16]byte, want string) {
		t.Helper()
		f, _ := nv.WaitFor(0, deliverWithin, "file_failed for "+want,
			e2e.Is(map[string]any{"event": "file_failed", "file": fmt.Sprintf("%x", id)}))
		if !strings.Contains(fmt.Sprint(f["error"]), want) {
			t.Errorf("file_failed says %q, want it to mention %q", f["error"], want)
		}
		t.Logf("victim: %s", f["error"])
	}
	newID := func() [16]byte {
		var id [16]byte
		rand.Read(id[:])
		return id
	}
	offer := func(name string, data []byte, hash [32]byte, size uint64) [16]byte {
		id := newID()
		if err := s.send(&wire.Message{Kind: wire.KindFileOffer, ID: id, At: uint64(time.Now().Unix()), Size: size, Hash: hash, Name: name}); err != nil {
			t.Fatal(err)
		}
		return id
	}

	t.Log("== names that climb out of a directory, or hide what they are")
	for name, why := range map[string]string{
		"../../.bashrc":            "starts with a dot",
		"docs/../../.bashrc":       "path separator",
		".profile":                 "starts with a dot",
		"invoice\u202egpj.exe":     "bidirectional",
		"report\u200b.pdf":         "invisible",
		"line\nbreak.txt":          "control",
		"/etc/cron.d/own":          "path separator",
		"..\\..\\windows\\win.ini": "starts with a dot",
		"x\\..\\windows\\win.ini":  "path separator",
	} {
		id := offer(name, nil, [32]byte{}, 10)
		s.expect(wire.KindFileReject, id)
		failed(id, why)
	}

	t.Log("== a size the data exceeds")
	{
		data := bytes.Repeat([]byte("x"), 2000)
		id := offer("small.txt", data, sha256.Sum256(data[:1000]), 1000)
		s.expect(wire.KindFileAccept, id)
		s.send(&wire.Message{Kind: wire.KindFileChunk, ID: id, Offset: 0, Data: data})
		s.expect(wire.KindFileReject, id)
		failed(id, "more data than")
	}

	t.Log("== a wrong SHA-256")
	{
		data := bytes.Repeat([]byte("y"), 5000)
		id := offer("notes.txt", data, sha256.Sum256([]byte("something else")), uint64(len(data)))
		s.expect(wire.KindFileAccept, id)
		s.send(&wire.Message{Kind: wire.KindFileChunk, ID: id, Offset: 0, Data: data})
		s.expect(wire.KindFileReject, id)
		failed(id, "does not match its SHA-256")
	}

	t.Log("== a decompression bomb")
	{
		bomb := scrubtest.BombPNG(100000, 100000)
		id := offer("holiday.png", bomb, sha256.Sum256(bomb), uint64(len(bomb)))
		s.expect(wire.KindFileAccept, id)
		s.send(&wire.Message{Kind: wire.KindFileChunk, ID: id, Offset: 0, Data: bomb})
		s.expect(wire.KindFileReject, id)
		failed(id, "decompression bomb")
	}

	t.Log("== an animation bomb: 17 frames on a 16384 × 16384 screen, a TIFF's second page")
	{
		for _, c := range []struct {
			name, want string
			data       []byte
		}{
			{"cat.gif", "it is a GIF of 17 frames declaring 4563402752 pixels in all", scrubtest.BombGIF(16384, 16384, 17, 1, 1)},
			{"scan.tiff", "it is a TIFF image declaring 100000 × 100000 pixels", scrubtest.TIFF(true, [2]uint32{64, 64}, [2]uint32{100000, 100000})},
		} {
			id := offer(c.name, c.data, sha256.Sum256(c.data), uint64(len(c.data)))
			s.expect(wire.KindFileAccept, id)
			s.send(&wire.Message{Kind: wire.KindFileChunk, ID: id, Offset: 0, Data: c.data})
			s.expect(wire.KindFileReject, id)
			failed(id, c.want)
		}
	}

	t.Log("== tiny chunks, then chunks that never end")
	{
		id := offer("archive.zip", nil, [32]byte{1}, 10<<20)
		s.expect(wire.KindFileAccept, id)
		s.send(&wire.Message{Kind: wire.KindFileChunk, ID: id, Offset: 0, Data: []byte("a")})
		s.expect(wire.KindFileReject, id)
		failed(id, "wrong size")
		// The attacker ignores the refusal and keeps sending: the victim
		// drops what it no longer wants, then the session.
		chunk := make([]byte, files.ChunkSize)
		sent := 0
		for off := uint64(0); ; off += files.ChunkSize {
			if err := s.send(&wire.Message{Kind: wire.KindFileChunk, ID: id, Offset: off, Data: chunk}); err != nil {
				break
			}
			sent += len(chunk)
			select {
			case <-s.closed:
			default:
				if sent < 64<<20 {
					continue
				}
				t.Fatalf("the victim took %d MiB of unwanted chunks without closing the session", sent>>20)
			}
			break
		}
		t.Logf("the victim closed the session after %.1f MiB of unwanted chunks", float64(sent)/(1<<20))
	}

	// Nothing was received; nothing left the vault.
	r := nv.Do(time.Minute, map[string]any{"cmd": "files", "identity": "victim", "contact": "mallory"})
	list := r["files"].([]any)
	if len(list) < 13 {
		t.Errorf("the victim lists %d files, want the 13 refused", len(list))
	}
	for _, f := range list {
		m := f.(map[string]any)
		if m["state"] == "complete" || m["error"] == "" {
			t.Errorf("file %v", m)
		}
	}
	if n := nv.Count(0, e2e.Is(map[string]any{"event": "file_received"})); n != 0 {
		t.Errorf("%d file_received events", n)
	}
	checkNothingOutsideVault(t, victim.Dir)
}

// checkNothingOutsideVault: the profile holds only vault/ and tor/, and
// every stored piece of a file in the vault is an age file.
func checkNothingOutsideVault(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "vault" && e.Name() != "tor" {
			t.Errorf("the profile holds %s", e.Name())
		}
	}
	filepath.Walk(filepath.Join(dir, "vault", "b"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		if !bytes.HasPrefix(b, []byte("age-encryption.org/v1\n")) {
			t.Errorf("%s is not an age file", p)
		}
		return nil
	})
	for _, bad := range []string{".bashrc", ".profile", "own", "win.ini"} {
		filepath.Walk(filepath.Dir(dir), func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && fi.Name() == bad {
				t.Errorf("%s was written", p)
			}
			return nil
		})
	}
}
