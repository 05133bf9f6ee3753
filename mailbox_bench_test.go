package sotto

import (
	"context"
	"crypto/rand"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/curve25519"

	"github.com/sottochat/sotto/mailbox"
	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/vault"
)

// BenchmarkTorMailboxDeposit is issue 13's deposit latency against a raw
// onion connection on the same private Tor network, between the same two
// tors: "raw" writes as many bytes as a deposit frame of a 1 KiB blob to a
// plain onion service, which reads them and answers with as many bytes as
// the mailbox's reply frame; "deposit" is a contact's deposit of that blob
// to a real mailbox (package mailbox, its vault on disk), each over an
// established stream. The difference is what the mailbox adds: parsing,
// the token check, and the vault's durable write before it answers.
func BenchmarkTorMailboxDeposit(b *testing.B) {
	srv, cli := launchRawTor(b), launchRawTor(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	blob, err := mailbox.Pack(mailbox.Record{Type: mailbox.RecRatchet, Payload: make([]byte, 900)})
	if err != nil {
		b.Fatal(err)
	}
	req, err := mailbox.AppendFrame(nil, &mailbox.Msg{Op: mailbox.OpDeposit, Blob: blob})
	if err != nil {
		b.Fatal(err)
	}
	reply, err := mailbox.AppendFrame(nil, &mailbox.Msg{Op: mailbox.OpOK})
	if err != nil {
		b.Fatal(err)
	}

	// The mailbox, on srv, with one owner and one contact.
	dir := filepath.Join(b.TempDir(), "mb")
	pw := func() *vault.Passphrase {
		p, err := vault.NewPassphrase([]byte("bench mailbox"))
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	vo := &vault.Options{UnsafeWorkFactor: 10}
	p := pw()
	if err := mailbox.Init(dir, p, mailbox.DefaultConfig(), vo); err != nil {
		b.Fatal(err)
	}
	p.Destroy()
	p = pw()
	m, err := mailbox.Open(dir, p, mailbox.Options{Vault: vo})
	p.Destroy()
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- m.Serve(sctx, mailbox.OnionNetwork{Tor: srv}) }()
	defer func() { stop(); <-served }()
	select {
	case <-m.Ready():
	case err := <-served:
		b.Fatal(err)
	}
	code, err := m.NewCode(ctx)
	if err != nil {
		b.Fatal(err)
	}
	d := mailbox.OnionNetwork{Tor: cli}
	rnd := func() [32]byte {
		var k [32]byte
		rand.Read(k[:])
		return k
	}
	lend := func(k [32]byte) mailbox.KeyFunc {
		return func(use func(*[32]byte) error) error { return use(&k) }
	}
	pubOf := func(k [32]byte) [32]byte {
		p, err := curve25519.X25519(k[:], curve25519.Basepoint)
		if err != nil {
			b.Fatal(err)
		}
		return [32]byte(p)
	}
	ownerAuth, ownerTok, relAuth, relTok := rnd(), rnd(), rnd(), rnd()
	var rel [mailbox.RelLen]byte
	rand.Read(rel[:])
	svcKey, _, err := retryTor(ctx, func() (ed25519Pub, error) {
		k, _, err := mailbox.Pair(ctx, d, "owner", code, pubOf(ownerAuth), lend(ownerTok), false)
		return k, err
	})
	if err != nil {
		b.Fatal(err)
	}
	svc := mailbox.OnionOf(svcKey)
	if err := d.Authorize(ctx, svc, lend(ownerAuth)); err != nil {
		b.Fatal(err)
	}
	oc, _, err := retryTor(ctx, func() (*mailbox.Conn, error) { return mailbox.Dial(ctx, d, "owner", svc) })
	if err != nil {
		b.Fatal(err)
	}
	defer oc.Close()
	if err := oc.Hello(mailbox.RoleOwner, lend(ownerTok)); err != nil {
		b.Fatal(err)
	}
	if err := oc.Add(rel, mailbox.HashToken(&relTok), pubOf(relAuth)); err != nil {
		b.Fatal(err)
	}
	// The contact uses the same tor with its own key (a separate label
	// keeps its circuits apart).
	if err := d.Authorize(ctx, svc, lend(relAuth)); err != nil {
		b.Fatal(err)
	}
	cc, _, err := retryTor(ctx, func() (*mailbox.Conn, error) { return mailbox.Dial(ctx, d, "contact", svc) })
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	if err := cc.Hello(mailbox.RoleContact, lend(relTok)); err != nil {
		b.Fatal(err)
	}

	// The raw service, on srv.
	seed := rnd()
	raw, err := srv.Publish(ctx, onion.ServiceConfig{Key: lend(seed), Open: true})
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	go func() {
		for {
			c, err := raw.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				in, out := make([]byte, len(req)), make([]byte, len(reply))
				for {
					if _, err := io.ReadFull(c, in); err != nil {
						return
					}
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			}()
		}
	}()
	rc, _, err := retryTor(ctx, func() (net.Conn, error) { return cli.Dial(ctx, "raw", raw.Addr()) })
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()

	b.Run("raw", func(b *testing.B) {
		buf := make([]byte, len(reply))
		for b.Loop() {
			if _, err := rc.Write(req); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(rc, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("deposit", func(b *testing.B) {
		n := 0
		for b.Loop() {
			if _, err := cc.Deposit([mailbox.RelLen]byte{}, 0, blob); err != nil {
				b.Fatal(err)
			}
			n++
			if n%400 == 0 {
				// Keep under the per-relation rate limit's burst: collect.
				b.StopTimer()
				var ids [][mailbox.ItemLen]byte
				if _, err := oc.Collect(rel, mailbox.MaxCollect, func(it mailbox.Item) error { ids = append(ids, it.ID); return nil }); err != nil {
					b.Fatal(err)
				}
				if _, err := oc.Delete(rel, ids); err != nil {
					b.Fatal(err)
				}
				time.Sleep(400 / 20 * time.Second) // the burst refills
				b.StartTimer()
			}
		}
	})
}

type ed25519Pub = []byte

// retryTor retries op while a fresh descriptor is not yet reachable.
func retryTor[T any](ctx context.Context, op func() (T, error)) (T, int, error) {
	for i := 0; ; i++ {
		v, err := op()
		if err == nil || ctx.Err() != nil {
			return v, i, err
		}
		time.Sleep(500 * time.Millisecond)
	}
}
