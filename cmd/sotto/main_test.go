package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// call runs the command line in process, with an empty environment.
func call(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb, func(string) string { return "" })
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		say  string // in stderr
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown global flag", []string{"--frob", "id", "list"}, "flag provided but not defined"},
		{"unknown command flag", []string{"id", "list", "--frob"}, "flag provided but not defined"},
		{"id without sub-command", []string{"id"}, "needs a sub-command"},
		{"id unknown sub-command", []string{"id", "mint"}, `"id mint"`},
		{"id new without name", []string{"id", "new"}, "one NAME"},
		{"id new two names", []string{"id", "new", "a", "b"}, "one NAME"},
		{"id new ephemeral", []string{"id", "new", "x", "--ephemeral"}, "ephemeral identity lives in memory only"},
		{"contact add short", []string{"contact", "add", "work", "alice"}, "IDENTITY PETNAME CODE"},
		{"contact unknown", []string{"contact", "befriend"}, `"contact befriend"`},
		{"file send, path split by the shell", []string{"file", "send", "work", "alice", "/tmp/my", "docs/scan.pdf"}, "file send takes IDENTITY CONTACT PATH (got 4 arguments)\nhint: put a path with spaces in quotes"},
		{"file save, path split by the shell", []string{"file", "save", "00", "/tmp/my", "docs/"}, "file save takes FILE PATH (got 3 arguments)\nhint: put a path with spaces in quotes"},
		{"file list, one too many", []string{"file", "list", "work", "alice", "x"}, "file list takes IDENTITY CONTACT (got 3 arguments)"},
		{"send without contact", []string{"send", "work"}, "send takes IDENTITY CONTACT (the message comes from standard input) (got 1 argument)"},
		{"send, the message typed as arguments", []string{"send", "work", "alice", "meet", "at", "the", "bridge"}, "the message is never taken from the command line"},
		{"send, a wait too long", []string{"send", "--wait", "48h", "work", "alice"}, "--wait is how long to wait for delivery: 0 to 24h"},
		{"net without dir", []string{"net", "up"}, "one DIR"},
		{"net unknown", []string{"net", "sideways", "/tmp/x"}, `"net sideways"`},
		{"version with args", []string{"version", "x"}, "no arguments"},
		{"init with args", []string{"init", "secret"}, "no arguments"},
		{"flag needs value", []string{"--profile"}, "flag needs an argument"},
		{"panic key typed as text", []string{"--panic-key", "q", "run"}, `"q" cannot be the panic key`},
		{"panic key is quit", []string{"run", "--panic-key", "ctrl+c"}, `"ctrl+c" cannot be the panic key`},
		{"panic word too short", []string{"--panic-word", "go"}, "the panic word is 3 to 16 letters"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := call(c.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr %q", code, exitUsage, errs)
			}
			if out != "" {
				t.Fatalf("stdout not empty: %q", out)
			}
			if !strings.Contains(errs, c.say) || !strings.Contains(errs, "\nhint: ") {
				t.Fatalf("stderr %q does not say %q with a hint", errs, c.say)
			}
			if strings.Contains(errs, "bridge") {
				t.Fatalf("a message typed on the command line is repeated in %q", errs)
			}
			if strings.Contains(errs, "goroutine ") || strings.HasPrefix(errs, "panic: ") || strings.Contains(errs, "\npanic: ") {
				t.Fatalf("stack trace in %q", errs)
			}
		})
	}
}

