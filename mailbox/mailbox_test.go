package mailbox_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/curve25519"

	"github.com/sottochat/sotto/mailbox"
	"github.com/sottochat/sotto/mailbox/mailboxtest"
	"github.com/sottochat/sotto/vault"
)

// clock is a settable clock for the mailbox's expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t     testing.TB
	dir   string
	pass  string
	net   *mailboxtest.Net
	clock *clock
	m     *mailbox.Mailbox
	stop  context.CancelFunc
	done  chan error
}

func passphrase(t testing.TB, s string) *vault.Passphrase {
	p, err := vault.NewPassphrase([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newHarness(t testing.TB, cfg mailbox.Config) *harness {
	t.Helper()
	h := &harness{t: t, dir: filepath.Join(t.TempDir(), "mb"), pass: "mailbox pass", net: mailboxtest.New(),
		clock: &clock{t: time.Unix(1700000000, 0)}}
	p := passphrase(t, h.pass)
	defer p.Destroy()
	if err := mailbox.Init(h.dir, p, cfg, &vault.Options{UnsafeWorkFactor: 2}); err != nil {
		t.Fatal(err)
	}
	h.start()
	t.Cleanup(h.close)
	return h
}

func (h *harness) start() {
	h.t.Helper()
	p := passphrase(h.t, h.pass)
	defer p.Destroy()
	m, err := mailbox.Open(h.dir, p, mailbox.Options{Now: h.clock.now, Vault: &vault.Options{UnsafeWorkFactor: 2}})
	if err != nil {
		h.t.Fatal(err)
	}
	h.m = m
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- m.Serve(ctx, h.net) }()
	select {
	case <-m.Ready():
	case err := <-h.done:
		h.t.Fatal(err)
	}
}

func (h *harness) close() {
	if h.m == nil {
		return
	}
	h.stop()
	if err := <-h.done; err != nil {
		h.t.Error(err)
	}
	h.m.Close()
	h.m = nil
}

func (h *harness) restart() {
	h.close()
	h.start()
}

func (h *harness) code() *mailbox.PairingCode {
	h.t.Helper()
	c, err := h.m.NewCode(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	// What the user copies: the string form.
	p, err := mailbox.ParseCode(c.String())
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

func random32(t testing.TB) [32]byte {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return b
}

func pub(t testing.TB, priv [32]byte) [32]byte {
	p, err := curve25519.X25519(priv[:], curve25519.Basepoint)
	if err != nil {
		t.Fatal(err)
	}
	return [32]byte(p)
}

func lend(b [32]byte) mailbox.KeyFunc {
	return func(use func(*[32]byte) error) error { return use(&b) }
}

// owner is an identity paired with the mailbox.
type owner struct {
	d        *mailboxtest.Dialer
	authPriv [32]byte
	token    [32]byte
	svc      string
	intake   string
}

func (h *harness) pair(intake bool) *owner {
	h.t.Helper()
	o := &owner{d: h.net.Dialer(), authPriv: random32(h.t), token: random32(h.t)}
	svc, in, err := mailbox.Pair(context.Background(), o.d, "me", h.code(), pub(h.t, o.authPriv), lend(o.token), intake)
	if err != nil {
		h.t.Fatal(err)
	}
	o.svc = mailbox.OnionOf(svc)
	if in != nil {
		o.intake = mailbox.OnionOf(in)
	}
	if err := o.d.Authorize(context.Background(), o.svc, lend(o.authPriv)); err != nil {
		h.t.Fatal(err)
	}
	return o
}

func (o *owner) conn(t testing.TB) *mailbox.Conn {
	t.Helper()
	c, err := mailbox.Dial(context.Background(), o.d, "me", o.svc)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello(mailbox.RoleOwner, lend(o.token)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// contact is a contact of an owner with a relation on its service.
type contact struct {
	d        *mailboxtest.Dialer
	rel      [mailbox.RelLen]byte
	token    [32]byte
	authPriv [32]byte
	svc      string
}

func (h *harness) addContact(o *owner) *contact {
	h.t.Helper()
	c := &contact{d: h.net.Dialer(), token: random32(h.t), authPriv: random32(h.t), svc: o.svc}
	rand.Read(c.rel[:])
	oc := o.conn(h.t)
	if err := oc.Add(c.rel, mailbox.HashToken(&c.token), pub(h.t, c.authPriv)); err != nil {
		h.t.Fatal(err)
	}
	// Twice is a retry, not an error.
	if err := oc.Add(c.rel, mailbox.HashToken(&c.token), pub(h.t, c.authPriv)); err != nil {
		h.t.Fatal(err)
	}
	if err := c.d.Authorize(context.Background(), o.svc, lend(c.authPriv)); err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (c *contact) conn(t testing.TB) *mailbox.Conn {
	t.Helper()
	mc, err := c.dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mc.Close() })
	return mc
}

func (c *contact) dial() (*mailbox.Conn, error) {
	mc, err := mailbox.Dial(context.Background(), c.d, "c", c.svc)
	if err != nil {
		return nil, err
	}
	if err := mc.Hello(mailbox.RoleContact, lend(c.token)); err != nil {
		mc.Close()
		return nil, err
	}
	return mc, nil
}

func blob(t *testing.T, text string) []byte {
	t.Helper()
	b, err := mailbox.Pack(mailbox.Record{Type: mailbox.RecRatchet, Payload: []byte(text)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func collectAll(t *testing.T, c *mailbox.Conn, rel [mailbox.RelLen]byte) []mailbox.Item {
	t.Helper()
	var items []mailbox.Item
	if _, err := c.Collect(rel, mailbox.MaxCollect, func(it mailbox.Item) error {
		items = append(items, it)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return items
}

func payloads(t *testing.T, items []mailbox.Item) []string {
	t.Helper()
	var out []string
	for _, it := range items {
		if it.Kind != mailbox.ItemBlob {
			out = append(out, "expired")
			continue
		}
		recs, err := mailbox.Unpack(it.Blob)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(recs[0].Payload))
	}
	return out
}

func ids(items []mailbox.Item) [][mailbox.ItemLen]byte {
	var out [][mailbox.ItemLen]byte
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

func equal(a []string, b ...string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDepositCollectBothWays(t *testing.T) {
	h := newHarness(t, mailbox.DefaultConfig())
	o := h.pair(false)
	c := h.addContact(o)
	cc := c.conn(t)
	for _, s := range []string{"one", "two", "three"} {
		if _, err := cc.Deposit([mailbox.RelLen]byte{}, 0, blob(t, s)); err != nil {
			t.Fatal(err)
		}
	}
	oc := o.conn(t)
	items := collectAll(t, oc, [mailbox.RelLen]byte{})
	if got := payloads(t, items); !equal(got, "one", "two", "three") {
		t.Fatalf("owner collected %q", got)
	}
	for _, it := range items {
		if it.Rel != c.rel {
			t.Fatal("item of another relation")
		}
	}
	// Collected items stay until deleted (a collector that crashes before
	// storing them collects them again).
	if got := payloads(t, collectAll(t, oc, c.rel)); len(got) != 3 {
		t.Fatalf("after a collect without delete: %q", got)
	}
	if n, err := oc.Delete(c.rel, ids(items)); err != nil || n != 3 {
		t.Fatalf("delete: %d %v", n, err)
	}
	if got := collectAll(t, oc, c.rel); len(got) != 0 {
		t.Fatalf("after delete: %d items", len(got))
	}
	// A retried delete is harmless.
	if n, err := oc.Delete(c.rel, ids(items)); err != nil || n != 0 {
		t.Fatalf("second delete: %d %v", n, err)
	}
	// The other way: the owner leaves replies for the contact.
	if _, err := oc.Deposit(c.rel, 0, blob(t, "reply")); err != nil {
		t.Fatal(err)
	}
	if got := payloads(t, collectAll(t, cc, [mailbox.RelLen]byte{})); !equal(got, "reply") {
		t.Fatalf("contact collected %q", got)
	}
	// A contact cannot name a relation, not even its own.
	if _, err := cc.Collect(c.rel, 10, func(mailbox.Item) error { return nil }); !errors.Is(err, mailbox.ErrDenied) {
		t.Fatalf("contact naming a relation: %v", err)
	}
	st, err := cc.Status()
	if err != nil || st.In != 1 || st.Out != 0 || st.Relations != 1 {
		t.Fatalf("contact status %+v %v", st, err)
	}
}

func TestItemsSurviveRestart(t *testing.T) {
	h := newHarness(t, mailbox.DefaultConfig())
	o := h.pair(false)
	c := h.addContact(o)
	cc := c.conn(t)
	if _, err := cc.Deposit([mailbox.RelLen]byte{}, 0, blob(t, "kept")); err != nil {
		t.Fatal(err)
	}
	cc.Close()
	h.restart()
	if !h.net.Published(o.svc) {
		t.Fatal("the service is not published again after a restart")
	}
	got := payloads(t, collectAll(t, o.conn(t), c.rel))
	if !equal(got, "kept") {
		t.Fatalf("after restart: %q", got)
	}
	// The relation's credentials survive too.
	if _, err := c.conn(t).Status(); err != nil {
		t.Fatal(err)
	}
}

func TestPairingCodeIsOneTime(t *testing.T) {
	h := newHarness(t, mailbox.DefaultConfig())
	code := h.code()
	d := h.net.Dialer()
	auth, tok := random32(t), random32(t)
	ctx := context.Background()
	svc1, _, err := mailbox.Pair(ctx, d, "me", code, pub(t, auth), lend(tok), false)
	if err != nil {
		t.Fatal(err)
	}
	// The same code and token again (the reply was lost): the same service.
	svc2, _, err := mailbox.Pair(ctx, d, "me", code, pub(t, auth), lend(tok), false)
	if err != nil || !svc1.Equal(svc2) {
		t.Fatalf("retry: %v (same %v)", err, svc1.Equal(svc2))
	}
	// Anyone else with the used code: denied.
	if _, _, err := mailbox.Pair(ctx, h.net.Dialer(), "x", code, pub(t, random32(t)), lend(random32(t)), false); err == nil {
		t.Fatal("a used code paired a second identity")
	}
	// A second code pairs a second identity with an unrelated service.
	o2 := h.pair(false)
	if o2.svc == mailbox.OnionOf(svc1) {
		t.Fatal("two identities share a service address")
	}
	// A made-up secret with a valid key: denied.
	fake := h.code()
	fake.Secret[0] ^= 1
	if _, _, err := mailbox.Pair(ctx, h.net.Dialer(), "x", fake, pub(t, random32(t)), lend(random32(t)), false); !errors.Is(err, mailbox.ErrDenied) {
		t.Fatalf("wrong secret: %v", err)
	}
	// An expired code: denied.
	old := h.code()
	h.clock.add(mailbox.CodeLifetime + time.Minute)
	if _, _, err := mailbox.Pair(ctx, h.net.Dialer(), "x", old, pub(t, random32(t)), lend(random32(t)), false); !errors.Is(err, mailbox.ErrDenied) {
		t.Fatalf("expired code: %v", err)
	}
	if st := h.m.Stats(); st.Services != 2 {
		t.Fatalf("%d services", st.Services)
	}
}

func TestQuotas(t *testing.T) {
	cfg := mailbox.DefaultConfig()
	cfg.QueueItems = 3
	cfg.QuotaItems = 5
	h := newHarness(t, cfg)
	o := h.pair(false)
	a, b := h.addContact(o), h.addContact(o)
	ac, bc := a.conn(t), b.conn(t)
	for i := range 3 {
		if _, err := ac.Deposit([mailbox.RelLen]byte{}, 0, blob(t, "a")); err != nil {
			t.Fatal(i, err)
		}
	}
	if _, err := ac.Deposit([mailbox.RelLen]byte{}, 0, blob(t, "a")); !errors.Is(err, mailbox.ErrFull) {
		t.Fatalf("queue quota: %v", err)
	}
	for i := range 2 {
		if _, err := bc.Deposit([mailbox.RelLen]byte{}, 0, blob(t, "b")); err != nil {
			t.Fatal(i, err)
		}
	}
	if _, err := bc.Deposit([mailbox.RelLen]byte{}, 0, blob(t, "b")); !errors.Is(err, mailbox.ErrFull) {
		t.Fatalf("total quota: %v", err)
	}
	// Collecting makes room.
	oc := o.conn(t)
	items := collectAll(t, oc, a.rel)
	if _, err := oc.Delete(a.rel, ids(items)); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Deposit([mailbox.RelLen]byte{}, 0, blob(t, "b")); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteByAndMaxAge(t *testing.T) {
	h := newHarness(t, mailbox.DefaultConfig())
	o := h.pair(false)
	c := h.addContact(o)
	cc := c.conn(t)
	for _, d := range []struct {
		text string
		ttl  uint32
	}{{"timer 60", 60}, {"plain", 0}, {"timer 3600", 3600}} {
		if _, err := cc.Deposit([mailbox.RelLen]byte{}, d.ttl, blob(t, d.text)); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.add(61 * time.Second)
	mailbox.Expire(h.m)
	oc := o.conn(t)
	items := collectAll(t, oc, c.rel)
	got := payloads(t, items)
	if !equal(got, "expired", "plain", "timer 3600") || items[0].Count != 1 {
		t.Fatalf("after 61 s: %q (count %d)", got, items[0].Count)
	}
	// The report is deleted like an item, exactly once.
	if _, err := oc.Delete(c.rel, ids(items[:1])); err != nil {
		t.Fatal(err)
	}
	if got := payloads(t, collectAll(t, oc, c.rel)); !equal(got, "plain", "timer 3600") {
		t.Fatalf("after deleting the report: %q", got)
	}
	h.clock.add(mailbox.DefaultMaxAge)
	mailbox.Expire(h.m)
	items = collectAll(t, oc, c.rel)
	// The timed blob's report; the plain one went at the maximum age,
	// which the sender hears of by its own clock and deposits again.
	if got := payloads(t, items); !equal(got, "expired") || items[0].Count != 1 {
		t.Fatalf("after the maximum age: %q", got)
	}
	if st := h.m.Stats(); st.Items != 0 || st.Bytes != 0 {
		t.Fatalf("stats after expiry: %+v", st)
	}
}

func TestRevokedRelation(t *testing.T) {
	h := newHarness(t, mailbox.DefaultConfig())
	o := h.pair(false)
	c := h.addContact(o)
	cc := c.conn(t)
	if _, err := cc.Deposit([mailbox.RelLen]byte{}, 0, blob(t, "before")); err != nil {
		t.Fatal(err)
	}
	if err := o.conn(t).Remove(c.rel); err != nil {
		t.Fatal(err)
	}
	// Its client-auth key left the service: tor would not even fetch the
	// descriptor. One that still has a circuit (DialRaw) is denied.
	if _, err := c.dial(); !errors.Is(err, mailboxtest.ErrNeedAuth) {
		t.Fatalf("revoked contact dial: %v", err)
	}
	raw, err := h.net.DialRaw(context.Background(), o.svc)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := mailbox.NewConn(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	if err := mc.Hello(mailbox.RoleContact, lend(c.token)); !errors.Is(err, mailbox.ErrDenied) {
		t.Fatalf("revoked token: %v", err)
	}
	if st := h.m.Stats(); st.Items != 0 || st.Relations != 0 {
		t.Fatalf("after remove: %+v", st)
	}
}

func TestTokensAreScopedToTheirService(t *testing.T) {
	h := newHarness(t, mailbox.DefaultConfig())
	o1, o2 := h.pair(false), h.pair(false)
	c1 := h.addContact(o1)
	// o1's contact presenting its token on o2's service (reached somehow):
	// denied, so one identity's contacts cannot even probe the other's.
	raw, err := h.net.DialRaw(context.Background(), o2.svc)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := mailbox.NewConn(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	if err := mc.Hello(mailbox.RoleContact, lend(c1.token)); !errors.Is(err, mailbox.ErrDenied) {
		t.Fatalf("token on another service: %v", err)
	}
	// o1's owner token on o2's service: denied too.
	d := h.net.Dialer()
	d.Authorize(context.Background(), o2.svc, lend(o2.authPriv))
	c2, err := mailbox.Dial(context.Background(), d, "x", o2.svc)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Hello(mailbox.RoleOwner, lend(o1.token)); !errors.Is(err, mailbox.ErrDenied) {
		t.Fatalf("owner token on another service: %v", err)
	}
}

func TestWatchNotifies(t *testing.T) {
	h := newHarness(t, mailbox.DefaultConfig())
	o := h.pair(false)
	c := h.addContact(o)
	w := o.conn(t)
	if err := w.Watch(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- w.Wait(ctx)
	}()
	if _, err := c.conn(t).Deposit([mailbox.RelLen]byte{}, 0, blob(t, "x")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("wait: %v", err)
	}
	if got := payloads(t, collectAll(t, w, c.rel)); !equal(got, "x") {
		t.Fatalf("%q", got)
	}
}

func TestUnpairWipes(t *testing.T) {
	h := newHarness(t, mailbox.DefaultConfig())
	o := h.pair(false)
	keep := h.pair(false)
	c := h.addContact(o)
	if _, err := c.conn(t).Deposit([mailbox.RelLen]byte{}, 0, blob(t, "x")); err != nil {
		t.Fatal(err)
	}
	kc := h.addContact(keep)
	if _, err := kc.conn(t).Deposit([mailbox.RelLen]byte{}, 0, blob(t, "kept")); err != nil {
		t.Fatal(err)
	}
	if err := o.conn(t).Unpair(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.net.Published(o.svc) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if h.net.Published(o.svc) {
		t.Fatal("an unpaired service is still online")
	}
	if st := h.m.Stats(); st.Services != 1 || st.Items != 1 {
		t.Fatalf("after unpair: %+v", st)
	}
	h.restart()
	if st := h.m.Stats(); st.Services != 1 || st.Items != 1 {
		t.Fatalf("after unpair and restart: %+v", st)
	}
	if got := payloads(t, collectAll(t, keep.conn(t), kc.rel)); !equal(got, "kept") {
		t.Fatalf("the other identity's blobs: %q", got)
	}
}

// TestHostileStreams: garbage before and after authentication closes the
// stream with at most an error reply; the mailbox keeps serving.
func TestHostileStreams(t *testing.T) {
	h := newHarness(t, mailbox.DefaultConfig())
	o := h.pair(false)
	c := h.addContact(o)
	raw := func() net.Conn {
		nc, err := h.net.DialRaw(context.Background(), o.svc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		return nc
	}
	// A wrong preamble: closed without a word.
	nc := raw()
	go nc.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	if b, _ := io.ReadAll(nc); len(b) != 0 {
		t.Fatalf("answered a wrong preamble with %q", b)
	}
	// A huge length prefix: an error reply, then closed, nothing allocated.
	nc = raw()
	go nc.Write(append(mailbox.Preamble(), 0x7f, 0xff, 0xff, 0xff))
	b, _ := io.ReadAll(nc)
	if !bytes.HasPrefix(b, mailbox.Preamble()) || len(b) != mailbox.PreambleLen+4+256 {
		t.Fatalf("reply to a huge frame: %d bytes", len(b))
	}
	// A deposit before hello: denied.
	nc = raw()
	mc, err := mailbox.NewConn(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mc.Deposit([mailbox.RelLen]byte{}, 0, blob(t, "x")); !errors.Is(err, mailbox.ErrDenied) {
		t.Fatalf("deposit before hello: %v", err)
	}
	// An unpadded blob cannot even be encoded; on the wire it is malformed.
	if _, err := mc.Deposit([mailbox.RelLen]byte{}, 0, []byte("short")); !errors.Is(err, mailbox.ErrMalformed) {
		t.Fatalf("short blob: %v", err)
	}
	// After all that the mailbox still serves.
	if _, err := c.conn(t).Deposit([mailbox.RelLen]byte{}, 0, blob(t, "fine")); err != nil {
		t.Fatal(err)
	}
	if st := h.m.Stats(); st.Items != 1 {
		t.Fatalf("%d items", st.Items)
	}
}

func TestIntake(t *testing.T) {
	h := newHarness(t, mailbox.DefaultConfig())
	o := h.pair(true)
	if o.intake == "" {
		t.Fatal("no intake service")
	}
	ctx := context.Background()
	stranger := h.net.Dialer() // no client authorization needed: open
	if b, err := mailbox.IntakeKey(ctx, stranger, "s", o.intake); err != nil || len(b) != 0 {
		t.Fatalf("bundle before it is set: %q %v", b, err)
	}
	reply := random32(t)
	// No intake before the owner sets its bundle.
	if err := mailbox.Intake(ctx, stranger, "s", o.intake, mailbox.HashToken(&reply), blob(t, "req")); !errors.Is(err, mailbox.ErrDenied) {
		t.Fatalf("intake without a bundle: %v", err)
	}
	oc := o.conn(t)
	if err := oc.SetIntake([]byte("signed bundle")); err != nil {
		t.Fatal(err)
	}
	if b, err := mailbox.IntakeKey(ctx, stranger, "s", o.intake); err != nil || string(b) != "signed bundle" {
		t.Fatalf("bundle: %q %v", b, err)
	}
	if err := mailbox.Intake(ctx, stranger, "s", o.intake, mailbox.HashToken(&reply), blob(t, "req")); err != nil {
		t.Fatal(err)
	}
	items := collectAll(t, oc, [mailbox.RelLen]byte{})
	if got := payloads(t, items); !equal(got, "req") {
		t.Fatalf("owner collected %q", got)
	}
	rel := items[0].Rel
	if _, err := oc.Deposit(rel, 0, blob(t, "answer")); err != nil {
		t.Fatal(err)
	}
	// The stranger collects its reply on the intake service with its token.
	sc, err := mailbox.Dial(ctx, stranger, "s", o.intake)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.Hello(mailbox.RoleContact, lend(reply)); err != nil {
		t.Fatal(err)
	}
	if got := payloads(t, collectAll(t, sc, [mailbox.RelLen]byte{})); !equal(got, "answer") {
		t.Fatalf("stranger collected %q", got)
	}
	// It may not deposit more.
	if _, err := sc.Deposit([mailbox.RelLen]byte{}, 0, blob(t, "more")); !errors.Is(err, mailbox.ErrDenied) {
		t.Fatalf("stranger deposit: %v", err)
	}
	// Rate limit: IntakeRateN in a window, then busy.
	for i := 1; i < mailbox.IntakeRateN; i++ {
		tok := random32(t)
		if err := mailbox.Intake(ctx, stranger, "s", o.intake, mailbox.HashToken(&tok), blob(t, "req")); err != nil {
			t.Fatal(i, err)
		}
	}
	tok := random32(t)
	if err := mailbox.Intake(ctx, stranger, "s", o.intake, mailbox.HashToken(&tok), blob(t, "req")); !errors.Is(err, mailbox.ErrBusy) {
		t.Fatalf("over the rate: %v", err)
	}
	// Intake relations die at the maximum age.
	h.clock.add(mailbox.DefaultMaxAge + time.Hour)
	mailbox.Expire(h.m)
	if st := h.m.Stats(); st.Intakes != 0 {
		t.Fatalf("%d intakes after the maximum age", st.Intakes)
	}
}
