package vault

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/sottochat/sotto/internal/erase"
)

// TestVaultCacheHoldsNoPlaintext reads a record (an identity key, say) and
// a log (messages) in a child process that keeps the vault open, then reads
// the child's whole memory: the vault caches both sealed (memory.go), so
// neither is found in the clear. The decryption's own garbage (age's
// buffers, the parsed vault key) is zeroed only where runtime/secret works
// (erase.Enabled); without it the counts are reported, not asserted. A
// buffer the child keeps is the control.
func TestVaultCacheHoldsNoPlaintext(t *testing.T) {
	if testing.Short() {
		t.Skip("reads a child's memory")
	}
	exe, err := os.Executable()
	must(t, err)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "vault")
	v, err := Create(dir, pass(t, "correct horse"), testOpts)
	must(t, err)
	marker := func(p string) []byte {
		var b [16]byte
		rand.Read(b[:])
		return []byte(p + hex.EncodeToString(b[:]))
	}
	record, entry, control := marker("RECORD-"), marker("ENTRY-"), marker("CONTROL-")
	must(t, v.Put("identity", "me", record))
	for i := range 3 {
		must(t, v.Append("conv", string(rune('a'+i)), entry))
	}
	must(t, v.Close())
	pwFile, ctlFile := filepath.Join(tmp, "pw"), filepath.Join(tmp, "control")
	must(t, os.WriteFile(pwFile, []byte("correct horse\n"), 0o600))
	must(t, os.WriteFile(ctlFile, control, 0o600))
	found := scanChild(t, exe, "cache", dir, pwFile, ctlFile, map[string][]byte{
		"record":               record,
		"log entry":            entry,
		"control: heap buffer": control,
	})
	if found["control: heap buffer"] == 0 {
		t.Fatal("control: the child's heap buffer was not found: the scan does not see the heap")
	}
	for _, k := range []string{"record", "log entry"} {
		switch {
		case found[k] == 0:
			t.Logf("%s: not found", k)
		case erase.Enabled:
			t.Errorf("%s: %d copies in the memory of an idle process with the vault open", k, found[k])
		default:
			t.Logf("%s: %d copies (built without runtime/secret: the garbage of decryption is not zeroed)", k, found[k])
		}
	}
}
