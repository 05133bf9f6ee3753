package onion

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A control socket that exists but is not listened on yet (tor binds before
// it listens) refuses the dial; that must be told apart from other failures
// so that a starting tor is waited for, not given up on.
func TestControlDialRefusedIsRetryable(t *testing.T) {
	dir, err := os.MkdirTemp("", "octl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "c.sock")
	// Bind without listening, as tor does for a moment at start.
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = dialCtrl(ctx, ctrlEndpoint{network: "unix", address: path})
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.Is(err, ErrTorUnavailable) {
		t.Fatalf("dial of a bound, unlistened socket: %v; want ECONNREFUSED and ErrTorUnavailable", err)
	}
	// Once it listens, dialStartingCtrl gets through (the dial itself; the
	// control protocol is not spoken by this listener, so only the refusal
	// handling is under test here).
	g := &generation{exited: make(chan struct{})}
	go func() {
		time.Sleep(200 * time.Millisecond)
		syscall.Listen(fd, 1)
	}()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	_, err = dialStartingCtrl(ctx2, ctrlEndpoint{network: "unix", address: path}, g)
	if errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dialStartingCtrl gave up on a socket that started listening: %v", err)
	}
}
