package sotto

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/sottochat/sotto/internal/record"
)

// identityFromRecord moves the keys from the buffer the vault returned into
// locked memory and zeroes that buffer, on success and on failure.
func TestIdentityFromRecordWipesInput(t *testing.T) {
	p := startPeer(t, newMemNet(), nil)
	seed := bytes.Repeat([]byte{7}, 32)
	auth := bytes.Repeat([]byte{9}, 32)
	b, err := record.MarshalIdentity("work", true, seed, auth)
	if err != nil {
		t.Fatal(err)
	}
	id, err := p.e.identityFromRecord("k", b, newMemStore())
	if err != nil {
		t.Fatal(err)
	}
	defer id.keys.Destroy()
	if !bytes.Equal(b, make([]byte, len(b))) {
		t.Fatalf("the record buffer was not wiped: % x", b)
	}
	want := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	if id.name != "work" || !id.open || !id.pub.Equal(want) {
		t.Fatalf("identity %q open %v", id.name, id.open)
	}
	err = id.seed(func(s *[32]byte) error {
		if !bytes.Equal(s[:], seed) {
			t.Error("the seed in the box differs")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A damaged record is wiped too.
	bad, _ := record.MarshalIdentity("work", false, seed, auth)
	bad[0] = 99
	if _, err := p.e.identityFromRecord("k", bad, newMemStore()); err == nil {
		t.Fatal("a damaged identity record was accepted")
	}
	if !bytes.Equal(bad, make([]byte, len(bad))) {
		t.Fatal("a refused record buffer was not wiped")
	}
}

// The record the engine stores is the binary layout, and a restarted engine
// reads it back.
func TestIdentityStoredBinary(t *testing.T) {
	n := newMemNet()
	p := startPeer(t, n, nil)
	info := mustID(t, p, "work", IdentityOptions{Open: true})
	keys, err := p.disk.Keys(kindIdentity)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v %v", keys, err)
	}
	b, _ := p.disk.Get(kindIdentity, keys[0])
	if name, open, _, err := record.ParseIdentity(b); err != nil || name != "work" || !open {
		t.Fatalf("stored record: %q %v %v", name, open, err)
	}
	disk := p.disk
	p.close()
	q := startPeer(t, n, disk)
	ids := q.e.Identities()
	if len(ids) != 1 || ids[0].Onion != info.Onion || !ids[0].Open {
		t.Fatalf("after restart: %+v", ids)
	}
}
