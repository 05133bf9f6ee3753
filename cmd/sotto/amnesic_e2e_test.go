package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sottochat/sotto/internal/e2e"
)

// amnesicEnv is a clean environment for an amnesic session: a HOME, a
// TMPDIR and a working directory of its own on disk (watched), and an
// XDG_RUNTIME_DIR on /dev/shm (the tmpfs the session must keep to).
type amnesicEnv struct {
	home, tmp, work, runtime string
	env                      []string
}

func newAmnesicEnv(t *testing.T) *amnesicEnv {
	t.Helper()
	if kind, err := memoryBacked("/dev/shm"); err != nil || kind == "" {
		t.Skipf("/dev/shm is not a tmpfs here (%q, %v)", kind, err)
	}
	base := t.TempDir()
	rt, err := os.MkdirTemp("/dev/shm", "st-am")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rt) })
	a := &amnesicEnv{home: filepath.Join(base, "home"), tmp: filepath.Join(base, "tmp"), work: filepath.Join(base, "work"), runtime: rt}
	for _, d := range []string{a.home, a.tmp, a.work} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, kv := range e2e.CleanEnv() {
		switch k, _, _ := strings.Cut(kv, "="); {
		case k == "HOME", k == "TMPDIR", strings.HasPrefix(k, "XDG_"):
		default:
			a.env = append(a.env, kv)
		}
	}
	a.env = append(a.env, "HOME="+a.home, "TMPDIR="+a.tmp, "XDG_RUNTIME_DIR="+rt)
	return a
}

// snapshot maps every path under the watched directories to its size and
// modification time.
func (a *amnesicEnv) snapshot(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, root := range []string{a.home, a.tmp, a.work} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if info, err := d.Info(); err == nil {
				out[p] = fmt.Sprintf("%d %s", info.Size(), info.ModTime().Format(time.RFC3339Nano))
			}
			return nil
		})
	}
	return out
}

// sessionDirs lists the session directories under XDG_RUNTIME_DIR.
func (a *amnesicEnv) sessionDirs(t *testing.T) []string {
	t.Helper()
	ms, _ := filepath.Glob(filepath.Join(a.runtime, "sotto-amnesic-*"))
	return ms
}