func TestHelpEverywhere(t *testing.T) {
	cases := [][]string{
		{"--help"}, {"-h"}, {"help"}, {"help", "id"},
		{"init", "--help"}, {"run", "-h"}, {"id", "--help"}, {"id", "new", "--help"}, {"id", "card", "-h"},
		{"contact", "--help"}, {"contact", "add", "--help"}, {"headless", "--help"},
		{"net", "--help"}, {"net", "up", "--help"}, {"check", "--help"}, {"panic", "--help"}, {"version", "--help"}, {"threatmodel", "--help"},
		{"--profile", "/tmp/p", "id", "--help"},
	}
	for _, args := range cases {
		code, out, errs := call(args...)
		if code != 0 || errs != "" {
			t.Fatalf("%v: exit %d stderr %q", args, code, errs)
		}
		if !strings.HasPrefix(out, "Usage: sotto") || !strings.Contains(out, "Examples:") || !strings.Contains(out, "hint:") {
			t.Fatalf("%v: usage text lacks usage, examples or hints:\n%s", args, out)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := call("version")
	if code != 0 || !strings.HasPrefix(out, "sotto ") {
		t.Fatalf("version: code %d out %q", code, out)
	}
}

// Flags may come before the command, between command and sub-command, and
// after the positional arguments; "--" ends flag parsing.
func TestFlagPlacement(t *testing.T) {
	for _, args := range [][]string{
		{"--profile", "/p", "--debug", "id", "list"},
		{"id", "--profile", "/p", "--debug", "list"},
		{"id", "list", "--profile=/p", "--debug"},
	} {
		a := &app{ctx: context.Background(), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
		_ = a.dispatch(args)
		if a.g.profile != "/p" || !a.g.debug {
			t.Fatalf("%v: globals %+v", args, a.g)
		}
	}
	fs := newFlagSet("x", &globals{})
	pos, err := parse(fs, "x", []string{"a", "--debug", "b", "--", "--not-a-flag", "-x"})
	if err != nil || strings.Join(pos, " ") != "a b --not-a-flag -x" {
		t.Fatalf("pos %q err %v", pos, err)
	}
}

func TestTorFlagsOverrideEnv(t *testing.T) {
	env := map[string]string{"TOR_CONTROL_PORT": "9051", "TOR_SOCKS_PORT": "9050"}
	getenv := func(k string) string { return env[k] }
	tf := torFlags{controlPort: "9151"}
	e := tf.env(getenv)
	if e("TOR_CONTROL_PORT") != "9151" || e("TOR_SOCKS_PORT") != "9050" || tf.external(getenv) {
		t.Fatal("flag does not override env, or external without skip-launch")
	}
	if !(torFlags{skipLaunch: true}).external(getenv) {
		t.Fatal("--tor-skip-launch ignored")
	}
	env["TOR_SKIP_LAUNCH"] = "1"
	if !(torFlags{}).external(getenv) {
		t.Fatal("TOR_SKIP_LAUNCH=1 ignored")
	}
}

// Without a terminal, destructive commands refuse and say which flag confirms.
func TestConfirmWithoutTerminal(t *testing.T) {
	if _, err := openTTYForTest(); err == nil {
		t.Skip("a terminal is attached; this test needs none")
	}
	code, _, errs := call("id", "burn", "work")
	if code != exitUsage || !strings.Contains(errs, "--yes") {
		t.Fatalf("burn without tty: %d %q", code, errs)
	}
	code, _, errs = call("panic")
	if code != exitUsage || !strings.Contains(errs, "panic --yes") {
		t.Fatalf("panic without tty: %d %q", code, errs)
	}
}

func TestThreatmodel(t *testing.T) {
	code, out, _ := call("threatmodel")
	if code != 0 || !strings.Contains(out, "## T01") {
		t.Fatalf("threatmodel: code %d, output starts %.200q", code, out)
	}
}

// TestWeakPassphraseFromFile: `sotto init` accepted "abc" (issue 18). From
// a file, where no one can be asked, a weak passphrase is refused with the
// reason and a hint, unless --weak-passphrase says to go on; a strong one
// passes without a word.
func TestWeakPassphraseFromFile(t *testing.T) {
	base := t.TempDir()
	pw := filepath.Join(base, "pw")
	run := func(pass string, args ...string) (int, string, string) {
		t.Helper()
		if err := os.WriteFile(pw, []byte(pass+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return call(append([]string{"--profile", filepath.Join(base, "p"), "--passphrase-file", pw}, args...)...)
	}
	code, _, errs := run("abc", "init")
	if code != exitUsage || !strings.Contains(errs, "this passphrase is very weak") {
		t.Fatalf("init abc: exit %d, stderr %q", code, errs)
	}
	if !strings.Contains(errs, "less than a second") || !strings.Contains(errs, "--weak-passphrase") {
		t.Fatalf("the refusal does not say how fast or what to do: %q", errs)
	}
	if _, err := os.Stat(filepath.Join(base, "p")); err == nil {
		t.Fatal("a profile was created from a refused passphrase")
	}
	code, _, errs = run("abc", "init", "--weak-passphrase")
	if code != 0 || !strings.Contains(errs, "warning: this passphrase is very weak") {
		t.Fatalf("--weak-passphrase: exit %d, stderr %q", code, errs)
	}
	os.RemoveAll(filepath.Join(base, "p"))
	code, _, errs = run("vivid cactus sailor tundra embassy", "init")
	if code != 0 || errs != "" {
		t.Fatalf("a strong passphrase: exit %d, stderr %q", code, errs)
	}
}
