package vault

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Panic destroys the vault in dir as fast as it can, without the passphrase
// and even while another process has it open: first the key file (overwritten
// in place with random bytes, synced, then deleted: without it no other file
// can be decrypted, with or without the passphrase), then every other file
// and the directory itself. It does not touch memory: the caller then calls
// [Exit] (or [Purge]) to wipe keys held by the process.
func Panic(dir string) error {
	var errs []error
	kf := filepath.Join(dir, keyFileName)
	if f, err := os.OpenFile(kf, os.O_WRONLY, 0); err == nil {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			junk := make([]byte, max(fi.Size(), 1))
			rand.Read(junk)
			f.WriteAt(junk, 0)
			f.Sync()
		}
		f.Close()
	}
	if err := os.Remove(kf); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	syncDir(dir)
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	if parent := filepath.Dir(filepath.Clean(dir)); parent != "" {
		syncDir(parent)
	}
	if len(errs) > 0 {
		return fmt.Errorf("vault: panic wipe: %w", errors.Join(errs...))
	}
	return nil
}
