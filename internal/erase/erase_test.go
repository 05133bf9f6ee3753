package erase

import (
	"bytes"
	"os"
	"runtime"
	"testing"
	"unsafe"
)

// pattern fills a fresh 4 KiB allocation (too large for the tiny allocator)
// with a marker and returns its address.
func pattern(b []byte) uintptr {
	for i := range b {
		b[i] = 0xA5
	}
	return uintptr(unsafe.Pointer(&b[0]))
}

// peek reads n bytes at addr of this process through /proc/self/mem, which
// works whether or not the Go heap still considers the memory in use.
func peek(t *testing.T, addr uintptr, n int) []byte {
	t.Helper()
	f, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Skipf("cannot read this process's memory: %v", err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, int64(addr)); err != nil {
		t.Fatalf("reading %x: %v", addr, err)
	}
	return b
}

func TestDoCallsF(t *testing.T) {
	called := false
	Do(func() { called = true })
	if !called {
		t.Fatal("Do did not call f")
	}
}

func TestDoPanics(t *testing.T) {
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want the panic of f", r)
		}
	}()
	Do(func() { panic("boom") })
}

// TestFreedAllocationIsZeroed: a heap allocation made inside Do is zeroed
// once it is unreachable and Collect ran; the same allocation made outside
// Do keeps its bytes (the control: the check above is the runtime's work,
// not the garbage collector's).
func TestFreedAllocationIsZeroed(t *testing.T) {
	if !Enabled {
		t.Skipf("built without runtime/secret (GOEXPERIMENT=runtimesecret on linux/amd64 or arm64); this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	const n = 4096
	marker := bytes.Repeat([]byte{0xA5}, n)
	var inside, outside uintptr
	Do(func() {
		if !Active() {
			t.Error("Active is false inside Do")
		}
		inside = pattern(make([]byte, n))
	})
	outside = pattern(make([]byte, n))
	if Active() {
		t.Error("Active is true outside Do")
	}
	Collect()
	// The freed slot may be reused at once, so what is asserted is that
	// the marker is gone (inside) or still there (outside), not zeroes.
	if got := peek(t, inside, n); bytes.Contains(got, marker[:64]) {
		t.Errorf("an allocation made inside Do still holds its bytes after Collect (%d of %d)", bytes.Count(got, marker[:1]), n)
	}
	if got := peek(t, outside, n); !bytes.Contains(got, marker[:64]) {
		t.Errorf("control: an allocation made outside Do lost its bytes in Collect; the check above proves nothing")
	}
}
