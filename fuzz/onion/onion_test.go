// Package onion holds the fuzz targets of package onion's decoders: onion
// addresses, tor control-port replies and their values, SOCKS5 replies.
package onion

import (
	"bufio"
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sottochat/sotto/fuzz/fuzzcheck"
	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/onion/socks"
	"github.com/sottochat/sotto/onion/torctl"
)

func FuzzParseAddress(f *testing.F) {
	seeds := []string{
		"eip6l5uftine73dzav6j2mwi2p6dk3qujmo2hmhzafxpn4uyrdndlcqd",
		"EIP6L5UFTINE73DZAV6J2MWI2P6DK3QUJMO2HMHZAFXPN4UYRDNDLCQD.onion",
		"eip6l5uftine73dzav6j2mwi2p6dk3qujmo2hmhzafxpn4uyrdndlcqe",
		"3g2upl4pq6kufc4m.onion", "", ".onion", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, s string) {
		pub, err := onion.ParseAddress(s)
		if err != nil {
			if !errors.Is(err, onion.ErrBadAddress) {
				t.Fatalf("error %v does not wrap ErrBadAddress", err)
			}
			return
		}
		// No malleability: the only accepted spellings are the canonical
		// address, in any case, with or without ".onion".
		addr := onion.AddressFromPublicKey(pub)
		if strings.TrimSuffix(strings.ToLower(s), ".onion") != addr {
			t.Fatalf("%q parsed but re-encodes as %q", s, addr)
		}
	})
}

func FuzzControlReply(f *testing.F) {
	seeds := []string{
		"250 OK\r\n",
		"250-version=0.4.9.11 (git-abc)\r\n250 OK\r\n",
		"250+stream-status=\r\n1 SUCCEEDED 5 x.onion:443\r\n..x\r\n.\r\n250 OK\r\n",
		"650 STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY=\"Done\"\r\n",
		"650 HS_DESC UPLOADED abc UNKNOWN $FP~n\r\n",
		"250-ServiceID=eip6l5uftine73dzav6j2mwi2p6dk3qujmo2hmhzafxpn4uyrdndlcqd\r\n250 OK\r\n",
		"552 Unrecognized key \"x\"\r\n",
		"250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE=\"/a\"\r\n250 OK\r\n",
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
		// Round trip: what we read, written back, reads the same.
		again, err := torctl.ReadReply(bufio.NewReader(bytes.NewReader(r.Marshal())))
		if err != nil {
			t.Fatalf("re-reading marshalled reply: %v", err)
		}
		if !reflect.DeepEqual(normalise(r), normalise(again)) {
			t.Fatalf("round trip changed the reply:\n%+v\n%+v", r, again)
		}
		_, _ = r.KeyValues()
		if ev, err := torctl.ParseEvent(r); err == nil {
			_, _ = torctl.ParseBootstrap(ev.Rest)
			_, _ = torctl.ParseHSDesc(ev.Rest)
			_ = torctl.CircuitEstablished(ev.Rest)
		}
	})
}

// normalise drops the data block of the end line, which Marshal cannot
// carry (ReadReply never produces one) and nil-vs-empty differences.
func normalise(r *torctl.Reply) *torctl.Reply {
	out := &torctl.Reply{Code: r.Code}
	for _, l := range r.Lines {
		if len(l.Data) == 0 {
			l.Data = nil
		}
		out.Lines = append(out.Lines, l)
	}
	return out
}

