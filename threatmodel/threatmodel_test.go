package threatmodel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// moduleRoot is the module root relative to this package's directory.
const moduleRoot = ".."

// TestEveryThreatIsBacked is the gate: every threat in THREATS.md names at
// least one test, and every named test exists.
func TestEveryThreatIsBacked(t *testing.T) {
	threats, err := Threats()
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(moduleRoot, threats); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d threats, each backed by existing tests", len(threats))
}

// TestRenamedTestIsCaught renames a test that a threat names (in a copy of the
// named package's directory) and shows that Check fails on it.
func TestRenamedTestIsCaught(t *testing.T) {
	threats, err := Threats()
	if err != nil {
		t.Fatal(err)
	}
	ref := threats[0].Tests[0]
	// Copy the package directory and rename the function in the copy.
	src := filepath.Join(moduleRoot, ref.path())
	root := t.TempDir()
	dst := filepath.Join(root, ref.path())
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	renamed := false
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if strings.Contains(s, "func "+ref.Name+"(") {
			s = strings.ReplaceAll(s, "func "+ref.Name+"(", "func "+ref.Name+"Renamed(")
			renamed = true
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if !renamed {
		t.Fatalf("could not find func %s in %s", ref.Name, src)
	}
	one := threats[0]
	one.Tests = []TestRef{ref}
	if err := Check(moduleRoot, []Threat{one}); err != nil {
		t.Fatalf("before renaming: %v", err)
	}
	err = Check(root, []Threat{one})
	if err == nil || !strings.Contains(err.Error(), ref.Name) {
		t.Fatalf("Check after renaming %s away: err = %v, want it named", ref, err)
	}
}

func TestThreatWithoutTestsIsRejected(t *testing.T) {
	doc := "# Threats\n\n## T01: a threat\n- **Adversary:** a\n- **Asset:** b\n- **Mitigation:** c\n- **Residual risk:** d\n"
	if _, err := Parse(doc); err == nil || !strings.Contains(err.Error(), "names no test") {
		t.Fatalf("Parse of a threat without tests: err = %v", err)
	}
}

func TestThreatsOutOfOrderRejected(t *testing.T) {
	doc := "## T02: a threat\n- **Adversary:** a\n- **Asset:** b\n- **Mitigation:** c\n- **Residual risk:** d\n- **Tests:** `ratchet.TestX`\n"
	if _, err := Parse(doc); err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Fatalf("Parse of T02 first: err = %v", err)
	}
}

func TestBadTestReferenceRejected(t *testing.T) {
	doc := "## T01: a threat\n- **Adversary:** a\n- **Asset:** b\n- **Mitigation:** c\n- **Residual risk:** d\n- **Tests:** ratchet TestX\n"
	if _, err := Parse(doc); err == nil || !strings.Contains(err.Error(), "not a test reference") {
		t.Fatalf("Parse of a malformed reference: err = %v", err)
	}
}
