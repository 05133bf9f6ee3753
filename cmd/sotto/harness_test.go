package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sottochat/sotto/internal/e2e"
	"github.com/sottochat/sotto/onion/testnet"
)

// The end-to-end tests run the real binary, built once in TestMain, over a
// private Tor network started once for the package (internal/e2e drives
// it). With -short neither is done and the end-to-end tests skip.
var harness *e2e.Sotto // nil with -short

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "sotto-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	bin, err := e2e.Build(dir, ".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := testnet.Main(m, func(n *testnet.Network) {
		netFile := filepath.Join(dir, "network.torrc")
		if err := os.WriteFile(netFile, []byte(n.ClientTorrc()), 0o600); err != nil {
			panic(err)
		}
		// --debug: a failing test prints each node's connection log and
		// the tail of its tor.log (e2e.DumpOnFailure).
		harness = &e2e.Sotto{Bin: bin, Network: netFile, Debug: true}
	})
	os.RemoveAll(dir)
	os.Exit(code)
}

// aliceAndBob makes two profiles, alice and bob, each with an identity of
// its name, that have added each other as contacts under those names.
func aliceAndBob(t *testing.T) (pa, pb *e2e.Profile) {
	t.Helper()
	pa, pb = harness.NewProfile(t, "alice"), harness.NewProfile(t, "bob")
	pa.Must("init")
	pb.Must("init")
	pa.Must("id", "new", "alice")
	pb.Must("id", "new", "bob")
	ca := strings.TrimSpace(pa.Must("id", "card", "alice", "--no-qr"))
	cb := strings.TrimSpace(pb.Must("id", "card", "bob", "--no-qr"))
	pa.Must("contact", "add", "alice", "bob", cb)
	pb.Must("contact", "add", "bob", "alice", ca)
	return pa, pb
}

func needNetwork(t *testing.T) {
	t.Helper()
	if harness == nil {
		t.Skip("end-to-end test: skipped with -short")
	}
}
