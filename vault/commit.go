package vault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/sottochat/sotto/internal/erase"
	"github.com/sottochat/sotto/vault/format"
)

// Commits.
//
// Every change (Put, Delete, Append, Remove, DropLog, a Batch) is made in
// memory first: the files it rewrites are sealed and kept in a stage (an
// overlay that reads see), the files it deletes marked. The stage is then
// committed as one unit:
//
//	1. every staged file is written to a staging name beside its final one,
//	   r/.new-<counter>-<name>, and the new manifest to a temporary file
//	   (one goroutine each);
//	2. all of them and the directories r/ and s/ are fsynced at the same
//	   time: the staged files are now on disk under their staging names;
//	3. the manifest is renamed into place and the vault directory fsynced.
//	   This is the commit point: the manifest lists every staged file with
//	   its new counter;
//	4. the staged files are renamed over their final names and the deleted
//	   files unlinked (their directories are fsynced by the next commit's
//	   step 2).
//
// After a crash, Open (redoCommit) renames every staging file whose counter
// is the one the manifest lists for its file (its commit had passed step 3)
// and deletes every other one (its commit had not); a file a committed
// change deleted and that a crash brought back is swept like any segment
// no log refers to (recoverLogs). So a commit is all or nothing, however
// many files it touches, and whatever instant a crash hits: either every
// change of it is in the vault after Open, or none. Each file is written
// once per commit (its last content), and the manifest once; a commit costs
// two fsyncs one after another (the files' and directories' together, then
// the manifest's directory), however many changes it holds.
//
// The rollback rule (manifest.go) gets stronger: outside a crash window a
// file's counter is the manifest's exactly.

// stagePrefix starts the staging name of a file being committed.
const stagePrefix = ".new-"

// staged is a file a commit writes (plain, with counter version) or
// deletes (del). The plaintext is sealed once, when the commit writes it
// (commitStage), however many changes of the commit rewrote the file: a
// burst of appends to one log seals its segment once, not once per append.
type staged struct {
	plain   []byte
	version uint64
	del     bool
}

// stage is the overlay of one commit: file path inside the vault -> what
// the commit does to it, in the order first touched.
type stage struct {
	files map[string]*staged
	order []string
	ends  []func() // run once the commit is written or failed (done)
	// beforeWrite runs before the commit writes anything, the stage still
	// current (flushTail).
	beforeWrite []func()
}

// wipeAtEnd wipes seg's values (wipeSegment) once the commit ends.
func (s *stage) wipeAtEnd(seg *format.Segment) {
	s.ends = append(s.ends, func() { wipeSegment(seg) })
}

// done runs what waits for the end of the commit.
func (s *stage) done() {
	for _, f := range s.ends {
		f()
	}
	s.ends = nil
}

func newStage() *stage { return &stage{files: map[string]*staged{}} }

func (s *stage) set(rel string, f *staged) {
	if _, ok := s.files[rel]; !ok {
		s.order = append(s.order, rel)
	}
	s.files[rel] = f
}

// readStaged returns what the stage holds for rel: its plaintext (the
// stage's own: the caller copies it), or os.ErrNotExist for a file the
// stage deletes; ok false when it holds nothing for rel.
func (v *Vault) readStaged(rel string) (plain []byte, ok bool, err error) {
	if v.stage == nil {
		return nil, false, nil
	}
	f, ok := v.stage.files[rel]
	if !ok {
		return nil, false, nil
	}
	if f.del {
		return nil, true, os.ErrNotExist
	}
	return f.plain, true, nil
}