// TestAmnesicSession runs 'sotto --amnesic headless' (real binary, real tor
// on the private network) under strace: an identity, a contact and messages
// both ways, then quit. Every file the process and its tor created,
// modified, renamed, removed or bound outside the session's tmpfs directory
// is listed: there must be none. A walk of HOME, TMPDIR and the working
// directory before and after agrees, and the session directory is gone at
// the end. A second session is ended by SIGTERM: its directory is gone too.
func TestAmnesicSession(t *testing.T) {
	needNetwork(t)
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatal("strace is needed (make deps)")
	}
	t.Parallel()

	t.Run("sigterm", func(t *testing.T) {
		t.Parallel()
		a := newAmnesicEnv(t)
		n := harness.Start(t, "amnesic-term", a.env, []string{"--amnesic", "--network", harness.Network, "headless"})
		n.WaitFor(0, readyWithin, "tor ready in an amnesic session", e2e.Is(map[string]any{"event": "tor", "state": "ready", "amnesic": true}))
		dirs := a.sessionDirs(t)
		if len(dirs) != 1 {
			t.Fatalf("session directories under XDG_RUNTIME_DIR: %v, want one", dirs)
		}
		if _, err := os.Stat(filepath.Join(dirs[0], "profile", "vault")); err != nil {
			t.Fatalf("the session's vault is not in %s: %v", dirs[0], err)
		}
		syscall.Kill(n.PID(false), syscall.SIGTERM)
		err := n.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 143 {
			t.Errorf("after SIGTERM: %v, want exit status 143", err)
		}
		if left := a.sessionDirs(t); len(left) != 0 {
			t.Fatalf("session directory left behind after SIGTERM: %v", left)
		}
	})

	a := newAmnesicEnv(t)
	bob := harness.NewProfile(t, "bob")
	bob.Must("init")
	bob.Must("id", "new", "bob")
	bobCode := strings.TrimSpace(bob.Must("id", "card", "bob", "--no-qr"))

	before := a.snapshot(t)
	trace := filepath.Join(t.TempDir(), "strace")
	wrap := []string{"strace", "-f", "-qq", "-y", "-s", "4096", "-o", trace,
		"-e", "trace=%file,bind,ftruncate", "--", "env", "-C", a.work}
	alice := harness.Start(t, "amnesic", a.env, []string{"--amnesic", "--network", harness.Network, "headless"}, wrap...)
	e2e.DumpOnFailure(t, map[string]*e2e.Node{"amnesic": alice})
	alice.WaitFor(0, readyWithin, "tor ready, marked amnesic", e2e.Is(map[string]any{"event": "tor", "state": "ready", "amnesic": true}))
	if st := alice.Do(time.Minute, map[string]any{"cmd": "status"}); fmt.Sprint(st["tor"].(map[string]any)["amnesic"]) != "true" {
		t.Fatalf("status does not say amnesic: %v", st)
	}
	alice.Do(3*time.Minute, map[string]any{"cmd": "new_identity", "identity": "alice"})
	code := fmt.Sprint(alice.Do(time.Minute, map[string]any{"cmd": "card", "identity": "alice"})["contact_code"])
	alice.Do(time.Minute, map[string]any{"cmd": "add_contact", "identity": "alice", "contact": "bob", "code": bobCode})
	bob.Must("contact", "add", "bob", "alice", code)
	bn := bob.Headless()
	alice.WaitFor(0, readyWithin, "alice ready, marked amnesic", e2e.Is(map[string]any{"event": "ready", "identity": "alice", "amnesic": true}))
	bn.WaitFor(0, readyWithin, "bob ready", e2e.Is(map[string]any{"event": "ready", "identity": "bob"}))
	for i, dir := range []struct {
		from, to *e2e.Node
		id, peer string
	}{{alice, bn, "alice", "bob"}, {bn, alice, "bob", "alice"}, {alice, bn, "alice", "bob"}} {
		text := fmt.Sprintf("amnesic message %d from %s", i, dir.id)
		r := dir.from.Do(time.Minute, map[string]any{"cmd": "send", "identity": dir.id, "contact": dir.peer, "text": text})
		m, _ := dir.to.WaitFor(0, deliverWithin, text, e2e.Is(map[string]any{"event": "message", "contact": dir.id, "message": r["message"]}))
		if m["text"] != text {
			t.Fatalf("got %q, want %q", m["text"], text)
		}
	}
	dirs := a.sessionDirs(t)
	if len(dirs) != 1 {
		t.Fatalf("session directories under XDG_RUNTIME_DIR: %v, want one", dirs)
	}
	alice.Stop()
	if left := a.sessionDirs(t); len(left) != 0 {
		t.Fatalf("session directory left behind after quit: %v", left)
	}

	// What strace saw: every path written outside the session directory.
	writes, total := writesOutside(t, trace, dirs[0])
	t.Logf("strace: %d file operations that create or change something, by sotto and its tor", total)
	if len(writes) > 0 {
		t.Errorf("%d files created or changed outside the amnesic session's tmpfs directory:\n%s", len(writes), strings.Join(writes, "\n"))
	}
	after := a.snapshot(t)
	var changed []string
	for p, v := range after {
		if before[p] != v {
			changed = append(changed, p+" ("+before[p]+" -> "+v+")")
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			changed = append(changed, p+" (removed)")
		}
	}
	sort.Strings(changed)
	if len(changed) > 0 {
		t.Errorf("HOME, TMPDIR or the working directory changed:\n%s", strings.Join(changed, "\n"))
	}
}

// writing matches the system calls that create, change or remove a file.
var (
	writing = regexp.MustCompile(`^(\d+ +)?(openat|open|creat|mkdir|mkdirat|rename|renameat|renameat2|unlink|unlinkat|rmdir|link|linkat|symlink|symlinkat|truncate|ftruncate|chmod|fchmodat|fchmodat2|chown|fchownat|lchown|utimensat|mknod|mknodat|bind)\(`)
	quoted  = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"|<([^>]*)>`)
)

// writesOutside reads an strace -y log and returns the paths written outside
// dir (and outside /dev and /proc: devices and the process's own entries),
// and how many writing operations it saw in all.
func writesOutside(t *testing.T, trace, dir string) ([]string, int) {
	t.Helper()
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	total := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		m := writing.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		call := m[2]
		if (call == "openat" || call == "open") && !regexp.MustCompile(`O_WRONLY|O_RDWR|O_CREAT|O_TRUNC`).MatchString(line) {
			continue
		}
		if strings.Contains(line, "= -1 ") && !strings.Contains(line, "EEXIST") {
			continue // failed: nothing was changed
		}
		total++
		// The paths: a dirfd as -y prints it (<path>), then the names.
		var base string
		var paths []string
		for _, q := range quoted.FindAllStringSubmatch(line, -1) {
			switch {
			case q[2] != "" && base == "" && len(paths) == 0:
				base = q[2]
			case q[1] != "":
				p := q[1]
				if !filepath.IsAbs(p) {
					if base != "" {
						p = filepath.Join(base, p)
					} else {
						p = "(cwd)/" + p
					}
				}
				paths = append(paths, p)
			}
		}
		if call == "ftruncate" && base != "" {
			paths = append(paths, base)
		}
		for _, p := range paths {
			if p == dir || strings.HasPrefix(p, dir+"/") || strings.HasPrefix(p, "/dev/") || strings.HasPrefix(p, "/proc/") || p == "" {
				continue
			}
			out = append(out, line)
			break
		}
	}
	return out, total
}