func FuzzControlValues(f *testing.F) {
	seeds := []string{
		`NOTICE BOOTSTRAP PROGRESS=85 TAG=ap_conn_done SUMMARY="Connected \"x\""`,
		`WARN BOOTSTRAP PROGRESS=10 TAG=conn_done SUMMARY="x" WARNING="refused" COUNT=1`,
		"FAILED abc NO_AUTH $FP~n REASON=NOT_FOUND",
		`"127.0.0.1:9050" "unix:/run/a b/s"`,
		"1 SUCCEEDED 5 x.onion:443\n2 NEW 0 y.onion:443",
		"0.4.9.11 (git-0123456789abcdef)", "Tor version 0.4.9.11.", "0.4.10.1-alpha-dev",
		`SERVERHASH=00 SERVERNONCE=11`, `A="\`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, s string) {
		if b, err := torctl.ParseBootstrap(s); err == nil && (b.Progress < 0 || b.Progress > 100) {
			t.Fatalf("progress %d out of range", b.Progress)
		}
		_, _ = torctl.ParseHSDesc(s)
		_, _ = torctl.ParseListeners(s)
		_, _ = torctl.ParseStreamStatus(s)
		_, _, _ = torctl.Args(s)
		_ = torctl.CircuitEstablished(s)
		if v, err := torctl.ParseVersion(s); err == nil {
			// A parsed version prints as one that parses to the same.
			w, err := torctl.ParseVersion(strings.TrimSuffix(v.String(), "-pre") + map[bool]string{true: "-pre"}[v.Tagged])
			if err != nil || w != v {
				t.Fatalf("version %q -> %v -> %v, %v", s, v, w, err)
			}
		}
	})
}

func FuzzSocksReply(f *testing.F) {
	seeds := [][]byte{
		{5, 0, 0, 1, 127, 0, 0, 1, 0, 80},
		{5, 0xf4, 0, 1, 0, 0, 0, 0, 0, 0},
		{5, 0, 0, 3, 2, 'a', 'b', 0, 1},
		append([]byte{5, 0, 0, 4}, make([]byte, 18)...),
		{4, 0x5a, 0, 0},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		err := socks.ReadReply(r)
		var re *socks.ReplyError
		if err == nil && (len(b) < 7 || b[1] != 0) {
			t.Fatalf("accepted %x", b)
		}
		if errors.As(err, &re) && re.Code == 0 {
			t.Fatal("ReplyError for success")
		}
		if len(b) >= 5 {
			var h [5]byte
			copy(h[:], b)
			if n, err := socks.ReplyRest(h); err == nil && (n < 0 || n > 257) {
				t.Fatalf("rest %d", n)
			}
		}
	})
}

// FuzzConfig feeds a person's --network file and --bridge lines to the
// validator: it must never panic, and what it accepts must not smuggle a
// torrc line through (no newline or NUL inside a bridge line, no option
// outside the allowed ones).
func FuzzConfig(f *testing.F) {
	seeds := [][2]string{
		{"TestingTorNetwork 1\nDirAuthority a orport=1 no-v2 v3ident=AB 127.0.0.1:2 FP\n", "obfs4 127.0.0.1:4433 0123456789ABCDEF0123456789ABCDEF01234567 cert=abc iat-mode=0"},
		{"# comment\r\nPathsNeededToBuildCircuits 0.67\r\n", "Bridge 10.0.0.1:443"},
		{"HiddenServiceDir /x\n", "obfs4 host.example:1 FP cert=x"},
		{"TestingTorNetwork 1\\\nControlPort 1\n", "obfs4 127.0.0.1:1 FP cert=x\nControlPort 9051"},
		{"", "[::1]:443"},
		{"", "0.0.0.0:1\n"}, // a pasted line's trailing newline is trimmed, not refused
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, network, bridge string) {
		c := onion.Config{DataDir: "/tmp/sotto-fuzz/tor", Network: network, Bridges: []string{bridge}}
		err := c.Check()
		if err != nil {
			if !errors.Is(err, onion.ErrBadConfig) {
				t.Fatalf("error %v does not wrap ErrBadConfig", err)
			}
			return
		}
		// Surrounding white space (a pasted line's newline) is trimmed;
		// inside the line nothing may break it.
		if strings.ContainsAny(strings.TrimSpace(bridge), "\r\n\x00") {
			t.Fatalf("bridge line with a line break accepted: %q", bridge)
		}
		for _, l := range strings.Split(network, "\n") {
			l = strings.TrimSpace(l)
			if l == "" || l[0] == '#' {
				continue
			}
			k := strings.ToLower(strings.Fields(l)[0])
			for _, bad := range []string{"hiddenservice", "controlport", "socksport", "log", "datadirectory", "clienttransportplugin", "__"} {
				if strings.HasPrefix(k, bad) {
					t.Fatalf("network option %q accepted", k)
				}
			}
		}
	})
}

func FuzzExternalFromEnv(f *testing.F) {
	seeds := [][3]string{
		{"1", "127.0.0.1", "9051"},
		{"1", "::1", "9151"},
		{"1", "localhost", "x"},
		{"0", "", ""},
		{"1", "10.152.152.10", "99999"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2])
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, skip, host, port string) {
		env := map[string]string{"TOR_SKIP_LAUNCH": skip, "TOR_CONTROL_HOST": host, "TOR_CONTROL_PORT": port, "TOR_SOCKS_HOST": host, "TOR_SOCKS_PORT": port}
		e, err := onion.ExternalFromEnv(func(k string) string { return env[k] })
		if err != nil {
			if !errors.Is(err, onion.ErrBadConfig) {
				t.Fatalf("error %v does not wrap ErrBadConfig", err)
			}
			return
		}
		if e == nil {
			return
		}
		// Whatever is accepted names IP literals only: nothing to resolve.
		c := onion.Config{External: e}
		if err := c.Check(); err != nil {
			t.Fatalf("ExternalFromEnv accepted %+v that Check rejects: %v", e, err)
		}
	})
}
