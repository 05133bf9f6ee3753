package tui

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto"
)

// The sotto-backed Profile over a real (offline) engine: create, open,
// check the passphrase on the lock screen, identities, codes.
func TestSottoProfile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "profile")
	p := &sottoProfile{o: sotto.Options{ProfileDir: dir, Offline: true}}
	ctx := context.Background()
	if ok, err := p.Exists(); ok || err != nil {
		t.Fatalf("Exists on a missing dir = %v, %v", ok, err)
	}
	pass := []byte(testPass)
	if err := p.Init(ctx, pass); err != nil {
		t.Fatal(err)
	}
	if len(bytes.Trim(pass, "\x00")) != 0 {
		t.Fatal("Init did not wipe the passphrase it was handed")
	}
	if ok, err := p.Exists(); !ok || err != nil {
		t.Fatalf("Exists after Init = %v, %v", ok, err)
	}
	if err := p.Init(ctx, []byte(testPass)); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("second Init: %v", err)
	}
	if _, err := p.Open(ctx, []byte("not the passphrase")); err == nil || !strings.HasPrefix(err.Error(), "wrong passphrase") {
		t.Fatalf("Open with a wrong passphrase: %v", err)
	}
	e, err := p.Open(ctx, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := p.CheckPassphrase(e, []byte("nope")); err == nil {
		t.Fatal("CheckPassphrase accepted a wrong passphrase")
	}
	if err := p.CheckPassphrase(e, []byte(testPass)); err != nil {
		t.Fatalf("CheckPassphrase: %v", err)
	}
	id, err := p.NewIdentity(ctx, e, "desk", false, true)
	if err != nil || id.Name != "desk" || !id.Open {
		t.Fatalf("NewIdentity = %+v, %v", id, err)
	}
	card, err := e.Card("desk")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckCode(card); err != nil {
		t.Fatalf("CheckCode(own card): %v", err)
	}
	// Mistype the last character (into one it is not: a card ending in
	// "x" made the old "x" replacement a no-op, 1 time in 32).
	typo := "x"
	if strings.HasSuffix(card, typo) {
		typo = "y"
	}
	if err := p.CheckCode(card[:len(card)-1] + typo); err == nil {
		t.Fatal("CheckCode accepted a mistyped code")
	}
	if qr := p.QRCode(card); strings.Count(qr, "\n") < 10 {
		t.Fatalf("QRCode too small:\n%s", qr)
	}
	// The panic key's wipe: the profile cannot be opened any more.
	if err := p.Panic(e); err != nil {
		t.Fatalf("Panic: %v", err)
	}
	if _, err := p.Open(ctx, []byte(testPass)); err == nil {
		t.Fatal("the profile still opens after the panic wipe")
	}
}

// A directory with something else in it: Open says there is no profile,
// and the UI goes to the create screen.
func TestSottoProfileForeignDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &sottoProfile{o: sotto.Options{ProfileDir: dir, Offline: true}}
	_, err := p.Open(context.Background(), []byte(testPass))
	if !errors.Is(err, errNoProfile) {
		t.Fatalf("Open = %v, want errNoProfile", err)
	}
}

// The whole program over the real engine: create a profile from the UI.
func TestProgramCreatesProfile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "profile")
	p := &sottoProfile{o: sotto.Options{ProfileDir: dir, Offline: true}}
	in, inW := io.Pipe()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- runProgram(context.Background(), p, Config{}, withTestIO(in, out)...) }()
	pos := waitFor(t, out, 0, "Create your Sotto profile")
	for _, s := range []string{testPass, "\r", testPass, "\r"} {
		io.WriteString(inW, s) // typed: one read each
	}
	pos = waitFor(t, out, pos, "Your identities")
	pos = waitFor(t, out, pos, "No identity yet")
	// Lock, a wrong passphrase, then the right one (checked by the engine).
	io.WriteString(inW, "\x0c")
	pos = waitFor(t, out, pos, "Sotto is locked")
	io.WriteString(inW, "wrong one")
	io.WriteString(inW, "\r")
	pos = waitFor(t, out, pos, "wrong passphrase")
	io.WriteString(inW, testPass)
	io.WriteString(inW, "\r")
	waitFor(t, out, pos, "Your identities")
	io.WriteString(inW, "\x03")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit on ctrl+c")
	}
	if ok, _ := p.Exists(); !ok {
		t.Fatal("no profile was created")
	}
	if strings.Contains(out.String(), "horse") {
		t.Fatal("the passphrase reached the terminal")
	}
}
