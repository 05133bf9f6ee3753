package onion

import (
	"errors"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// Tor Browser's conventions, exactly (issue 17): TOR_CONTROL_IPC_PATH with
// TOR_CONTROL_SOCKET as an alias, TOR_SKIP_LAUNCH=true, and TOR_CONTROL_PASSWD
// read as tor reads AUTHENTICATE's argument (hex, or a quoted string).
func TestExternalFromEnvTorBrowser(t *testing.T) {
	for _, v := range []string{"1", "true", "TRUE", "True", " 1 "} {
		if e, err := ExternalFromEnv(envOf(map[string]string{"TOR_SKIP_LAUNCH": v})); err != nil || e == nil {
			t.Errorf("TOR_SKIP_LAUNCH=%q: %v %v", v, e, err)
		}
	}
	for _, v := range []string{"", "0", "false", "FALSE"} {
		if e, err := ExternalFromEnv(envOf(map[string]string{"TOR_SKIP_LAUNCH": v})); err != nil || e != nil {
			t.Errorf("TOR_SKIP_LAUNCH=%q: %v %v, want launch mode", v, e, err)
		}
	}
	for _, v := range []string{"yes", "2", "on"} {
		if _, err := SkipLaunch(envOf(map[string]string{"TOR_SKIP_LAUNCH": v})); !errors.Is(err, ErrBadConfig) {
			t.Errorf("TOR_SKIP_LAUNCH=%q accepted: %v", v, err)
		}
	}

	e, err := ExternalFromEnv(envOf(map[string]string{"TOR_SKIP_LAUNCH": "1", "TOR_CONTROL_IPC_PATH": "/run/tb/control.socket"}))
	if err != nil || e.ControlNetwork != "unix" || e.ControlAddress != "/run/tb/control.socket" {
		t.Fatalf("TOR_CONTROL_IPC_PATH: %+v %v", e, err)
	}
	e, err = ExternalFromEnv(envOf(map[string]string{"TOR_SKIP_LAUNCH": "1", "TOR_CONTROL_SOCKET": "/run/tor/control"}))
	if err != nil || e.ControlNetwork != "unix" || e.ControlAddress != "/run/tor/control" {
		t.Fatalf("TOR_CONTROL_SOCKET alias: %+v %v", e, err)
	}
	e, err = ExternalFromEnv(envOf(map[string]string{"TOR_SKIP_LAUNCH": "1", "TOR_CONTROL_IPC_PATH": "unix:/run/c", "TOR_CONTROL_SOCKET": "/run/c"}))
	if err != nil || e.ControlAddress != "/run/c" {
		t.Fatalf("both names, same socket: %+v %v", e, err)
	}
	if _, err := ExternalFromEnv(envOf(map[string]string{"TOR_SKIP_LAUNCH": "1", "TOR_CONTROL_IPC_PATH": "/run/a", "TOR_CONTROL_SOCKET": "/run/b"})); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("two different sockets accepted: %v", err)
	}

	for in, want := range map[string]string{
		"636f727265637420686f727365": "correct horse",
		"636F727265637420686F727365": "correct horse",
		`"correct horse"`:            "correct horse",
		`"a\"b\\c"`:                  `a"b\c`,
		`"tab\there\nline\r"`:        "tab\there\nline\r",
		`"\x41\101\0\'"`:             "AA\x00'",
		`"\7\77\377"`:                "\x07\x3f\xff",
		`"unicode é"`:                "unicode é",
		`"sp ace"`:                   "sp ace",
	} {
		pw, err := ParseControlPassword(in)
		if err != nil || string(pw) != want {
			t.Errorf("TOR_CONTROL_PASSWD=%s: %q %v, want %q", in, pw, err, want)
		}
	}
	for _, in := range []string{"correct horse", "abc", "zz", `"open`, `"a" b`, `"bad \q escape"`, `"\400"`, `"\x4"`, `""`, "\"a\nb\""} {
		if _, err := ParseControlPassword(in); !errors.Is(err, ErrBadConfig) {
			t.Errorf("TOR_CONTROL_PASSWD=%q accepted: %v", in, err)
		}
	}
	// A wrong password's text never reaches the error.
	if _, err := ParseControlPassword("hunter2-secret"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func TestParseServiceListen(t *testing.T) {
	for in, want := range map[string]struct {
		host string
		port int
	}{
		"10.152.152.11:41000": {"10.152.152.11", 41000},
		":41000":              {"", 41000},
		"10.152.152.11":       {"10.152.152.11", 0},
		"[fd00::2]:5000":      {"fd00::2", 5000},
		"fd00::2":             {"fd00::2", 0},
	} {
		h, p, err := ParseServiceListen(in)
		if err != nil || h != want.host || p != want.port {
			t.Errorf("%q: %q %d %v, want %+v", in, h, p, err, want)
		}
	}
	for _, in := range []string{"", "localhost:41000", "host", ":0", ":65500", "1.2.3.4:x", "[fd00::2]", "1.2.3.4:"} {
		if _, _, err := ParseServiceListen(in); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%q accepted: %v", in, err)
		}
	}
	e, err := ExternalFromEnv(envOf(map[string]string{"TOR_SKIP_LAUNCH": "1", "SOTTO_SERVICE_LISTEN": "10.152.152.11:41000"}))
	if err != nil || e.ServiceHost != "10.152.152.11" || e.ServicePortBase != 41000 {
		t.Fatalf("SOTTO_SERVICE_LISTEN: %+v %v", e, err)
	}
	if _, err := ExternalFromEnv(envOf(map[string]string{"TOR_SKIP_LAUNCH": "1", "SOTTO_SERVICE_LISTEN": "gw:1"})); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("SOTTO_SERVICE_LISTEN with a name: %v", err)
	}
}
