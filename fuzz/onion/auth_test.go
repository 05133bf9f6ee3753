package onion

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"testing"

	"github.com/sottochat/sotto/fuzz/fuzzcheck"
	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/onion/torctl"
)

// FuzzAuthReplies feeds the replies of authentication (PROTOCOLINFO,
// AUTHCHALLENGE), which come from whatever listens on the control port, to
// their parsers: never a panic, and what is accepted is within bounds.
func FuzzAuthReplies(f *testing.F) {
	seeds := []string{
		"250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE,HASHEDPASSWORD COOKIEFILE=\"/run/tor/control.authcookie\"\r\n250-VERSION Tor=\"0.4.9.11\"\r\n250 OK\r\n",
		"250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor=\"0.4.9.11\"\r\n250 OK\r\n",
		"250-PROTOCOLINFO 1\r\n250-AUTH METHODS=SAFECOOKIE COOKIEFILE=\"/a\\\\b\\\"c\"\r\n250 OK\r\n",
		"250 AUTHCHALLENGE SERVERHASH=" + hex.EncodeToString(make([]byte, 32)) + " SERVERNONCE=" + hex.EncodeToString(make([]byte, 32)) + "\r\n",
		"250 AUTHCHALLENGE SERVERHASH=00 SERVERNONCE=11\r\n",
		"515 Authentication failed\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := torctl.ReadReply(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		if p, err := torctl.ParseProtocolInfo(r); err == nil {
			if len(p.Methods) == 0 || len(p.Methods) > 16 || len(p.CookieFile) > 4096 {
				t.Fatalf("accepted %+v", p)
			}
		} else if !errors.Is(err, torctl.ErrProtocol) {
			t.Fatalf("error %v does not wrap ErrProtocol", err)
		}
		if h, n, err := torctl.ParseAuthChallenge(r); err == nil && (len(h) != 32 || len(n) != 32) {
			t.Fatalf("challenge of %d and %d bytes accepted", len(h), len(n))
		}
	})
}

// FuzzControlPassword: TOR_CONTROL_PASSWD as Tor Browser passes it to tor
// (hex, or a quoted string with tor's escapes). Whatever is accepted names
// the same password when written in hex, the other accepted form.
func FuzzControlPassword(f *testing.F) {
	seeds := []string{`"correct horse"`, "636f727265637420686f727365", `"a\"b\\c\n\x41\101"`, `"\400"`, `"open`, "zz", `""`, `"\'"`}
	for _, s := range seeds {
		f.Add(s)
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, s string) {
		pw, err := onion.ParseControlPassword(s)
		if err != nil {
			if !errors.Is(err, onion.ErrBadConfig) {
				t.Fatalf("error %v does not wrap ErrBadConfig", err)
			}
			// A few bytes of input can be part of the fixed message by
			// chance (the fuzzer found " (as", from "(as Tor Browser reads
			// it)"), which repeats nothing; twelve cannot.
			if len(s) >= 12 && bytes.Contains([]byte(err.Error()), []byte(s)) {
				t.Fatalf("error repeats the password: %v", err)
			}
			return
		}
		again, err := onion.ParseControlPassword(hex.EncodeToString(pw))
		if err != nil || !bytes.Equal(again, pw) {
			t.Fatalf("%.80q -> %.80q, in hex -> %.80q %v", s, pw, again, err)
		}
		if v, err := torctl.Unquote(s); err == nil && v != string(pw) {
			t.Fatalf("Unquote %.80q = %.80q, password %.80q", s, v, pw)
		}
	})
}

// FuzzServiceListen: --service-listen / SOTTO_SERVICE_LISTEN. What is
// accepted is an IP literal (or nothing) and a port range inside 1-65535,
// and prints back to a value that parses the same.
func FuzzServiceListen(f *testing.F) {
	seeds := []string{"10.152.152.11:41000", ":41000", "10.152.152.11", "[fd00::2]:5000", "fd00::2", "localhost:1", ":65500", "1.2.3.4:"}
	for _, s := range seeds {
		f.Add(s)
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, s string) {
		host, port, err := onion.ParseServiceListen(s)
		if err != nil {
			if !errors.Is(err, onion.ErrBadConfig) {
				t.Fatalf("error %v does not wrap ErrBadConfig", err)
			}
			return
		}
		if host == "" && port == 0 || port < 0 || port+63 > 65535 {
			t.Fatalf("%q accepted as %q %d", s, host, port)
		}
		printed := host
		if port != 0 {
			printed = net.JoinHostPort(host, strconv.Itoa(port))
		}
		h2, p2, err := onion.ParseServiceListen(printed)
		if err != nil || h2 != host || p2 != port {
			t.Fatalf("%q -> %q %d -> %q -> %q %d %v", s, host, port, printed, h2, p2, err)
		}
	})
}

// FuzzOnionList: the value of GETINFO onions/current, by which Sotto tells
// that an external tor lost its services. Accepted lists hold v3
// addresses only, each of which parses.
func FuzzOnionList(f *testing.F) {
	a := "eip6l5uftine73dzav6j2mwi2p6dk3qujmo2hmhzafxpn4uyrdndlcqd"
	seeds := []string{"", a, a + "\n" + a, a + "\r\n", "abc", a + "\nxyz", "\n\n"}
	for _, s := range seeds {
		f.Add(s)
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, s string) {
		m, err := torctl.ParseOnions(s)
		if err != nil {
			if !errors.Is(err, torctl.ErrProtocol) {
				t.Fatalf("error %v does not wrap ErrProtocol", err)
			}
			return
		}
		for addr := range m {
			if len(addr) != 56 || !bytes.Contains([]byte(s), []byte(addr)) {
				t.Fatalf("%.80q listed %q", s, addr)
			}
		}
	})
}
