package main

import (
	"os"
	"strings"
	"testing"
)

func TestAmnesicOnlyRunAndHeadless(t *testing.T) {
	for _, args := range [][]string{
		{"--amnesic", "id", "list"},
		{"contact", "list", "x", "--amnesic"},
		{"--amnesic", "panic", "--yes"},
		{"--amnesic", "init"},
		{"--amnesic=true", "check"},
	} {
		code, out, errs := call(args...)
		if code != exitUsage || out != "" || !strings.Contains(errs, "--amnesic keeps everything in one running Sotto") || !strings.Contains(errs, "\nhint: ") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	code, _, errs := call("--amnesic", "--profile", t.TempDir(), "headless")
	if code != exitUsage || !strings.Contains(errs, "--amnesic and --profile cannot be used together") {
		t.Errorf("--amnesic --profile: exit %d, stderr %q", code, errs)
	}
}

func TestAmnesicIn(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"x", "--amnesic"}, true},
		{[]string{"-amnesic"}, true},
		{[]string{"--amnesic=1"}, true},
		{[]string{"--amnesic=false"}, false},
		{[]string{"--", "--amnesic"}, false},
		{[]string{"amnesic"}, false},
		{nil, false},
	} {
		if got := amnesicIn(c.args); got != c.want {
			t.Errorf("amnesicIn(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}

func TestMemoryBacked(t *testing.T) {
	kind, err := memoryBacked("/dev/shm")
	if err != nil || kind != "tmpfs" {
		t.Skipf("/dev/shm here: %q %v", kind, err)
	}
	// The test's temporary directory: on a disk, or on a tmpfs where /tmp
	// is one; either way the answer must match what statfs says of /.
	root, err := memoryBacked("/")
	if err != nil {
		t.Fatal(err)
	}
	if root != "" {
		t.Skipf("/ is a %s here", root)
	}
	if k, err := memoryBacked("/etc"); err != nil || k != "" {
		t.Errorf("/etc: %q %v, want a disk", k, err)
	}
	if _, err := memoryBacked("/nonexistent-dir"); err == nil {
		t.Error("no error for a missing directory")
	}
}

// TestWritesOutside: the strace reading of TestAmnesicSession finds a write
// outside the session directory, in each form strace -y prints one.
func TestWritesOutside(t *testing.T) {
	log := strings.Join([]string{
		`101 openat(AT_FDCWD</w>, "/home/u/.local/share/x", O_WRONLY|O_CREAT|O_CLOEXEC, 0600) = 5</home/u/.local/share/x>`,
		`101 openat(AT_FDCWD</w>, "/dev/shm/s/profile/vault/a", O_RDWR|O_CREAT|O_CLOEXEC, 0600) = 5</dev/shm/s/profile/vault/a>`,
		`101 openat(AT_FDCWD</w>, "/etc/hosts", O_RDONLY|O_CLOEXEC) = 3</etc/hosts>`,
		`101 openat(AT_FDCWD</w>, "rel", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3</w/rel>`,
		`102 unlinkat(7</tmp/y>, "z", 0) = 0`,
		`102 unlinkat(7</dev/shm/s/profile>, "tor", AT_REMOVEDIR) = 0`,
		`103 bind(3<socket:[77]>, {sa_family=AF_UNIX, sun_path="/tmp/sock"}, 110) = 0`,
		`103 mkdir("/var/tmp/d", 0700) = -1 EACCES (Permission denied)`,
		`104 ftruncate(9</root/f>, 0) = 0`,
		`104 openat(AT_FDCWD</w>, "/dev/null", O_WRONLY|O_CLOEXEC) = 3</dev/null>`,
	}, "\n") + "\n"
	f := t.TempDir() + "/strace"
	if err := os.WriteFile(f, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	got, total := writesOutside(t, f, "/dev/shm/s")
	want := []string{"/home/u/.local/share/x", `"rel"`, "/tmp/y>", "/tmp/sock", "/root/f"}
	if len(got) != len(want) || total != 8 {
		t.Fatalf("found %d of %d writes outside:\n%s", len(got), total, strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("write %d: %q, want the one with %q", i, got[i], w)
		}
	}
}
