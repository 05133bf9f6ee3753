package vault

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMemlock64K runs a child as an ordinary user (nobody, when this runs as
// root, with every capability dropped) with RLIMIT_MEMLOCK 64 KiB, soft and
// hard: the vault must work, and running out must be an error, not a crash.
func TestMemlock64K(t *testing.T) {
	t.Parallel()
	out, err := runOrdinary(t, 64<<10, "TestMemlockChild", "VAULT_CHILD=memlock")
	if err != nil || !bytes.Contains(out, []byte("MEMLOCK-CHILD-OK")) {
		t.Fatalf("child at 64 KiB: %v\n%s", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}

// TestHardenWarnsOnSmallMemlock: below the 64 KiB of locked memory Sotto
// needs, Harden says so (the caller shows it to the user), naming the limit
// and the fix.
func TestHardenWarnsOnSmallMemlock(t *testing.T) {
	t.Parallel()
	out, err := runOrdinary(t, 32<<10, "TestHardenLimitChild", "VAULT_CHILD=hardenlimit")
	if err != nil || !bytes.Contains(out, []byte("HARDEN-CHILD-OK")) {
		t.Fatalf("child at 32 KiB: %v\n%s", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}

func TestHardenLimitChild(t *testing.T) {
	if os.Getenv("VAULT_CHILD") != "hardenlimit" {
		t.Skip("runs as the child of TestHardenWarnsOnSmallMemlock")
	}
	err := Harden(nil)
	if err == nil || !strings.Contains(err.Error(), "32 KiB") || !strings.Contains(err.Error(), "ulimit -l") {
		t.Fatalf("Harden at 32 KiB: %v", err)
	}
	fmt.Println("warning as expected:", err)
	fmt.Println("HARDEN-CHILD-OK")
}

// runOrdinary runs this test binary's test run as an ordinary user (nobody,
// when this runs as root, with every capability dropped) with
// RLIMIT_MEMLOCK set to memlock bytes, soft and hard, and returns its
// output.
func runOrdinary(t *testing.T, memlock int, run string, env ...string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "vault-memlock-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(tmp) })
	bin := filepath.Join(tmp, "vault.test")
	exe, _ := os.Executable()
	data, err := os.ReadFile(exe)
	must(t, err)
	must(t, os.WriteFile(bin, data, 0o755))
	work := filepath.Join(tmp, "work")
	must(t, os.Mkdir(work, 0o700))
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) missing")
	}
	args := []string{fmt.Sprintf("--memlock=%d:%d", memlock, memlock)}
	if os.Geteuid() == 0 {
		os.Chmod(tmp, 0o755)
		must(t, os.Chown(work, 65534, 65534))
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Skip("setpriv missing")
		}
		args = append(args, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all")
	}
	args = append(args, bin, "-test.run=^"+run+"$", "-test.v", "-test.count=1")
	cmd := exec.Command("prlimit", args...)
	cmd.Env = append(os.Environ(), append(env, "VAULT_WORK="+work, "TMPDIR="+work, "HOME="+work)...)
	return cmd.CombinedOutput()
}

func TestMemlockChild(t *testing.T) {
	if os.Getenv("VAULT_CHILD") != "memlock" {
		t.Skip("runs as the child of TestMemlock64K")
	}
	must(t, Harden(nil))
	var lim unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim)
	used, capLock, _ := lockedUsage()
	if lim.Cur != 64<<10 || capLock || os.Geteuid() == 0 {
		t.Fatalf("not an ordinary user at 64 KiB: limit %d, CAP_IPC_LOCK %v, euid %d", lim.Cur, capLock, os.Geteuid())
	}
	t.Logf("locked at start: %d KiB of %d", used/1024, lim.Cur/1024)
	dir := filepath.Join(os.Getenv("VAULT_WORK"), "vault")
	v, err := Create(dir, pass(t, "pw"), testOpts)
	must(t, err)
	for i := range 120 {
		must(t, v.Append("conv", fmt.Sprint(i), entryValue(i)))
		must(t, v.Put("ratchet", fmt.Sprint(i%20), entryValue(i)))
	}
	_, err = v.Remove("conv", "1", "2", "3")
	must(t, err)
	must(t, v.Close())
	v, err = Open(dir, pass(t, "pw"), testOpts)
	must(t, err)
	es, err := v.Entries("conv")
	if err != nil || len(es) != 117 {
		t.Fatalf("Entries: %d %v", len(es), err)
	}
	// Many secrets, in enclaves, cost no locked memory until opened.
	var ss []*Secret
	for i := range 200 {
		s, err := NewSecret(bytes.Repeat([]byte{byte(i)}, 32))
		must(t, err)
		ss = append(ss, s)
	}
	must(t, OpenSecrets(func(bs [][]byte) error { return nil }, ss...))
	// Open secrets nested as deep as the slots allow.
	var nest func(i int) error
	nest = func(i int) error {
		if i == MaxOpenSecrets {
			return nil
		}
		return ss[i].Open(func([]byte) error { return nest(i + 1) })
	}
	must(t, nest(0))
	// Too much at once: an error, not memguard's panic.
	big1, _ := RandomSecret(28 << 10)
	big2, _ := RandomSecret(28 << 10)
	err = big1.Open(func([]byte) error {
		return big2.Open(func([]byte) error { return nil })
	})
	if !errors.Is(err, ErrLockedMemory) || !strings.Contains(err.Error(), "ulimit -l") {
		t.Fatalf("out of locked memory: %v", err)
	}
	t.Logf("as expected: %v", err)
	// Everything still works afterwards.
	must(t, v.Append("conv", "after", []byte("x")))
	must(t, v.Close())
	fmt.Println("MEMLOCK-CHILD-OK")
}

// TestHardenSignals checks that after Harden core dumps are off, the process
// is not dumpable, and SIGTERM and SIGHUP end it through memguard's purge
// (exit status 1) rather than killing it outright.
func TestHardenSignals(t *testing.T) {
	t.Parallel()
	exe, _ := os.Executable()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT} {
		cmd := child(t, exe, "TestHardenChild", "VAULT_CHILD=harden")
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = cmd.Stdout
		must(t, cmd.Start())
		r := bufio.NewReader(out)
		ready := false
		var seen bytes.Buffer
		for !ready {
			line, err := r.ReadString('\n')
			seen.WriteString(line)
			if err != nil {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child ended before ready: %v\n%s", err, seen.String())
			}
			ready = strings.Contains(line, "HARDEN-READY")
		}
		cmd.Process.Signal(sig)
		rest, _ := io.ReadAll(r)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || bytes.Contains(rest, []byte("HARDEN-NOT-PURGED")) {
			t.Fatalf("%v: child ended with %v, want exit status 1 after a purge\n%s%s", sig, err, seen.String(), rest)
		}
		if !bytes.Contains(rest, []byte("HOOK "+sig.String())) {
			t.Fatalf("%v: the onSignal hook did not run\n%s", sig, rest)
		}
	}
}

func TestHardenChild(t *testing.T) {
	if os.Getenv("VAULT_CHILD") != "harden" {
		t.Skip("runs as the child of TestHardenSignals")
	}
	must(t, Harden(func(s os.Signal) { fmt.Println("HOOK", s) }))
	var lim unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_CORE, &lim)
	if lim.Cur != 0 || lim.Max != 0 {
		t.Fatalf("RLIMIT_CORE = %+v", lim)
	}
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil || d != 0 {
		t.Fatalf("dumpable = %d, %v", d, err)
	}
	unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim)
	if lim.Cur != lim.Max {
		t.Fatalf("RLIMIT_MEMLOCK soft %d below hard %d", lim.Cur, lim.Max)
	}
	fmt.Println("HARDEN-READY")
	time.Sleep(20 * time.Second)
	fmt.Println("HARDEN-NOT-PURGED")
}

