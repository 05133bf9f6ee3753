package vault

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"

	"filippo.io/age"

	"github.com/sottochat/sotto/vault/format"
)

// Rollback detection.
//
// Every record shard and log segment carries, inside its encrypted content,
// a counter of its writes (format.Shard.Version, format.Segment.Version),
// and the manifest file lists every file's counter (format.Manifest),
// encrypted to the vault key like every other file. Files are written by
// commits (commit.go): the new files under staging names, then the
// manifest listing their new counters (the commit point), then the files
// renamed into place; Open finishes a commit the manifest names and drops
// one it does not. So, once Open has run, a file's counter is the
// manifest's exactly; a vault written before commits existed may have a
// file one write ahead of its manifest (its write went first), which is
// accepted once. A file whose counter is below the manifest's is an older
// copy put back in place: Open (for shards) and every read (for segments)
// refuse it with a [FileError] naming it that wraps [ErrRolledBack]; a
// file more than one write ahead means the manifest itself was rolled
// back.
//
// What this cannot catch: the whole vault put back as it was at some
// earlier moment (or the manifest together with every file written since
// then), which is a consistent older vault; telling it from the current one
// needs state kept off the disk. Nor vault.key: an older key file holds the
// same vault key, under an older passphrase.

// manifestName is the manifest's file name, beside vault.key.
const manifestName = "manifest"

// ErrRolledBack is wrapped by the [FileError] of a vault file that is older
// than the vault's manifest says: a copy of an earlier version put back in
// place (or, when the manifest is named, an older manifest).
var ErrRolledBack = errors.New("rolled back to an older copy")

// loadManifest reads the manifest at Open. A vault written before the
// manifest existed has none; whether that is allowed is decided once the
// shards are read (see checkLegacy).
func (v *Vault) loadManifest(id age.Identity) error {
	v.ver, v.man = map[string]uint64{}, map[string]uint64{}
	if _, err := os.Lstat(filepath.Join(v.dir, manifestName)); errors.Is(err, os.ErrNotExist) {
		v.noManifest = true
		return nil
	}
	plain, err := v.unseal(id, manifestName)
	if err != nil {
		return err
	}
	defer clear(plain)
	m, err := format.ParseManifest(plain)
	if err != nil {
		return &FileError{Name: manifestName, Err: fmt.Errorf("%w: %v", ErrDamaged, err)}
	}
	for _, f := range m.Files {
		v.man[f.Name] = f.Version
	}
	v.ver = maps.Clone(v.man)
	return nil
}

// checkLegacy, at Open once the shards are read, accepts a missing manifest
// only for a vault written before manifests existed: every shard in the
// version 1 encoding. A vault with newer shards and no manifest had it
// deleted (or was rolled back to before it was written).
func (v *Vault) checkLegacy(legacy bool) error {
	if v.noManifest && !legacy {
		return &FileError{Name: manifestName, Err: fmt.Errorf("%w: the manifest is missing (deleted, or put back as it was before it existed)", ErrRolledBack)}
	}
	return nil
}

// checkVersion checks the write counter got found in file rel against what
// the vault knows: the counter of its last write, or one more when the
// manifest on disk agrees with that (a write whose manifest update a crash
// or an error cut off). It records what it accepts.
func (v *Vault) checkVersion(rel string, got uint64) error {
	want := v.ver[rel]
	switch {
	case got == want:
		return nil
	case got == want+1 && v.man[rel] == want:
		v.ver[rel] = got
		return nil
	case got < want:
		return &FileError{Name: rel, Err: fmt.Errorf("%w: it holds write %d of this file, the vault's manifest says %d", ErrRolledBack, got, want)}
	default:
		return &FileError{Name: manifestName, Err: fmt.Errorf("%w: %s holds write %d of that file, the manifest says %d", ErrRolledBack, rel, got, v.man[rel])}
	}
}

// writeVersioned stages file rel (a path inside the vault) with the next
// write counter; the commit writes it and the manifest (commit.go). encode
// returns the plaintext for a counter; the caller wipes nothing:
// writeVersioned wipes the plaintext once sealed.
func (v *Vault) writeVersioned(rel string, encode func(version uint64) ([]byte, error)) error {
	if v.stage == nil {
		return fmt.Errorf("vault: internal error: a write outside a commit")
	}
	cur := v.ver[rel]
	if cur == 0 {
		// A file deleted earlier in this commit and written again: its
		// counter goes on from the manifest's, so that a staging file of
		// this commit can never pass for one of the last commit's.
		cur = v.man[rel]
	}
	plain, err := encode(cur + 1)
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	// Sealed when the commit writes it (commitStage).
	if old, ok := v.stage.files[rel]; ok {
		clear(old.plain)
	}
	v.stage.set(rel, &staged{plain: plain, version: cur + 1})
	v.ver[rel] = cur + 1
	return nil
}

// forget drops a deleted file from the counters; the commit that deletes
// it writes the manifest without it.
func (v *Vault) forget(rel string) { delete(v.ver, rel) }

// sealManifest encrypts the manifest listing files.
func (v *Vault) sealManifest(files map[string]uint64) ([]byte, error) {
	plain, err := format.ManifestOf(files).Marshal()
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	ct, err := v.seal(plain)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return ct, nil
}
