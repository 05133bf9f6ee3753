package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNetUpDown: 'sotto net up DIR' returns a usable network, a second 'up'
// on the same DIR fails clearly and leaves it alone, a client tor given
// DIR/network.torrc bootstraps to 100 %, and 'net down' stops it.
func TestNetUpDown(t *testing.T) {
	needNetwork(t)
	t.Parallel()
	base, err := os.MkdirTemp("", "sn")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	dir := filepath.Join(base, "net")
	code, out, errs := harness.Run(t, "", "net", "up", dir)
	if code != 0 {
		t.Fatalf("net up: exit %d\n%s", code, errs)
	}
	up := true
	defer func() {
		if up {
			harness.Run(t, "", "net", "down", dir)
		}
	}()
	if !strings.Contains(out, filepath.Join(dir, "network.torrc")) {
		t.Fatalf("net up did not say where the client fragment is:\n%s", out)
	}
	frag, err := os.ReadFile(filepath.Join(dir, "network.torrc"))
	if err != nil || !strings.Contains(string(frag), "DirAuthority") {
		t.Fatalf("network.torrc: %v\n%s", err, frag)
	}

	code, _, errs = harness.Run(t, "", "net", "up", dir)
	if code != exitFailure || !strings.Contains(errs, "hint: ") || !strings.Contains(errs, "net down") {
		t.Fatalf("second net up: exit %d\n%s", code, errs)
	}

	// A directory that holds something else, and an address that is not
	// this machine's, fail clearly too.
	other := filepath.Join(base, "other")
	os.MkdirAll(other, 0o700)
	os.WriteFile(filepath.Join(other, "notes.txt"), []byte("mine"), 0o600)
	code, _, errs = harness.Run(t, "", "net", "up", other)
	if code != exitFailure || !strings.Contains(errs, "sotto") {
		t.Fatalf("net up on a foreign directory: exit %d\n%s", code, errs)
	}
	if b, err := os.ReadFile(filepath.Join(other, "notes.txt")); err != nil || string(b) != "mine" {
		t.Fatal("net up touched a foreign directory's files")
	}
	code, _, errs = harness.Run(t, "", "net", "up", filepath.Join(base, "far"), "--listen", "192.0.2.1")
	if code != exitFailure || strings.Count(strings.TrimSpace(errs), "\n") > 6 {
		t.Fatalf("net up on an address not ours: exit %d\n%s", code, errs)
	}
	t.Logf("net up --listen 192.0.2.1: %s", strings.TrimSpace(errs))

	// A client tor joins through the fragment (after the failed second up,
	// so the first network is still there).
	cdir := filepath.Join(base, "c")
	if err := os.MkdirAll(cdir, 0o700); err != nil {
		t.Fatal(err)
	}
	torrc := filepath.Join(base, "client.torrc")
	logf := filepath.Join(base, "client.log")
	conf := "DataDirectory " + cdir + "\nSocksPort auto\nLog notice file " + logf + "\n%include " + filepath.Join(dir, "network.torrc") + "\n"
	if err := os.WriteFile(torrc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tor := exec.CommandContext(ctx, "tor", "-f", torrc)
	if err := tor.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { tor.Process.Kill(); tor.Wait() }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		b, _ := os.ReadFile(logf)
		if strings.Contains(string(b), "Bootstrapped 100%") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client tor did not bootstrap with network.torrc; log:\n%s", b)
		}
		time.Sleep(500 * time.Millisecond) // polling a log file tor writes
	}

	code, _, errs = harness.Run(t, "", "net", "down", dir)
	if code != 0 {
		t.Fatalf("net down: exit %d\n%s", code, errs)
	}
	up = false
	code, _, errs = harness.Run(t, "", "net", "down", dir)
	if code != exitFailure || !strings.Contains(errs, "hint: ") {
		t.Fatalf("second net down: exit %d\n%s", code, errs)
	}
}
