package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestUnknownCommandHints(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	if !strings.Contains(errb.String(), "hint:") {
		t.Fatalf("no hint in %q", errb.String())
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "sotto ") {
		t.Fatalf("version: code %d out %q", code, out.String())
	}
}