// TestReadPassphraseTTY reads passphrases through a real pseudo-terminal:
// they arrive intact and are not echoed; two different answers to
// ReadNewPassphrase are refused.
func TestReadPassphraseTTY(t *testing.T) {
	master, slave, err := openPTY()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer master.Close()
	exe, _ := os.Executable()
	cmd := child(t, exe, "TestReadPassphraseChild", "VAULT_CHILD=tty")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	must(t, cmd.Start())
	slave.Close()
	var out syncBuf
	done := make(chan struct{})
	go func() { io.Copy(&out, master); close(done) }()
	// Wait for the prompt before typing.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "Passphrase: ") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no prompt: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	master.Write([]byte("tty secret phrase\n"))
	for !strings.Contains(out.String(), "Again: ") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no second prompt: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	master.Write([]byte("tty secret phrase\n"))
	for !strings.Contains(out.String(), "New: ") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no third prompt: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	master.Write([]byte("one\n"))
	for !strings.Contains(out.String(), "Again2: ") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no fourth prompt: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	master.Write([]byte("two\n"))
	err = cmd.Wait()
	<-done
	s := out.String()
	if err != nil || !strings.Contains(s, "TTY-MATCH") || !strings.Contains(s, "TTY-MISMATCH") {
		t.Fatalf("child: %v\n%s", err, s)
	}
	if strings.Contains(s, "tty secret phrase") {
		t.Fatalf("the passphrase was echoed:\n%s", s)
	}
}

// syncBuf is a bytes.Buffer safe for one writer and one reader.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestReadPassphraseChild(t *testing.T) {
	if os.Getenv("VAULT_CHILD") != "tty" {
		t.Skip("runs as the child of TestReadPassphraseTTY")
	}
	p, err := ReadNewPassphrase("Passphrase: ", "Again: ")
	must(t, err)
	if eq, _ := p.Equal(pass(t, "tty secret phrase")); eq {
		fmt.Println("TTY-MATCH")
	}
	if _, err := ReadNewPassphrase("New: ", "Again2: "); errors.Is(err, ErrPassphraseMismatch) {
		fmt.Println("TTY-MISMATCH")
	}
}

func openPTY() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}
