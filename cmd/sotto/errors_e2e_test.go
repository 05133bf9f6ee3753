package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sottochat/sotto/internal/e2e"
)

// wantExit checks an exit code and that stderr says what and what to do.
func wantExit(t *testing.T, what string, code int, errs string, wantCode int, say string) {
	t.Helper()
	if code != wantCode {
		t.Fatalf("%s: exit %d, want %d\n%s", what, code, wantCode, errs)
	}
	if !strings.Contains(errs, say) || !strings.Contains(errs, "\nhint: ") {
		t.Fatalf("%s: stderr lacks %q or a hint:\n%s", what, say, errs)
	}
	if strings.Contains(errs, "goroutine ") {
		t.Fatalf("%s: stack trace:\n%s", what, errs)
	}
}

func TestErrorPaths(t *testing.T) {
	needNetwork(t)
	t.Parallel()
	p := harness.NewProfile(t, "err")

	code, _, errs := p.Run("id", "list")
	wantExit(t, "no profile", code, errs, exitNoProfile, "sotto init")

	p.Must("init")
	code, _, errs = p.Run("init")
	wantExit(t, "init twice", code, errs, exitProfileExists, "--profile")

	code, _, errs = harness.Run(t, "", "--profile", p.Dir, "id", "list")
	wantExit(t, "no terminal, no passphrase file", code, errs, exitUsage, "--passphrase-file")
	code, _, errs = harness.Run(t, "", "--profile", p.Dir)
	wantExit(t, "chat screen without a terminal", code, errs, exitUsage, "sotto headless")
	code, _, errs = harness.Run(t, "", "--profile", p.Dir+"-typo", "panic", "--yes")
	wantExit(t, "panic on a missing profile", code, errs, exitNoProfile, "nothing was wiped")

	wrong := filepath.Join(filepath.Dir(p.PwFile), "wrong")
	os.WriteFile(wrong, []byte("not the passphrase\n"), 0o600)
	code, _, errs = harness.Run(t, "", "--profile", p.Dir, "--passphrase-file", wrong, "id", "list")
	wantExit(t, "wrong passphrase", code, errs, exitWrongPassphrase, "nothing was changed")

	loose := filepath.Join(filepath.Dir(p.PwFile), "loose")
	os.WriteFile(loose, []byte(p.Passphrase+"\n"), 0o644)
	code, _, errs = harness.Run(t, "", "--profile", p.Dir, "--passphrase-file", loose, "id", "list")
	if code == 0 || !strings.Contains(errs, "chmod 600") {
		t.Fatalf("world-readable passphrase file: exit %d\n%s", code, errs)
	}

	p.Must("id", "new", "me")
	code, _, errs = p.Run("id", "new", "me")
	wantExit(t, "identity exists", code, errs, exitExists, "id list")

	code, _, errs = p.Run("id", "card", "nobody")
	wantExit(t, "unknown identity", code, errs, exitNotFound, "id list")

	code, _, errs = p.Run("contact", "remove", "me", "nobody")
	wantExit(t, "unknown contact", code, errs, exitNotFound, "contact list")
	if !strings.Contains(errs, `sotto: no contact named "nobody"`) {
		t.Fatalf("unknown contact: stderr does not say which name:\n%s", errs)
	}

	myCode := strings.TrimSpace(p.Must("id", "card", "me", "--no-qr"))
	for _, bad := range []string{"garbage", myCode[:len(myCode)-3], myCode[:10] + "x" + myCode[11:]} {
		code, _, errs = p.Run("contact", "add", "me", "friend", bad)
		wantExit(t, "bad code "+bad, code, errs, exitBadCode, "ask for the code again")
	}

	// The profile is locked while a headless process has it open.
	t.Log("profile in use")
	h := p.Headless()
	h.Do(time.Minute, map[string]any{"cmd": "ping"})
	t.Log("headless answers")
	code, _, errs = p.Run("id", "list")
	wantExit(t, "profile in use", code, errs, exitProfileInUse, "close it first")
	t.Log("refused")
	h.Stop()
	t.Log("stopped")
	p.Must("id", "list")

	// check reads the vault back; with the wrong passphrase it exits 3;
	// a changed byte in a vault file is reported as damage.
	if out := p.Must("check"); !strings.Contains(out, "ok") {
		t.Fatalf("check:\n%s", out)
	}
	code, _, errs = harness.Run(t, "", "--profile", p.Dir, "--passphrase-file", wrong, "check")
	wantExit(t, "check, wrong passphrase", code, errs, exitWrongPassphrase, "wrong passphrase")
	var victim string
	filepath.Walk(filepath.Join(p.Dir, "vault"), func(path string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() > 64 && victim == "" && filepath.Base(filepath.Dir(path)) != "vault" {
			victim = path
		}
		return nil
	})
	if victim == "" {
		t.Fatal("no vault file to damage")
	}
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(victim, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := p.Run("check")
	wantExit(t, "check, damaged file", code, errs, exitFailure, "damaged")
	if !strings.Contains(out, "damaged: ") {
		t.Fatalf("check does not name the damaged file:\n%s", out)
	}
}

// TestPassphraseFromTerminal drives init and unlock through a real
// terminal (script(1) allocates a pty): the passphrase never touches argv,
// the environment or stdin of sotto itself.
func TestPassphraseFromTerminal(t *testing.T) {
	needNetwork(t)
	t.Parallel()
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) not installed")
	}
	base, err := os.MkdirTemp("", "sp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	dir := filepath.Join(base, "p")
	// inTTY runs sotto under script(1) and types each answer after the
	// prompt for it has appeared on the terminal: a passphrase prompt, or
	// the question of the strength check for an answer that starts with
	// "weak:".
	inTTY := func(answers []string, args ...string) (int, string) {
		t.Helper()
		line := harness.Bin + " --profile " + dir + " " + strings.Join(args, " ")
		cmd := exec.Command("script", "-qec", line, "/dev/null")
		cmd.Env = e2e.CleanEnv()
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out := &watched{changed: make(chan struct{}, 1)}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		prompts := 0
		for i, a := range answers {
			want := "assphrase"
			n := prompts + 1
			if rest, ok := strings.CutPrefix(a, "weak:"); ok {
				want, n, a = "Type 'weak'", 1, rest
			} else {
				prompts++
			}
			if !out.waitCount(want, n, time.Minute) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("prompt %d never came:\n%s", i+1, out.String())
			}
			io.WriteString(stdin, a+"\n")
		}
		err = cmd.Wait()
		stdin.Close()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, out.String()
	}
	if code, out := inTTY([]string{"two words", "other words"}, "init"); code != exitUsage || !strings.Contains(out, "differ") {
		t.Fatalf("mismatched passphrases: exit %d\n%s", code, out)
	}
	// Issue 18: a weak passphrase is named as such, with the time it would
	// take, and used only when the person types 'weak'.
	if code, out := inTTY([]string{"two words", "two words", "weak:no"}, "init"); code != exitFailure ||
		!strings.Contains(out, "this passphrase is weak") || !strings.Contains(out, "nothing was created") {
		t.Fatalf("weak passphrase not confirmed: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("a profile was created from an unconfirmed weak passphrase")
	}
	if code, out := inTTY([]string{"two words", "two words", "weak:weak"}, "init"); code != 0 || strings.Contains(out, "two words") {
		t.Fatalf("init on a terminal (the passphrase must not be echoed): exit %d\n%s", code, out)
	}
	if code, out := inTTY([]string{"two words"}, "id", "list"); code != 0 || !strings.Contains(out, "NAME") {
		t.Fatalf("unlock on a terminal: exit %d\n%s", code, out)
	}
	if code, out := inTTY([]string{"three words"}, "id", "list"); code != exitWrongPassphrase || strings.Contains(out, "three words") {
		t.Fatalf("wrong passphrase on a terminal: exit %d\n%s", code, out)
	}
}

