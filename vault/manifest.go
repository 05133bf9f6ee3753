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
// encrypted to the vault key like every other file. A write of a file goes:
//
//	the file, with counter n+1 (temp file, fsync, rename, fsync of the directory)
//	-> the manifest, saying n+1 (the same way)
//
// so that, after a crash at any instant, a file's counter is the manifest's
// or one more (never less). A file whose counter is below the manifest's is
// an older copy put back in place: Open (for shards) and every read (for
// segments) refuse it with a [FileError] naming it that wraps
// [ErrRolledBack]; a file more than one write ahead means the manifest
// itself was rolled back. Before a file is written again, the manifest must
// already say its current counter: if the manifest write after the last
// write of that file failed, it is written first.
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

// writeVersioned writes file rel (a path inside the vault) with the next
// write counter, then the manifest (see the top of this file). encode
// returns the plaintext for a counter; the caller wipes nothing: writeVersioned
// wipes the plaintext once sealed.
func (v *Vault) writeVersioned(rel string, encode func(version uint64) ([]byte, error)) error {
	cur := v.ver[rel]
	if (v.noManifest || v.man[rel] != cur) && !v.deferManifest {
		// The manifest on disk is behind this file (or, in a vault written
		// before manifests, missing): bring it up to date first, or a crash
		// after the write below would leave the file two writes ahead of it
		// (or a new-style file in a vault without a manifest).
		if err := v.writeManifest(); err != nil {
			return err
		}
	}
	plain, err := encode(cur + 1)
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	ct, err := v.seal(plain)
	clear(plain)
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	dir, name := filepath.Split(rel)
	if err := writeAtomic(filepath.Join(v.dir, dir), name, ct); err != nil {
		return fmt.Errorf("vault: writing %s: %w", rel, err)
	}
	v.ver[rel] = cur + 1
	if v.deferManifest {
		return nil
	}
	// The write is durable and acknowledged whatever happens now; if the
	// manifest cannot be written, the next write of this file writes it
	// first.
	_ = v.writeManifest()
	return nil
}

// forget drops a deleted file from the counters. The manifest keeps its
// entry until it is next written; a file of the same name written before
// that writes the manifest first (writeVersioned).
func (v *Vault) forget(rel string) { delete(v.ver, rel) }

// writeManifest writes the counters the vault knows as the manifest.
func (v *Vault) writeManifest() error {
	files := make(map[string]uint64, len(v.ver))
	for n, c := range v.ver {
		if c != 0 {
			files[n] = c
		}
	}
	plain, err := format.ManifestOf(files).Marshal()
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	ct, err := v.seal(plain)
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	if err := writeAtomic(v.dir, manifestName, ct); err != nil {
		return fmt.Errorf("vault: writing %s: %w", manifestName, err)
	}
	v.man = files
	v.noManifest = false
	return nil
}
