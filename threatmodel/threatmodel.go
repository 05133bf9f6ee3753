// Package threatmodel provides Sotto's threat model: the assets worth
// protecting, the adversaries, and each threat with an ID (T01, T02, ...),
// its mitigation, its residual risk and the tests that mount the attack.
//
// The model itself is THREATS.md beside this file, embedded in the binary
// (`sotto threatmodel` prints it). The package's tests fail when a threat
// names no test, or names a test that does not exist, so a claim cannot
// outlive the evidence behind it.
package threatmodel

import (
	_ "embed"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

//go:embed THREATS.md
var threatsMD string

// Text returns THREATS.md as embedded in the binary.
func Text() string { return threatsMD }

// TestRef names one Go test that mounts an attack: the package directory
// relative to the module root ("sotto" for the root package) and the test name.
type TestRef struct {
	Dir  string // e.g. "ratchet", "onion/testnet", or "sotto" for the root package
	Name string // e.g. "TestTamperEveryByte"
}

// path is the package directory relative to the module root.
func (r TestRef) path() string {
	if r.Dir == "sotto" {
		return "."
	}
	return filepath.FromSlash(r.Dir)
}

func (r TestRef) String() string { return r.Dir + "." + r.Name }

// Threat is one entry of the model.
type Threat struct {
	ID         string // "T01"
	Title      string
	Adversary  string
	Asset      string
	Mitigation string
	Residual   string
	Tests      []TestRef
}

var (
	headingRE = regexp.MustCompile(`^## (T[0-9]{2}): (.+)$`)
	fieldRE   = regexp.MustCompile(`^- \*\*([A-Za-z ]+):\*\* ?(.*)$`)
	testRE    = regexp.MustCompile("^`([a-z0-9_/.]+)\\.(Test[A-Za-z0-9_]+|Fuzz[A-Za-z0-9_]+|Benchmark[A-Za-z0-9_]+)`$")
)

// Parse reads the threats from a THREATS.md document. Every threat must have
// an ID heading "## Tnn: title", the fields Adversary, Asset, Mitigation,
// Residual risk and Tests, and IDs must be unique and in order.
func Parse(doc string) ([]Threat, error) {
	var (
		out []Threat
		cur *Threat
	)
	flush := func() error {
		if cur == nil {
			return nil
		}
		switch {
		case cur.Adversary == "":
			return fmt.Errorf("threatmodel: %s has no Adversary", cur.ID)
		case cur.Asset == "":
			return fmt.Errorf("threatmodel: %s has no Asset", cur.ID)
		case cur.Mitigation == "":
			return fmt.Errorf("threatmodel: %s has no Mitigation", cur.ID)
		case cur.Residual == "":
			return fmt.Errorf("threatmodel: %s has no Residual risk", cur.ID)
		case len(cur.Tests) == 0:
			return fmt.Errorf("threatmodel: %s names no test that mounts the attack", cur.ID)
		}
		out = append(out, *cur)
		return nil
	}
	for n, line := range strings.Split(doc, "\n") {
		line = strings.TrimRight(line, " \t\r")
		if m := headingRE.FindStringSubmatch(line); m != nil {
			if err := flush(); err != nil {
				return nil, err
			}
			want := fmt.Sprintf("T%02d", len(out)+1)
			if m[1] != want {
				return nil, fmt.Errorf("threatmodel: line %d: threat %s out of order, want %s", n+1, m[1], want)
			}
			cur = &Threat{ID: m[1], Title: m[2]}
			continue
		}
		if strings.HasPrefix(line, "## ") || strings.HasPrefix(line, "# ") {
			if err := flush(); err != nil {
				return nil, err
			}
			cur = nil
			continue
		}
		if cur == nil {
			continue
		}
		m := fieldRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		val := strings.TrimSpace(m[2])
		switch m[1] {
		case "Adversary":
			cur.Adversary = val
		case "Asset":
			cur.Asset = val
		case "Mitigation":
			cur.Mitigation = val
		case "Residual risk":
			cur.Residual = val
		case "Tests":
			for _, t := range strings.Split(val, ",") {
				t = strings.TrimSpace(t)
				tm := testRE.FindStringSubmatch(t)
				if tm == nil {
					return nil, fmt.Errorf("threatmodel: line %d: %s: %q is not a test reference like `ratchet.TestName`", n+1, cur.ID, t)
				}
				cur.Tests = append(cur.Tests, TestRef{Dir: tm[1], Name: tm[2]})
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("threatmodel: no threats found")
	}
	return out, nil
}

// Threats returns the parsed embedded model.
func Threats() ([]Threat, error) { return Parse(threatsMD) }
