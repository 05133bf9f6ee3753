package sotto

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto/vault"
)

func pass(s string) *Passphrase { return NewPassphrase([]byte(s)) }

func TestProfileOffline(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "p")
	o := Options{ProfileDir: dir, Offline: true, unsafeVaultWork: 10}
	if _, err := Open(ctx, o, pass("pw")); !errors.Is(err, ErrNoProfile) {
		t.Fatalf("open before init: %v", err)
	}
	if err := Init(ctx, o, pass("pw")); err != nil {
		t.Fatal(err)
	}
	if err := Init(ctx, o, pass("pw")); !errors.Is(err, ErrProfileExists) {
		t.Fatalf("second init: %v", err)
	}
	if _, err := Open(ctx, o, pass("nope")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	e, err := Open(ctx, o, pass("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, o, pass("pw")); !errors.Is(err, ErrProfileInUse) {
		t.Fatalf("second open: %v", err)
	}
	if _, err := e.NewIdentity(ctx, "work", IdentityOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.NewIdentity(ctx, "burner", IdentityOptions{Ephemeral: true}); err != nil {
		t.Fatal(err)
	}
	peer := newTestCode(t)
	if _, err := e.AddContact(ctx, "work", "peer", peer); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Send(ctx, "work", "peer", "queued while offline"); err != nil {
		t.Fatal(err)
	}
	card, _ := e.Card("work")
	if err := e.CheckPassphrase(pass("pw")); err != nil {
		t.Fatal(err)
	}
	if err := e.CheckPassphrase(pass("x")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, err = Open(ctx, o, pass("pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ids := e.Identities()
	if len(ids) != 1 || ids[0].Name != "work" {
		t.Fatalf("identities after reopen: %+v (the ephemeral one must be gone)", ids)
	}
	if c, _ := e.Card("work"); c != card {
		t.Fatal("card changed across restart")
	}
	msgs, err := e.Messages("work", "peer")
	if err != nil || len(msgs) != 1 || msgs[0].State != Pending {
		t.Fatalf("messages %+v %v", msgs, err)
	}
	if err := e.BurnIdentity(ctx, "work"); err != nil {
		t.Fatal(err)
	}
	if len(e.Identities()) != 0 {
		t.Fatal("burned identity listed")
	}
	if dump := vaultDump(t, e); strings.Contains(dump, "queued while offline") || strings.Contains(dump, "peer") {
		t.Fatal("burned identity's data still in the vault")
	}
}

// vaultDump reads every record and log entry of the engine's vault.
func vaultDump(t *testing.T, e *Engine) string {
	t.Helper()
	vs := e.cfg.disk.(*vaultStore)
	var sb strings.Builder
	for _, k := range []string{kindIdentity, kindContact, kindRatchet, kindRequest} {
		keys, _ := vs.v.Keys(k)
		for _, key := range keys {
			b, _ := vs.v.Get(k, key)
			sb.Write(b)
		}
	}
	logs, err := vs.v.Logs()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range logs {
		es, _ := vs.v.Entries(l)
		for _, en := range es {
			sb.WriteString(en.ID)
			sb.Write(en.Value)
		}
	}
	return sb.String()
}

// Two engines on real vaults over in-memory pipes: restart of both with
// queued messages, then expiry removes the text from both vaults.
func TestVaultBackedDelivery(t *testing.T) {
	n := newMemNet()
	clock := &testClock{t: time.Now()}
	mk := func(dir string) *testPeer {
		v, err := vault.Open(dir, mustPass(t), &vault.Options{})
		if err != nil {
			t.Fatal(err)
		}
		tor := n.tor()
		e, err := newEngine(engineConfig{disk: &vaultStore{v: v}, net: tor, timing: fastTiming, now: clock.now,
			newSecret: func(b []byte) (secretBox, error) { return vault.NewSecret(b) }, closeFn: v.Close, logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		e.start()
		return watchEvents(&testPeer{t: t, e: e, tor: tor}, 10000)
	}
	da, db := t.TempDir()+"/a", t.TempDir()+"/b"
	for _, d := range []string{da, db} {
		v, err := vault.Create(d, mustPass(t), &vault.Options{UnsafeWorkFactor: 10})
		if err != nil {
			t.Fatal(err)
		}
		v.Close()
	}
	a, b := mk(da), mk(db)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	a.e.Send(ctx, "alice", "bob", "hello")
	b.waitMessage("hello")
	b.close()
	a.e.SetTimer(ctx, "alice", "bob", time.Minute)
	want := map[MessageID]bool{}
	for i := range 5 {
		want[must(a.e.Send(ctx, "alice", "bob", fmt.Sprintf("secret %d", i)))] = true
	}
	a.close()
	a, b = mk(da), mk(db)
	var shown []MessageID
	for i := range 5 {
		shown = append(shown, b.waitMessage(fmt.Sprintf("secret %d", i)).ID)
	}
	if started, err := b.e.MarkShown("bob", "alice", shown...); err != nil || len(started) != 5 {
		t.Fatalf("MarkShown started %d clocks: %v", len(started), err)
	}
	for len(want) > 0 {
		ev := a.wait("delivered", func(ev Event) bool { _, ok := ev.(DeliveredEvent); return ok })
		delete(want, ev.(DeliveredEvent).ID)
	}
	if !strings.Contains(vaultDump(t, b.e), "secret 3") {
		t.Fatal("received message not in the vault")
	}
	clock.add(2 * time.Minute)
	for _, p := range []*testPeer{a, b} {
		for i := 0; i < 5; {
			p.wait("expired", func(ev Event) bool { _, ok := ev.(ExpiredEvent); return ok })
			i++
		}
		if d := vaultDump(t, p.e); strings.Contains(d, "secret") {
			t.Fatal("expired text still in the vault")
		}
		if !strings.Contains(vaultDump(t, p.e), "hello") {
			t.Fatal("unexpired message lost")
		}
	}
}

func mustPass(t *testing.T) *vault.Passphrase {
	p, err := vault.NewPassphrase([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