// watched collects a process's output and signals every change.
type watched struct {
	mu      sync.Mutex
	b       strings.Builder
	changed chan struct{}
}

func (w *watched) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.b.Write(p)
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (w *watched) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// waitCount waits until s occurs n times in the output.
func (w *watched) waitCount(s string, n int, d time.Duration) bool {
	deadline := time.After(d)
	for strings.Count(w.String(), s) < n {
		select {
		case <-w.changed:
		case <-deadline:
			return false
		}
	}
	return true
}

// inTerminal runs sotto under script(1), which gives it a terminal, and
// types each answer once its prompt has appeared n times on the terminal.
func inTerminal(t *testing.T, answers []termAnswer, args ...string) (int, string) {
	t.Helper()
	return inTerminalRun(t, answers, harness.Bin, args...)
}

// inTerminalRun is inTerminal for any program (bin).
func inTerminalRun(t *testing.T, answers []termAnswer, bin string, args ...string) (int, string) {
	t.Helper()
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) not installed")
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	cmd := exec.Command("script", "-qec", bin+" "+strings.Join(quoted, " "), "/dev/null")
	cmd.Env = e2e.CleanEnv()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &watched{changed: make(chan struct{}, 1)}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, a := range answers {
		if !out.waitCount(a.prompt, a.n, time.Minute) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("prompt %q never came:\n%s", a.prompt, out.String())
		}
		io.WriteString(stdin, a.answer+"\n")
	}
	err = cmd.Wait()
	stdin.Close()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

