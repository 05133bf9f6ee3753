package testnet

import (
	"strings"
	"testing"

	"github.com/sottochat/sotto/fuzz/fuzzcheck"
)

// The decoders of this package read files tor and obfs4proxy write and
// documents an authority serves: none may crash or accept garbage.

func FuzzParseConsensus(f *testing.F) {
	seeds := []string{sampleConsensus, "", "network-status-version 3\n", "network-status-version 3\nr a\ns Running\ndirectory-footer\n"}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseConsensus(b)
		if err != nil {
			return
		}
		if c.ValidAfter == "" || c.Usable > c.Routers || c.Routers > maxRouters {
			t.Fatalf("parseConsensus accepted an inconsistent document: %+v", c)
		}
	})
}

func FuzzBridgeLine(f *testing.F) {
	seeds := []string{sampleBridgeFile, "Bridge obfs4 <IP ADDRESS>:<PORT> <FINGERPRINT> cert=x iat-mode=0\n", ""}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	fp := strings.Repeat("AB", 20)
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := bridgeLine(b, "127.0.0.1:1", fp)
		if err != nil {
			return
		}
		// What it returns is one line a torrc can hold after "Bridge ".
		f := strings.Fields(l)
		if len(f) != 5 || f[0] != "obfs4" || f[1] != "127.0.0.1:1" || f[2] != fp || strings.ContainsAny(l, "\r\n\x00") {
			t.Fatalf("bridgeLine returned %q", l)
		}
	})
}

func FuzzParsePIDs(f *testing.F) {
	seeds := []string{"123 a0 /d/nodes/a0/torrc\n", "", "1 a0 /d/nodes/a0/torrc\n", "123 r1 /d/nodes/r1/../a0/torrc\n"}
	for _, s := range seeds {
		f.Add(s)
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := parsePIDs(s, "/d")
		if err != nil {
			return
		}
		if len(ps) > maxPIDLines {
			t.Fatalf("%d entries", len(ps))
		}
		for _, p := range ps {
			if p.pid <= 1 || p.torrc != "/d/nodes/"+p.name+"/torrc" {
				t.Fatalf("accepted %+v", p)
			}
		}
	})
}
