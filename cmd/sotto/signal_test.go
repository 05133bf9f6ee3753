package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// `sotto --version` prints the version and exits 0 (issue 17), like
// `sotto version`.
func TestVersionFlag(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"--profile", "/nonexistent", "--version"}} {
		code, out, errs := call(args...)
		if code != 0 || !strings.HasPrefix(out, "sotto ") || errs != "" {
			t.Errorf("%q: code %d out %q err %q", args, code, out, errs)
		}
	}
}

func TestSignalCode(t *testing.T) {
	for sig, want := range map[syscall.Signal]int{syscall.SIGINT: 130, syscall.SIGTERM: 143, syscall.SIGHUP: 129} {
		if got := signalCode(sig); got != want {
			t.Errorf("%v: %d, want %d", sig, got, want)
		}
	}
	// A command whose context a signal cancelled exits with that signal's
	// code. The signal goes to a child (this test binary again): in this
	// process other tests' handlers (vault.Harden) would exit on it.
	cmd := exec.Command(os.Args[0], "-test.short", "-test.run=^TestSignalContextChild$")
	cmd.Env = append(os.Environ(), "SOTTO_TEST_SIGNAL_CHILD=1")
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Fatalf("a command cancelled by SIGTERM ended with %v, want exit status 143", err)
	}
	if c := (&app{ctx: context.Background()}).classify(context.Canceled); c.code != exitInterrupted {
		t.Fatalf("exit code of a cancel without a signal: %d", c.code)
	}
}

// TestSignalContextChild is TestSignalCode's child: it sends itself
// SIGTERM under signalContext and exits with the code classify gives.
func TestSignalContextChild(t *testing.T) {
	if os.Getenv("SOTTO_TEST_SIGNAL_CHILD") != "1" {
		t.Skip("run by TestSignalCode")
	}
	ctx, stop := signalContext(context.Background())
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not cancel the command's context")
	}
	os.Exit((&app{ctx: ctx}).classify(context.Canceled).code)
}

// TOR_SKIP_LAUNCH=true is accepted wherever 1 is (issue 17), and
// --tor-control-socket is Tor Browser's TOR_CONTROL_IPC_PATH, hiding the
// older name.
func TestTorBrowserEnv(t *testing.T) {
	env := map[string]string{"TOR_SKIP_LAUNCH": "true", "TOR_CONTROL_SOCKET": "/run/old"}
	getenv := func(k string) string { return env[k] }
	if !(torFlags{}).external(getenv) {
		t.Fatal("TOR_SKIP_LAUNCH=true ignored")
	}
	env["TOR_SKIP_LAUNCH"] = "yes"
	if !(torFlags{}).external(getenv) {
		t.Fatal("an unknown TOR_SKIP_LAUNCH must reach ExternalFromEnv, which says what is wrong")
	}
	env["TOR_SKIP_LAUNCH"] = "false"
	if (torFlags{}).external(getenv) {
		t.Fatal("TOR_SKIP_LAUNCH=false means launch")
	}
	e := torFlags{controlSocket: "/run/new", serviceListen: ":41000"}.env(getenv)
	if e("TOR_CONTROL_IPC_PATH") != "/run/new" || e("TOR_CONTROL_SOCKET") != "" || e("SOTTO_SERVICE_LISTEN") != ":41000" {
		t.Fatalf("flags: ipc %q socket %q listen %q", e("TOR_CONTROL_IPC_PATH"), e("TOR_CONTROL_SOCKET"), e("SOTTO_SERVICE_LISTEN"))
	}
}

// A running sotto (its profile open, secrets in memory) ends on SIGTERM
// with status 143 and on SIGINT with 130, after wiping (issue 17: it was 1).
func TestSignalExitStatus(t *testing.T) {
	needNetwork(t)
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		p := harness.NewProfile(t, "sig"+strings.ToLower(sig.String()[:3]))
		p.Must("init")
		n := p.Headless()
		// The profile is open once the engine reports tor's progress.
		n.WaitFor(0, readyWithin, "tor progress", func(m map[string]any) bool { return m["event"] == "tor" })
		if err := syscall.Kill(n.PID(false), sig); err != nil {
			t.Fatal(err)
		}
		err := n.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != signalCode(sig) {
			t.Fatalf("%v: headless ended with %v, want exit status %d", sig, err, signalCode(sig))
		}
	}
}
