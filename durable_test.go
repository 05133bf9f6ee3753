package sotto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/sottochat/sotto/vault"
)

// TestAckIsNeverAheadOfTheDisk: a session stores a received message in the
// same vault commit as the ratchet state that seals its acknowledgement
// (vaultStore's deferred writes), so the ack must never leave before the
// message is on disk. At the instant the sender sees each delivery, a copy
// of the receiver's vault directory (taken with the receiver's engine lock
// and vault.Hold held: no commit is midway, so the copy is what a crash at
// that instant leaves) must open and hold the message. The sender's outbox removals are
// deferred too: its own copy must open, with every text it sent.
func TestAckIsNeverAheadOfTheDisk(t *testing.T) {
	n := newMemNet()
	a, adir := newVaultPeer(t, n)
	b, bdir := newVaultPeer(t, n)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	// The receiver's probe (probe.go) marks when the state sealing each
	// acknowledgement was committed (stAckSaved, after its commit returned)
	// and when the ack's frame was handed to the connection: the first
	// must come first. The crash copy below cannot see that order alone
	// (vault.Hold waits for a commit under way).
	pr := newProbe()
	b.e.probe.Store(pr)
	ctx := context.Background()
	texts := map[MessageID]string{}
	for i := range 12 {
		text := fmt.Sprintf("durable %02d", i)
		id, err := a.e.Send(ctx, "alice", "bob", text)
		if err != nil {
			t.Fatal(err)
		}
		texts[id] = text
		if i%3 != 2 {
			continue // some sent back to back, to be acknowledged together
		}
		for len(texts) > 0 {
			ev := a.wait("delivered", func(ev Event) bool { _, ok := ev.(DeliveredEvent); return ok })
			id := ev.(DeliveredEvent).ID
			text, ok := texts[id]
			if !ok {
				continue
			}
			delete(texts, id)
			ts := pr.times(id)
			if ts[stAckSaved].IsZero() || ts[stAckWritten].IsZero() || ts[stAckWritten].Before(ts[stAckSaved]) {
				t.Fatalf("%q: its ack's frame left at %v, the state that sealed it was stored at %v",
					text, ts[stAckWritten].Format("15:04:05.000000"), ts[stAckSaved].Format("15:04:05.000000"))
			}
			if d := crashCopy(t, b, bdir); !bytes.Contains(d, []byte(text)) {
				t.Fatalf("%q acknowledged, but not in the receiver's vault on disk", text)
			}
		}
	}
	d := crashCopy(t, a, adir)
	for i := range 12 {
		if !bytes.Contains(d, fmt.Appendf(nil, "durable %02d", i)) {
			t.Fatalf("the sender's vault lost text %d", i)
		}
	}
}

// newVaultPeer starts an engine on a real vault (on memnet) and returns it
// with the vault's directory.
func newVaultPeer(t *testing.T, n *memNet) (*testPeer, string) {
	t.Helper()
	dir := t.TempDir() + "/v"
	v, err := vault.Create(dir, mustPass(t), &vault.Options{UnsafeWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	e, err := newEngine(engineConfig{disk: &vaultStore{v: v}, net: n.tor(), timing: fastTiming,
		newSecret: func(b []byte) (secretBox, error) { return vault.NewSecret(b) }, closeFn: v.Close, logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	e.start()
	return watchEvents(&testPeer{t: t, e: e}, 100000), dir
}

// crashCopyVault copies the vault directory dir of engine e with e's lock
// and the vault's Hold held (commits run outside the engine lock: a
// session's writer waits for its state's commit without it), so the copy is
// what a crash at this instant leaves, and opens the copy. The caller
// closes it.
func crashCopyVault(t *testing.T, e *Engine, dir string) *vault.Vault {
	t.Helper()
	to := filepath.Join(t.TempDir(), "copy")
	e.mu.Lock()
	err := e.cfg.disk.(*vaultStore).v.Hold(func() error {
		return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(to, rel), 0o700)
			}
			if rel == "lock" {
				return nil
			}
			b, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a blob's temporary file, gone since it was listed
			}
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(to, rel), b, 0o600)
		})
	})
	e.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(to, mustPass(t), &vault.Options{})
	if err != nil {
		t.Fatalf("the vault as a crash now would leave it does not open: %v", err)
	}
	return v
}

// crashCopy returns everything the logs of a crash copy of p's vault hold.
func crashCopy(t *testing.T, p *testPeer, dir string) []byte {
	t.Helper()
	v := crashCopyVault(t, p.e, dir)
	defer v.Close()
	var out []byte
	logs, err := v.Logs()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range logs {
		es, err := v.Entries(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			out = append(append(out, e.Value...), '\n')
		}
	}
	return out
}
