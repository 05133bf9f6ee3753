package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Profile is one user: a profile directory and a passphrase file.
type Profile struct {
	Name       string
	Dir        string // the profile directory (--profile); it does not exist until init
	PwFile     string // the passphrase file (--passphrase-file), mode 0600
	Passphrase string // random, so that finding it in memory or on disk cannot be chance
	// UID, when not zero, is the uid and gid headless nodes run as (the
	// caller hands the files to that user).
	UID int

	t     *testing.T
	sotto *Sotto
}

// NewProfile makes a profile named name for a test: a passphrase file in a
// fresh temporary directory, removed when the test ends.
func (s *Sotto) NewProfile(t *testing.T, name string) *Profile {
	t.Helper()
	// Short paths: tor's control socket lives inside the profile and Unix
	// socket paths are limited to ~100 bytes.
	base, err := os.MkdirTemp("", "st")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	var r [12]byte
	rand.Read(r[:])
	p := &Profile{
		Name:       name,
		Dir:        filepath.Join(base, "p"),
		PwFile:     filepath.Join(base, "pw"),
		Passphrase: "correct horse " + name + " battery staple " + hex.EncodeToString(r[:]),
		t:          t,
		sotto:      s,
	}
	if err := os.WriteFile(p.PwFile, []byte(p.Passphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Args puts the profile's global flags (profile, passphrase file, network)
// before args.
func (p *Profile) Args(args ...string) []string {
	return append([]string{"--profile", p.Dir, "--passphrase-file", p.PwFile, "--network", p.sotto.Network}, args...)
}

// Run runs one sotto command on the profile to its end; see [Sotto.Run].
func (p *Profile) Run(args ...string) (code int, stdout, stderr string) {
	p.t.Helper()
	return p.sotto.Run(p.t, "", p.Args(args...)...)
}

// Must runs a command on the profile that has to succeed and returns its
// stdout; it fails the test, with sotto's stderr, otherwise.
func (p *Profile) Must(args ...string) string {
	p.t.Helper()
	code, out, errs := p.Run(args...)
	if code != 0 {
		p.t.Fatalf("%s: sotto %s: exit %d\n%s", p.Name, strings.Join(args, " "), code, errs)
	}
	return out
}
