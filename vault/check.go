package vault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"filippo.io/age"

	"github.com/sottochat/sotto/internal/erase"
)

// Report is what [Check] found.
type Report struct {
	Files   int          // vault files examined
	Records int          // records readable
	Logs    int          // conversation logs
	Entries int          // log entries readable
	Damaged []*FileError // files that cannot be read, by on-disk name
	// Stray lists files no record or log refers to and temporary files,
	// left by a crash: the next Open adopts a log's newest segment if it was
	// written just before the log's metadata, and deletes the rest.
	Stray []string
}

// OK reports whether nothing is damaged.
func (r *Report) OK() bool { return len(r.Damaged) == 0 }

// Check reads every file of the vault in dir with pass and reports which
// ones are damaged, without writing anything (it does not even take the
// lock, so it works beside a running Sotto, but may then see a write
// half-way). Its error is for what stops it from checking at all: wrong
// passphrase, no vault, a damaged key file.
func Check(dir string, pass *Passphrase, o *Options) (*Report, error) {
	if err := checkTree(dir); err != nil {
		return nil, err
	}
	k, _, err := unlock(dir, pass, o)
	if err != nil {
		return nil, err
	}
	defer k.secret.Destroy()
	v := &Vault{dir: dir, key: k, records: map[string]map[string][]byte{}, shardOf: map[recKey]int{}, logs: map[string]*logState{}, redirect: map[string]string{}}
	if err := v.nameShards(); err != nil {
		return nil, err
	}
	if v.mem, err = RandomSecret(32); err != nil {
		return nil, err
	}
	defer v.mem.Destroy()
	rep := &Report{Files: 1}
	known := map[string]bool{manifestName: true}
	erase.Do(func() { err = v.check(rep, known) })
	if err != nil {
		return nil, err
	}
	for _, d := range []string{recordDir, segmentDir} {
		ents, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil {
			return nil, fmt.Errorf("vault: %w", err)
		}
		for _, e := range ents {
			if rel := d + "/" + e.Name(); !known[rel] {
				rep.Stray = append(rep.Stray, rel)
			}
		}
	}
	return rep, nil
}

// check reads every file (see Check), the manifest first.
func (v *Vault) check(rep *Report, known map[string]bool) error {
	return v.key.withIdentity(func(id age.Identity, _ []byte) error {
		if err := v.loadManifest(id); err != nil {
			rep.Damaged = append(rep.Damaged, asFileError(err, manifestName))
			v.ver, v.man, v.noManifest = map[string]uint64{}, map[string]uint64{}, true
		} else if !v.noManifest {
			rep.Files++
		}
		// A commit past its commit point whose files are not yet in place
		// (a write under way, or a crash Open has not yet finished): read
		// the staged files the manifest names instead, as Open will.
		for rel, staged := range v.committedStaging() {
			v.redirect[rel] = staged
			known[staged] = true
		}
		legacy := true
		for i := range NumShards {
			known[v.shardPath(i)] = true
			rep.Files++
			sh, err := v.readShard(id, i)
			if err == nil {
				legacy = legacy && sh.Legacy
				rep.Records += len(sh.Records)
				err = v.keepShard(i, sh)
				wipeShard(sh)
			}
			if err != nil {
				rep.Damaged = append(rep.Damaged, asFileError(err, v.shardPath(i)))
			}
		}
		if err := v.checkLegacy(legacy); err != nil {
			rep.Damaged = append(rep.Damaged, asFileError(err, manifestName))
		}
		logs := make([]string, 0, len(v.records[metaKind]))
		for l := range v.records[metaKind] {
			logs = append(logs, l)
		}
		slices.Sort(logs)
		rep.Logs = len(logs)
		rep.Records -= len(logs)
		for _, l := range logs {
			st, err := v.getLog(l, false)
			if err != nil {
				rep.Damaged = append(rep.Damaged, asFileError(err, ""))
				continue
			}
			for _, q := range st.meta.Live {
				rel := v.segPath(st, q)
				known[rel] = true
				rep.Files++
				seg, err := v.readSegment(id, st, q)
				if err != nil {
					rep.Damaged = append(rep.Damaged, asFileError(err, rel))
					continue
				}
				rep.Entries += len(seg.Entries)
				wipeSegment(seg)
			}
		}
		return nil
	})
}

func asFileError(err error, rel string) *FileError {
	var fe *FileError
	if errors.As(err, &fe) {
		return fe
	}
	return &FileError{Name: rel, Err: err}
}
