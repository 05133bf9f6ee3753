// Package fuzzcheck provides the shared guard of Sotto's fuzz targets: a
// target whose seed corpus is empty fails instead of silently fuzzing from
// nothing.
package fuzzcheck

import (
	"os"
	"path/filepath"
	"testing"
)

// RequireSeeds fails f unless the target has at least one seed: either added
// in code (added > 0) or stored under testdata/fuzz/<name> beside the test.
// Call it after the f.Add calls, with the number of seeds added.
func RequireSeeds(f *testing.F, added int) {
	f.Helper()
	if added > 0 {
		return
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", f.Name()))
	if err != nil || len(entries) == 0 {
		f.Fatalf("fuzzcheck: %s has an empty seed corpus: add seeds with f.Add or under testdata/fuzz/%s", f.Name(), f.Name())
	}
}
