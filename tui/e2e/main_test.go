// Package e2e drives the real `sotto` binary in real terminals (tmux) over
// a private Tor network on loopback: two terminal UIs talking to each
// other, the README's commands followed as written, the demo's panes, and
// every way the UI used to lose words silently (long and multi-line
// pastes, ctrl+c over a draft, the panic key hit by reflex, a
// disappearing message arriving behind the lock screen). It reads the
// screens with capture-pane, as a person would see them.
//
// TestMain builds the binary once and starts one network for the package;
// the tests run in parallel, each with its own tmux server and profiles.
// With -short nothing is started and every test skips.
package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sottochat/sotto/internal/e2e"
	"github.com/sottochat/sotto/onion/testnet"
)

// harness runs the binary under test; nil with -short or without tmux.
var harness *e2e.Sotto

// why is the reason harness is nil.
var why string

func TestMain(m *testing.M) {
	flag.Parse()
	switch {
	case testing.Short():
		why = "end-to-end test: skipped with -short"
	default:
		for _, tool := range []string{"tmux", "tor"} {
			if _, err := exec.LookPath(tool); err != nil {
				why = tool + " is not installed (sudo make deps)"
			}
		}
	}
	if why != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "sotto-tui")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	bin, err := e2e.Build(dir, "github.com/sottochat/sotto/cmd/sotto")
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
		harness = &e2e.Sotto{Bin: bin, Network: netFile}
	})
	os.RemoveAll(dir)
	os.Exit(code)
}

// need skips a test when there is no harness.
func need(t *testing.T) {
	t.Helper()
	if harness == nil {
		t.Skip(why)
	}
}