type termAnswer struct {
	prompt string
	n      int
	answer string
}

// TestVerifyByTyping: `sotto contact verify` marked a contact verified on a
// "yes" (issue 18). It now asks for the code the contact reads out, as the
// chat screen does: a wrong code verifies nothing and says so; the right
// one, typed with other spacing, verifies. A contact code wrapped over
// lines and indented, as copied from a terminal or a mail, is accepted,
// in several arguments or on standard input.
func TestVerifyByTyping(t *testing.T) {
	needNetwork(t)
	t.Parallel()
	alice, bob := harness.NewProfile(t, "alice"), harness.NewProfile(t, "bob")
	for _, p := range []*e2e.Profile{alice, bob} {
		p.Must("init")
		p.Must("id", "new", p.Name)
	}
	card := strings.TrimSpace(bob.Must("id", "card", "bob", "--no-qr"))
	// Wrapped and indented, in groups of five, over three arguments.
	var groups []string
	for i := 0; i < len(card); i += 5 {
		groups = append(groups, card[i:min(i+5, len(card))])
	}
	wrapped := []string{strings.Join(groups[:9], " ") + "\n   ", strings.Join(groups[9:18], " "), "\t" + strings.Join(groups[18:], " ") + "\r\n"}
	alice.Must(append([]string{"contact", "add", "alice", "bob"}, wrapped...)...)
	// A code is a contact once per identity: removed, then added again
	// from standard input.
	alice.Must("contact", "remove", "alice", "bob")
	code, _, errs := harness.Run(t, strings.Join(wrapped, "\n"), alice.Args("contact", "add", "alice", "bob", "-")...)
	if code != 0 {
		t.Fatalf("contact add - with a wrapped code on stdin: exit %d %s", code, errs)
	}

	verify := alice.Args("contact", "verify", "alice", "bob")
	verified := func() bool {
		for _, l := range strings.Split(alice.Must("contact", "list", "alice"), "\n") {
			if f := strings.Fields(l); len(f) > 2 && f[1] == "bob" {
				return f[2] == "yes"
			}
		}
		t.Fatal("bob is not in alice's contact list")
		return false
	}
	code, out := inTerminal(t, []termAnswer{{"reads out", 1, "12345 67890"}}, verify...)
	if code != exitFailure || !strings.Contains(out, "the codes differ") || !strings.Contains(out, "not marked verified") {
		t.Fatalf("a wrong code: exit %d\n%s", code, out)
	}
	if verified() {
		t.Fatal("verified after a wrong code")
	}
	// The code as shown: the groups after the explanation.
	var shown []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && len(f[0]) == 5 && strings.Trim(l, " 0123456789\r") == "" {
			shown = append(shown, f...)
		}
	}
	if n := len(strings.Join(shown, "")); n < 20 {
		t.Fatalf("the safety code shown has %d digits:\n%s", n, out)
	}
	typed := strings.Join(shown, "") // no spaces: they do not matter
	code, out = inTerminal(t, []termAnswer{{"reads out", 1, typed}}, verify...)
	if code != 0 || !strings.Contains(out, "the codes match: bob is verified") || !verified() {
		t.Fatalf("the right code: exit %d\n%s", code, out)
	}
}
