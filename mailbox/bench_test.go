package mailbox_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sottochat/sotto/mailbox"
	"github.com/sottochat/sotto/mailbox/mailboxtest"
	"github.com/sottochat/sotto/vault"
)

// BenchmarkCollect1000 is issue 13's collection of 1,000 queued messages:
// the owner collects and deletes 1,000 blobs of 1 KiB that ten contacts
// left (a real mailbox with its vault on disk, over in-memory pipes: the
// mailbox's own cost; over tor, add the round trips of
// BenchmarkTorMailboxDeposit's "raw" for the 5 collections and 10
// deletions). Reported: ns per 1,000 and per blob.
func BenchmarkCollect1000(b *testing.B) {
	h := newHarness(b, mailbox.DefaultConfig())
	o := h.pair(false)
	bl, err := mailbox.Pack(mailbox.Record{Type: mailbox.RecRatchet, Payload: make([]byte, 900)})
	if err != nil {
		b.Fatal(err)
	}
	oc := o.conn(b)
	for b.Loop() {
		b.StopTimer()
		// Fresh relations each round: each stays within its deposit
		// rate limit's burst.
		for range 10 {
			c := h.addContact(o)
			cc, err := c.dial()
			if err != nil {
				b.Fatal(err)
			}
			for range 100 {
				if _, err := cc.Deposit([mailbox.RelLen]byte{}, 0, bl); err != nil {
					b.Fatal(err)
				}
			}
			cc.Close()
		}
		b.StartTimer()
		got := 0
		for got < 1000 {
			byRel := map[[mailbox.RelLen]byte][][mailbox.ItemLen]byte{}
			n := 0
			if _, err := oc.Collect([mailbox.RelLen]byte{}, mailbox.MaxCollect, func(it mailbox.Item) error {
				byRel[it.Rel] = append(byRel[it.Rel], it.ID)
				n++
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				b.Fatalf("collected %d of 1000", got)
			}
			for rel, ids := range byRel {
				if _, err := oc.Delete(rel, ids); err != nil {
					b.Fatal(err)
				}
			}
			got += n
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/blob")
}

// BenchmarkMailboxRSS is issue 13's memory figure: the resident set of a
// real mailbox process (this package's server in a process of its own, as
// in TestKillMailbox) serving one owner with 50 contacts and 10,000 queued
// blobs of 1 KiB, measured after a restart (everything loaded from the
// vault) and after the blobs were deposited into the running process.
func BenchmarkMailboxRSS(b *testing.B) {
	base := b.TempDir()
	dir, sockets := filepath.Join(base, "mb"), filepath.Join(base, "s")
	if err := os.Mkdir(sockets, 0o700); err != nil {
		b.Fatal(err)
	}
	u := mailboxtest.Unix{Dir: sockets}
	p := passphrase(b, killPass)
	if err := mailbox.Init(dir, p, mailbox.DefaultConfig(), &vault.Options{UnsafeWorkFactor: 2}); err != nil {
		b.Fatal(err)
	}
	p.Destroy()
	p = passphrase(b, killPass)
	m, err := mailbox.Open(dir, p, mailbox.Options{Vault: &vault.Options{UnsafeWorkFactor: 2}})
	p.Destroy()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- m.Serve(ctx, u) }()
	<-m.Ready()
	code, err := m.NewCode(ctx)
	if err != nil {
		b.Fatal(err)
	}
	ownerToken := random32(b)
	svcKey, _, err := mailbox.Pair(ctx, u, "owner", code, pub(b, random32(b)), lend(ownerToken), false)
	if err != nil {
		b.Fatal(err)
	}
	svc := mailbox.OnionOf(svcKey)
	cancel()
	<-served
	m.Close()

	child := startKillChild(b, dir, sockets)
	oc, err := mailbox.Dial(context.Background(), u, "owner", svc)
	if err != nil {
		b.Fatal(err)
	}
	if err := oc.Hello(mailbox.RoleOwner, lend(ownerToken)); err != nil {
		b.Fatal(err)
	}
	idle := rssKiB(b, child.cmd.Process.Pid)
	bl, err := mailbox.Pack(mailbox.Record{Type: mailbox.RecRatchet, Payload: make([]byte, 900)})
	if err != nil {
		b.Fatal(err)
	}
	for range 50 {
		var rel [mailbox.RelLen]byte
		rand.Read(rel[:])
		tok := random32(b)
		if err := oc.Add(rel, mailbox.HashToken(&tok), pub(b, random32(b))); err != nil {
			b.Fatal(err)
		}
		cc, err := mailbox.Dial(context.Background(), u, "c", svc)
		if err != nil {
			b.Fatal(err)
		}
		if err := cc.Hello(mailbox.RoleContact, lend(tok)); err != nil {
			b.Fatal(err)
		}
		for range 200 {
			if _, err := cc.Deposit([mailbox.RelLen]byte{}, 0, bl); err != nil {
				b.Fatal(err)
			}
		}
		cc.Close()
	}
	oc.Close()
	filled := rssKiB(b, child.cmd.Process.Pid)
	child.kill(b)
	child = startKillChild(b, dir, sockets)
	defer child.kill(b)
	restarted := rssKiB(b, child.cmd.Process.Pid)
	oc, err = mailbox.Dial(context.Background(), u, "owner", svc)
	if err != nil {
		b.Fatal(err)
	}
	defer oc.Close()
	if err := oc.Hello(mailbox.RoleOwner, lend(ownerToken)); err != nil {
		b.Fatal(err)
	}
	st, err := oc.Status()
	if err != nil || st.In != 10000 || st.Relations != 50 {
		b.Fatalf("the mailbox holds %+v (%v), want 10000 blobs of 50 relations", st, err)
	}
	for b.Loop() {
		// The figures are the process's; the loop only checks that the
		// mailbox answers while it holds them.
		if _, err := oc.Status(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(idle)/1024, "MiB-idle")
	b.ReportMetric(float64(filled)/1024, "MiB-after-10k-deposits")
	b.ReportMetric(float64(restarted)/1024, "MiB-restarted-with-10k")
}

// rssKiB is a process's resident set (VmRSS) in KiB.
func rssKiB(b *testing.B, pid int) int {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(s), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
