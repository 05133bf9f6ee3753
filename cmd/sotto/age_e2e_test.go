package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sottochat/sotto/internal/e2e"
	"github.com/sottochat/sotto/vault/format"
)

// ageTool returns an age command that reads the vault's post-quantum
// hybrid keys (v1.3+): $SOTTO_AGE, an age on PATH that is new enough, or one
// built from filippo.io/age@v1.3.2 through the module proxy into a cache
// directory shared with the vault's tests.
func ageTool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SOTTO_AGE"); p != "" {
		return p
	}
	if p, err := exec.LookPath("age"); err == nil {
		out, _ := exec.Command(p, "--version").Output()
		if v := strings.TrimSpace(string(out)); strings.HasPrefix(v, "v1.3") || strings.HasPrefix(v, "1.3") {
			return p
		}
	}
	bin := filepath.Join(os.TempDir(), "sotto-test-age-v1.3.2")
	p := filepath.Join(bin, "age")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	cmd := exec.Command("go", "install", "filippo.io/age/cmd/age@v1.3.2")
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=")
	cmd.Dir = os.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot build the age tool v1.3.2 (set SOTTO_AGE): %v\n%s", err, out)
	}
	return p
}

// ageDecryptVault opens the profile's vault key file with the passphrase
// (it is a standard passphrase-encrypted age file), then decrypts every
// record shard and log segment with the age tool, and returns the
// plaintexts. This is what someone holding the disk and the passphrase can
// read.
func ageDecryptVault(t *testing.T, p *e2e.Profile) map[string][]byte {
	t.Helper()
	tool := ageTool(t)
	vdir := filepath.Join(p.Dir, profileVault)
	// The age tool itself opens it, asking for the passphrase on a
	// terminal as it asks anyone. (In this race-instrumented test binary,
	// scrypt at the vault's work factor took minutes on a loaded machine.)
	keyOut := filepath.Join(t.TempDir(), "vault.key.plain")
	code, out := inTerminalRun(t, []termAnswer{{"passphrase", 1, p.Passphrase}}, tool, "-d", "-o", keyOut, filepath.Join(vdir, "vault.key"))
	if code != 0 {
		t.Fatalf("opening the vault key file with the passphrase: the age tool exited %d:\n%s", code, out)
	}
	plain, err := os.ReadFile(keyOut)
	if err != nil {
		t.Fatal(err)
	}
	id, err := format.ParseKeyFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(t.TempDir(), "identity")
	if err := os.WriteFile(idFile, append(bytes.Clone(id), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, sub := range []string{"r", "s"} {
		ents, err := os.ReadDir(filepath.Join(vdir, sub))
		if err != nil {
			t.Fatalf("vault layout changed? %v", err)
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") || strings.Contains(e.Name(), "tmp") {
				continue
			}
			path := filepath.Join(vdir, sub, e.Name())
			b, err := exec.Command(tool, "-d", "-i", idFile, path).Output()
			if err != nil {
				if _, serr := os.Stat(path); os.IsNotExist(serr) {
					continue // rewritten meanwhile
				}
				t.Fatalf("age -d %s: %v", path, err)
			}
			files[sub+"/"+e.Name()] = b
		}
	}
	if len(files) == 0 {
		t.Fatal("age decrypted no vault file")
	}
	return files
}

// vaultHolds reports whether any decrypted vault file contains s.
func vaultHolds(files map[string][]byte, s string) bool {
	for _, b := range files {
		if bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}