// exists says whether the vault holds file rel, as the stage sees it.
func (v *Vault) exists(rel string) (bool, error) {
	if _, ok, err := v.readStaged(rel); ok {
		return err == nil, nil
	}
	_, err := os.Lstat(filepath.Join(v.dir, rel))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// errBroken wraps the error of a commit that failed before its commit
// point: memory then holds changes the disk does not, and the vault takes
// no more writes.
var errBroken = errors.New("vault: a write to the disk failed, so this vault takes no more changes until it is opened again (close Sotto and start it again; what was saved before is safe)")

// commitOp runs fn (which changes the vault in memory and stages its file
// writes) and commits what it staged, even if fn failed midway (what it did
// before failing is kept, as it was when each write went to disk at once).
// v.mu is held.
func (v *Vault) commitOp(fn func() error) error {
	if v.broken != nil {
		return v.broken
	}
	v.stage = newStage()
	var err error
	v.holdMemKey(func() { err = fn() })
	if ferr := v.commitStage(); ferr != nil {
		return ferr
	}
	return err
}

// commitStage writes v.stage (see the top of this file) and clears it.
func (v *Vault) commitStage() error {
	s := v.stage
	if s == nil {
		return nil
	}
	for _, f := range s.beforeWrite {
		f()
	}
	s.beforeWrite = nil
	v.stage = nil
	defer s.done()
	if len(s.order) == 0 {
		return nil
	}
	defer func() {
		for _, f := range s.files {
			clear(f.plain)
		}
	}()
	files := make(map[string]uint64, len(v.ver))
	for n, c := range v.ver {
		if c != 0 {
			files[n] = c
		}
	}
	// 1. Every staged file (sealed here, each on its own goroutine) and the
	// manifest, written, not yet fsynced.
	tmpMan := filepath.Join(v.dir, tmpPrefix+randHex())
	var paths []string
	var plains [][]byte
	dirs := map[string]bool{}
	for _, rel := range s.order {
		f := s.files[rel]
		d, name := filepath.Split(rel)
		dirs[filepath.Join(v.dir, d)] = true
		if f.del {
			continue
		}
		paths = append(paths, filepath.Join(v.dir, d, stageName(f.version, name)))
		plains = append(plains, f.plain)
	}
	paths = append(paths, tmpMan)
	errs := make([]error, len(paths))
	open := make([]*os.File, len(paths))
	defer func() {
		for _, f := range open {
			if f != nil {
				f.Close()
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range plains {
		wg.Go(func() {
			// The goroutine's own erase.Do: age's buffers for the
			// plaintext are zeroed once freed.
			erase.Do(func() {
				ct, err := v.seal(plains[i])
				if err == nil {
					open[i], err = writeUnsynced(paths[i], ct, os.O_TRUNC)
				}
				errs[i] = err
			})
		})
	}
	var manErr error
	wg.Go(func() {
		man, err := v.sealManifest(files)
		if err != nil {
			manErr = err
			return
		}
		open[len(paths)-1], errs[len(paths)-1] = writeUnsynced(tmpMan, man, os.O_TRUNC)
	})
	wg.Wait()
	if manErr != nil {
		for _, p := range paths {
			os.Remove(p)
		}
		v.broken = fmt.Errorf("%w: %v", errBroken, manErr)
		return manErr
	}
	err := errors.Join(errs...)
	// 2. Their contents and their directory entries, fsynced at the same
	// time: every file now exists under its name, so a directory's fsync
	// covers its entry whatever the order the two fsyncs finish in, and the
	// commit point (3) waits for both. (Fsyncing the files first and their
	// directories after cost one more flush of the disk per commit.)
	if err == nil {
		for d := range v.dirty {
			dirs[d] = true
		}
		serrs := make([]error, 0, len(dirs)+len(open))
		var mu sync.Mutex
		note := func(e error) {
			if e != nil {
				mu.Lock()
				serrs = append(serrs, e)
				mu.Unlock()
			}
		}
		for _, f := range open {
			wg.Go(func() {
				e := f.Sync()
				if ce := f.Close(); e == nil {
					e = ce
				}
				note(e)
			})
		}
		for d := range dirs {
			wg.Go(func() { note(syncDir(d)) })
		}
		wg.Wait()
		clear(open)
		err = errors.Join(serrs...)
	}
	// 3. The commit point.
	if err == nil {
		if err = os.Rename(tmpMan, filepath.Join(v.dir, manifestName)); err == nil {
			err = syncDir(v.dir)
			if err != nil {
				// The manifest may or may not be on disk: the files stay
				// staged (Open decides), and this process stops writing.
				v.broken = fmt.Errorf("%w: %v", errBroken, err)
				return fmt.Errorf("vault: writing %s: %w", manifestName, err)
			}
		}
	}
	if err != nil {
		for _, p := range paths {
			os.Remove(p)
		}
		v.broken = fmt.Errorf("%w: %v", errBroken, err)
		return fmt.Errorf("vault: %w", err)
	}
	v.man = files
	v.noManifest = false
	v.dirty = map[string]bool{}
	// 4. Into place. The commit is durable: a failure here is repaired by
	// the next Open, but this process would read old files, so it stops.
	i := 0
	for _, rel := range s.order {
		f := s.files[rel]
		final := filepath.Join(v.dir, rel)
		v.dirty[filepath.Dir(final)] = true
		if f.del {
			if e := os.Remove(final); e != nil && !errors.Is(e, os.ErrNotExist) {
				err = e
			}
			continue
		}
		if e := os.Rename(paths[i], final); e != nil {
			err = e
		}
		i++
	}
	if err != nil {
		v.broken = fmt.Errorf("%w: %v", errBroken, err)
	}
	return nil
}

// stageName is the staging name of write version of file name.
func stageName(version uint64, name string) string {
	return stagePrefix + strconv.FormatUint(version, 16) + "-" + name
}

// parseStageName undoes stageName.
func parseStageName(s string) (version uint64, name string, ok bool) {
	rest, ok := strings.CutPrefix(s, stagePrefix)
	if !ok {
		return 0, "", false
	}
	hex, name, ok := strings.Cut(rest, "-")
	if !ok || name == "" {
		return 0, "", false
	}
	version, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return 0, "", false
	}
	return version, name, true
}

// writeUnsynced writes data to a new file at path, opened with
// O_WRONLY|O_CREATE and flag (O_TRUNC or O_EXCL), and returns it open for
// its fsync; on an error the file is closed.
func writeUnsynced(path string, data []byte, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|flag, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err = f.Write(data); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// writeSynced writes data to a new file at path, opened with
// O_WRONLY|O_CREATE and flag (O_TRUNC or O_EXCL), and fsyncs it.
func writeSynced(path string, data []byte, flag int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|flag, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// redoCommit, at Open once the manifest is read, finishes the commit a
// crash interrupted after its commit point and undoes one interrupted
// before it (see the top of this file).
func (v *Vault) redoCommit() error {
	for _, d := range []string{recordDir, segmentDir} {
		dir := filepath.Join(v.dir, d)
		ents, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("vault: %w", err)
		}
		touched := false
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), stagePrefix) {
				continue
			}
			touched = true
			p := filepath.Join(dir, e.Name())
			ver, name, ok := parseStageName(e.Name())
			if ok && !v.noManifest && ver != 0 && v.man[d+"/"+name] == ver && e.Type().IsRegular() {
				if err := os.Rename(p, filepath.Join(dir, name)); err != nil {
					return fmt.Errorf("vault: %w", err)
				}
				continue
			}
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("vault: %w", err)
			}
		}
		if touched {
			if err := syncDir(dir); err != nil {
				return fmt.Errorf("vault: %w", err)
			}
		}
	}
	return nil
}

