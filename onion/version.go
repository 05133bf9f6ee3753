package onion

import (
	"fmt"
	"strconv"
	"strings"
)

// MinTorVersion is the oldest tor Sotto accepts: 0.4.9.11 fixed a
// rendezvous-point impersonation bug.
const MinTorVersion = "0.4.9.11"

// torVersion is tor's version number MAJOR.MINOR.MICRO.PATCH; the status tag
// (-alpha, -rc, -dev) and the git suffix are ignored for ordering except that
// a tagged release sorts before the plain one of the same number.
type torVersion struct {
	n      [4]int
	tagged bool // "-alpha", "-rc", "-dev": before the release of the same number
}

// parseTorVersion reads the value of GETINFO version, e.g.
// "0.4.9.11 (git-abcdef0123456789)" or "0.4.9.1-alpha-dev". It is a decoder of
// bytes from tor (or from whatever answers on an external control port):
// bounded, never panics.
func parseTorVersion(s string) (torVersion, error) {
	var v torVersion
	if len(s) > 256 {
		return v, fmt.Errorf("%w: version string too long", ErrControl)
	}
	s = strings.TrimPrefix(strings.TrimSpace(s), "Tor version ")
	if i := strings.IndexByte(s, ' '); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, ".")
	num := s
	if i := strings.IndexByte(s, '-'); i >= 0 {
		num, v.tagged = s[:i], true
	}
	parts := strings.Split(num, ".")
	if len(parts) < 3 || len(parts) > 4 {
		return v, fmt.Errorf("%w: unrecognised tor version", ErrControl)
	}
	for i, p := range parts {
		if len(p) == 0 || len(p) > 6 {
			return v, fmt.Errorf("%w: unrecognised tor version", ErrControl)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p[0] == '+' {
			return v, fmt.Errorf("%w: unrecognised tor version", ErrControl)
		}
		v.n[i] = n
	}
	return v, nil
}

func (v torVersion) String() string {
	s := fmt.Sprintf("%d.%d.%d.%d", v.n[0], v.n[1], v.n[2], v.n[3])
	if v.tagged {
		s += "-pre"
	}
	return s
}

// less reports whether v sorts before w.
func (v torVersion) less(w torVersion) bool {
	for i := range v.n {
		if v.n[i] != w.n[i] {
			return v.n[i] < w.n[i]
		}
	}
	return v.tagged && !w.tagged
}

// checkTorVersion returns an error wrapping ErrTorTooOld when the version
// tor reports is older than MinTorVersion (or cannot be read).
func checkTorVersion(reported string) error {
	v, err := parseTorVersion(reported)
	if err != nil {
		return err
	}
	min, _ := parseTorVersion(MinTorVersion)
	if v.less(min) {
		return fmt.Errorf("%w: found tor %s", ErrTorTooOld, v)
	}
	return nil
}
