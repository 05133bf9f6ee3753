package main

import (
	"runtime"
	"strings"
	"testing"

	"github.com/sottochat/sotto/internal/erase"
)

// TestVersionSaysMemoryErasure: sotto version names the toolchain and
// target, and says whether this build zeroes freed secrets (SECURITY.md).
func TestVersionSaysMemoryErasure(t *testing.T) {
	code, out, _ := call("version")
	if code != 0 {
		t.Fatalf("code %d", code)
	}
	if !strings.Contains(out, "built with "+runtime.Version()+" for "+runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("no toolchain and target line:\n%s", out)
	}
	want := "memory erasure: off"
	if erase.Enabled {
		want = "memory erasure: on (runtime/secret)"
	}
	if !strings.Contains(out, want) {
		t.Errorf("want %q (erase.Enabled %v):\n%s", want, erase.Enabled, out)
	}
}
