package torctl

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is tor's version number MAJOR.MINOR.MICRO.PATCH. Tagged (-alpha,
// -rc, -dev) sorts before the release of the same number.
type Version struct {
	N      [4]int
	Tagged bool
}

// ParseVersion reads the value of GETINFO version, e.g.
// "0.4.9.11 (git-abcdef0123456789)", "0.4.9.1-alpha-dev", or the first line
// of tor --version ("Tor version 0.4.9.11.").
func ParseVersion(s string) (Version, error) {
	var v Version
	if len(s) > 256 {
		return v, fmt.Errorf("%w: version string too long", ErrProtocol)
	}
	s = strings.TrimPrefix(strings.TrimSpace(s), "Tor version ")
	if i := strings.IndexByte(s, ' '); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, ".")
	num := s
	if i := strings.IndexByte(s, '-'); i >= 0 {
		num, v.Tagged = s[:i], true
	}
	parts := strings.Split(num, ".")
	if len(parts) < 3 || len(parts) > 4 {
		return v, fmt.Errorf("%w: unrecognised tor version", ErrProtocol)
	}
	for i, p := range parts {
		if len(p) == 0 || len(p) > 6 || p[0] < '0' || p[0] > '9' {
			return v, fmt.Errorf("%w: unrecognised tor version", ErrProtocol)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, fmt.Errorf("%w: unrecognised tor version", ErrProtocol)
		}
		v.N[i] = n
	}
	return v, nil
}

func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d.%d", v.N[0], v.N[1], v.N[2], v.N[3])
	if v.Tagged {
		s += "-pre"
	}
	return s
}

// Less reports whether v sorts before w.
func (v Version) Less(w Version) bool {
	for i := range v.N {
		if v.N[i] != w.N[i] {
			return v.N[i] < w.N[i]
		}
	}
	return v.Tagged && !w.Tagged
}
