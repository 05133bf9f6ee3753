package fuzzcheck

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// FuzzSelfCheck proves the guard passes when seeds exist.
func FuzzSelfCheck(f *testing.F) {
	f.Add([]byte("seed"))
	RequireSeeds(f, 1)
	f.Fuzz(func(t *testing.T, b []byte) {})
}

// FuzzEmptyCorpus has no seeds at all; it only runs inside
// TestEmptyCorpusFails, which expects it to fail.
func FuzzEmptyCorpus(f *testing.F) {
	if os.Getenv("FUZZCHECK_EXPECT_EMPTY") != "1" {
		f.Skip("runs only as the subject of TestEmptyCorpusFails")
	}
	RequireSeeds(f, 0)
	f.Fuzz(func(t *testing.T, b []byte) {})
}

func TestEmptyCorpusFails(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^FuzzEmptyCorpus$", "-test.v")
	cmd.Env = append(os.Environ(), "FUZZCHECK_EXPECT_EMPTY=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a fuzz target with an empty corpus passed; output:\n%s", out)
	}
	if !strings.Contains(string(out), "empty seed corpus") {
		t.Fatalf("failure does not name the empty corpus; output:\n%s", out)
	}
}