// committedStaging lists the staging files whose commit passed its commit
// point (the manifest lists their counter): final path -> staging path,
// both inside the vault. Read-only (Check).
func (v *Vault) committedStaging() map[string]string {
	out := map[string]string{}
	if v.noManifest {
		return out
	}
	for _, d := range []string{recordDir, segmentDir} {
		ents, _ := os.ReadDir(filepath.Join(v.dir, d))
		for _, e := range ents {
			ver, name, ok := parseStageName(e.Name())
			if ok && ver != 0 && v.man[d+"/"+name] == ver && e.Type().IsRegular() {
				out[d+"/"+name] = d + "/" + e.Name()
			}
		}
	}
	return out
}

// A Batch is a group of changes committed together: all of them are in the
// vault after Commit returns nil, and a crash at any instant leaves either
// all of them or none (see the top of commit.go). Each file the batch
// touches is written once however many of its changes touch it, and the
// manifest once. Batches committed while another commit is being written
// wait for it and are then written together, as one commit (group
// commit).
//
// A Batch is built by one goroutine and committed once. Its methods copy
// the values they are given (the caller may wipe them at once); the copies
// are wiped by Commit.
type Batch struct {
	v         *Vault
	ops       []func() error
	vals      [][]byte
	err       error
	submitted bool
	// Set under v.mu by the commit that wrote the batch.
	done bool
	res  error
}

// Batch starts an empty batch.
func (v *Vault) Batch() *Batch { return &Batch{v: v} }

func (b *Batch) keep(value []byte) []byte {
	c := make([]byte, len(value))
	copy(c, value)
	b.vals = append(b.vals, c)
	return c
}

// Put adds a Put (see [Vault.Put]) to the batch. An invalid kind, key or
// value makes Commit fail without writing anything.
func (b *Batch) Put(kind, key string, value []byte) {
	if err := checkKind(kind, key, value); err != nil {
		b.err = cmpErr(b.err, err)
		return
	}
	val := b.keep(value)
	b.ops = append(b.ops, func() error { return b.v.put(kind, key, val) })
}

// Delete adds a Delete (see [Vault.Delete]) to the batch.
func (b *Batch) Delete(kind, key string) {
	if err := checkKind(kind, key, nil); err != nil {
		b.err = cmpErr(b.err, err)
		return
	}
	b.ops = append(b.ops, func() error { return b.v.del(kind, key) })
}

// Append adds an Append (see [Vault.Append]) to the batch.
func (b *Batch) Append(log, id string, value []byte) {
	if err := format.CheckEntry(log, id, value); err != nil {
		b.err = cmpErr(b.err, fmt.Errorf("vault: %w", err))
		return
	}
	val := b.keep(value)
	b.ops = append(b.ops, func() error { return b.v.append(log, id, val) })
}

// Remove adds a Remove (see [Vault.Remove]) to the batch.
func (b *Batch) Remove(log string, ids ...string) {
	ids = append([]string(nil), ids...)
	b.ops = append(b.ops, func() error { _, err := b.v.remove(log, ids); return err })
}

// Len is the number of changes in the batch.
func (b *Batch) Len() int { return len(b.ops) }

func cmpErr(old, err error) error {
	if old != nil {
		return old
	}
	return err
}

// Commit writes the batch (see [Batch]). It is durable when Commit returns
// nil. If a change fails (a record shard that is damaged, say), the
// changes before it in the batch are committed and the error returned; the
// later ones are not made. An empty batch commits nothing. Commit is
// Submit then Wait.
func (b *Batch) Commit() error {
	b.Submit()
	return b.Wait()
}

// Submit queues the batch for the next commit and returns at once; Wait
// then commits it (with every batch queued meanwhile) or waits for the
// commit that took it. Batches are committed in the order they were
// submitted: one submitted after another is never on disk before it (both
// are in the same commit, or it is in a later one). So a caller that must
// order two writes submits them in order, under its own lock, and may wait
// for them outside it. A batch is submitted once.
func (b *Batch) Submit() {
	if b.submitted {
		return
	}
	b.submitted = true
	if b.err != nil || len(b.ops) == 0 {
		return
	}
	v := b.v
	v.qmu.Lock()
	v.queue = append(v.queue, b)
	v.qmu.Unlock()
}

// Wait returns once the batch (submitted, or it is submitted now) is
// committed, with Commit's result.
func (b *Batch) Wait() error {
	v := b.v
	b.Submit()
	defer func() {
		for _, c := range b.vals {
			clear(c)
		}
		b.vals = nil
	}()
	if b.err != nil {
		return b.err
	}
	if len(b.ops) == 0 {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if b.done {
		return b.res // written by the commit before
	}
	v.qmu.Lock()
	group := v.queue
	v.queue = nil
	v.qmu.Unlock()
	var ferr error
	switch {
	case v.closed:
		ferr = ErrClosed
	case v.broken != nil:
		ferr = v.broken
	default:
		erase.Do(func() {
			v.stage = newStage()
			v.holdMemKey(func() {
				for _, g := range group {
					for _, op := range g.ops {
						if err := op(); err != nil {
							g.res = err
							break
						}
					}
				}
			})
			ferr = v.commitStage()
		})
	}
	for _, g := range group {
		if ferr != nil {
			g.res = ferr
		}
		g.done = true
	}
	return b.res
}

// Hold runs fn while no commit is being written: every file of the vault
// directory is as a crash at this instant would leave it (a consistent
// copy of a vault in use can be taken inside fn). Changes wait meanwhile.
func (v *Vault) Hold(fn func() error) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return fn()
}
