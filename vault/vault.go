package vault

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"filippo.io/age"
	"golang.org/x/sys/unix"

	"github.com/sottochat/sotto/internal/erase"
	"github.com/sottochat/sotto/vault/format"
	"github.com/sottochat/sotto/vault/internal/kdf"
)

// Layout of a vault directory.
const (
	lockFileName = "lock" // flock(2) target, empty
	recordDir    = "r"    // NumShards record shards
	segmentDir   = "s"    // conversation-log segments
	// NumShards is the fixed number of record files. Records are spread over
	// them by keyed hash, so the number of contacts does not show as a
	// number of files.
	NumShards = 16
	// maxFile bounds any vault file read from disk.
	maxFile = format.MaxPlaintext + 1<<20
)

// Options tune Create, Open, ChangePassphrase and Check. The zero value (or
// nil) is right for production.
type Options struct {
	// UnsafeWorkFactor, for tests only, sets the scrypt work factor (log2 N,
	// 1 to 30) that Create and ChangePassphrase write. Zero means calibrate
	// to about one second on this machine, within 2^15..2^19 (scrypt needs
	// 2^logN KiB of memory: 512 MiB at most).
	UnsafeWorkFactor int
	// MaxWorkFactor is the largest scrypt work factor Open accepts from the
	// key file; zero means DefaultMaxWorkFactor.
	MaxWorkFactor int
	// AllowDamaged lets Open succeed when record shards are damaged: the
	// damaged ones read as empty and refuse writes (so they are never
	// overwritten); [Vault.Damage] lists them.
	AllowDamaged bool
}

func (o *Options) maxWork() int {
	if o != nil && o.MaxWorkFactor > 0 {
		return min(o.MaxWorkFactor, 30)
	}
	return DefaultMaxWorkFactor
}

func (o *Options) workFactor() (int, error) {
	if o != nil && o.UnsafeWorkFactor != 0 {
		if o.UnsafeWorkFactor < 1 || o.UnsafeWorkFactor > 30 {
			return 0, fmt.Errorf("vault: work factor %d out of range 1..30", o.UnsafeWorkFactor)
		}
		return o.UnsafeWorkFactor, nil
	}
	return calibrate(), nil
}

// Vault is an open vault. Its methods are safe for concurrent use; each
// write is atomic and durable when it returns.
type Vault struct {
	mu     sync.Mutex
	dir    string
	opts   Options
	lock   *os.File
	key    *vaultKey
	closed bool

	shardNames [NumShards]string
	shardBad   [NumShards]error             // a damaged shard: never overwritten
	records    map[string]map[string][]byte // kind -> key -> value, sealed (memory.go) but for log metadata
	shardOf    map[recKey]int
	logs       map[string]*logState
	mem        *Secret   // the key that seals what the vault caches in memory
	memLive    *Locked   // mem in locked memory for the vault's life, where the limit allows (liveMemKey)
	memHeld    *[32]byte // mem, open while a commit's changes run (holdMemKey); v.mu

	// Write counters (manifest.go): ver is what each file holds as far as
	// this process knows, man what the manifest on disk says.
	ver, man   map[string]uint64
	noManifest bool // Open found none (a vault from before manifests)

	// Commits (commit.go).
	stage  *stage          // the commit being made; nil outside one
	dirty  map[string]bool // directories with renames not yet fsynced
	broken error           // a commit failed before its commit point
	// Check only: files to read from their staging name (committedStaging).
	redirect map[string]string
	qmu      sync.Mutex // guards queue
	queue    []*Batch   // batches waiting for the next commit
}

type recKey struct{ kind, key string }

// Dir is the vault's directory.
func (v *Vault) Dir() string { return v.dir }

// Create makes a new vault in dir (created 0700 if missing; it must be
// empty) protected by pass, and returns it open.
func Create(dir string, pass *Passphrase, o *Options) (*Vault, error) {
	logN, err := o.workFactor()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	if err := checkPerm(dir, true); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	if len(ents) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrExists, dir)
	}
	lock, err := takeLock(dir)
	if err != nil {
		return nil, err
	}
	v := &Vault{dir: dir, lock: lock, records: map[string]map[string][]byte{}, shardOf: map[recKey]int{}, logs: map[string]*logState{}}
	if o != nil {
		v.opts = *o
	}
	fail := func(err error) (*Vault, error) {
		v.Close()
		// Leave the directory as it was: empty.
		for _, f := range []string{keyFileName, recordDir, segmentDir, lockFileName} {
			os.RemoveAll(filepath.Join(dir, f))
		}
		return nil, err
	}
	if v.key, err = newVaultKey(); err != nil {
		return fail(err)
	}
	if v.mem, err = RandomSecret(32); err != nil {
		return fail(err)
	}
	v.liveMemKey()
	v.ver, v.man = map[string]uint64{}, map[string]uint64{}
	for _, d := range []string{recordDir, segmentDir} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return fail(fmt.Errorf("vault: %w", err))
		}
	}
	if err := v.nameShards(); err != nil {
		return fail(err)
	}
	err = v.commitOp(func() error {
		for i := range NumShards {
			if err := v.writeShard(i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	kf, err := sealKeyFile(v.key, pass, logN)
	if err != nil {
		return fail(err)
	}
	// The key file goes last: a vault without it is an unfinished Create.
	if err := writeAtomic(dir, keyFileName, kf); err != nil {
		return fail(fmt.Errorf("vault: %w", err))
	}
	if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
		return fail(fmt.Errorf("vault: %w", err))
	}
	return v, nil
}

// Open unlocks the vault in dir with pass. A wrong passphrase gives
// ErrWrongPassphrase and writes nothing; a vault open in another process
// gives ErrLocked; a damaged file gives a *FileError naming it.
func Open(dir string, pass *Passphrase, o *Options) (*Vault, error) {
	if err := checkTree(dir); err != nil {
		return nil, err
	}
	lock, err := takeLock(dir)
	if err != nil {
		return nil, err
	}
	v := &Vault{dir: dir, lock: lock, records: map[string]map[string][]byte{}, shardOf: map[recKey]int{}, logs: map[string]*logState{}}
	if o != nil {
		v.opts = *o
	}
	if v.key, _, err = unlock(dir, pass, o); err != nil {
		v.Close()
		return nil, err
	}
	// Reading the files (age's buffers, the records' plaintexts) inside
	// erase.Do: what the vault does not wipe itself is zeroed once freed.
	erase.Do(func() { err = v.load() })
	if err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// unlock reads the key file and opens it with pass.
func unlock(dir string, pass *Passphrase, o *Options) (*vaultKey, int, error) {
	data, err := readCapped(filepath.Join(dir, keyFileName), maxKeyFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("%w: %s has no %s", ErrNoVault, dir, keyFileName)
	}
	if err != nil {
		return nil, 0, &FileError{Name: keyFileName, Err: fmt.Errorf("%w: %v", ErrDamaged, err)}
	}
	return openKeyFile(data, pass, o.maxWork())
}

// load reads every record shard, removes temporary files a crash left, and
// finishes interrupted log operations.
func (v *Vault) load() error {
	for _, d := range []string{recordDir, segmentDir, "."} {
		if err := removeTemps(filepath.Join(v.dir, d)); err != nil {
			return fmt.Errorf("vault: %w", err)
		}
	}
	if err := v.cleanBlobs(); err != nil {
		return err
	}
	if err := v.nameShards(); err != nil {
		return err
	}
	var err error
	if v.mem, err = RandomSecret(32); err != nil {
		return err
	}
	v.liveMemKey()
	err = v.key.withIdentity(func(id age.Identity, _ []byte) error {
		if err := v.loadManifest(id); err != nil {
			if !v.opts.AllowDamaged {
				return err
			}
			// A damaged manifest: read what the files hold, as a vault
			// from before manifests; the next write writes a new one.
			v.ver, v.man, v.noManifest = map[string]uint64{}, map[string]uint64{}, true
		}
		if err := v.redoCommit(); err != nil {
			return err
		}
		legacy := true
		for i := range NumShards {
			sh, err := v.readShard(id, i)
			if err == nil {
				legacy = legacy && sh.Legacy
				err = v.keepShard(i, sh)
				wipeShard(sh)
			}
			if err != nil {
				if !v.opts.AllowDamaged {
					return err
				}
				v.shardBad[i] = err
			}
		}
		if err := v.checkLegacy(legacy); err != nil && !v.opts.AllowDamaged {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return v.commitOp(v.recoverLogs)
}

// keepShard checks a shard's write counter and keeps its records in memory
// (sealed, but for log metadata).
func (v *Vault) keepShard(i int, sh *format.Shard) error {
	if err := v.checkVersion(v.shardPath(i), sh.Version); err != nil {
		return err
	}
	for _, r := range sh.Records {
		if _, dup := v.shardOf[recKey{r.Kind, r.Key}]; dup {
			return &FileError{Name: v.shardPath(i), Err: fmt.Errorf("%w: a record stored twice", ErrDamaged)}
		}
	}
	return v.withMemKey(func(k *[32]byte) error {
		for _, r := range sh.Records {
			v.setRecord(k, r.Kind, r.Key, r.Value)
			v.shardOf[recKey{r.Kind, r.Key}] = i
		}
		return nil
	})
}

// Damage lists the record shards Open found damaged (with
// Options.AllowDamaged); they refuse writes.
func (v *Vault) Damage() []*FileError {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []*FileError
	for _, err := range v.shardBad {
		var fe *FileError
		if errors.As(err, &fe) {
			out = append(out, fe)
		}
	}
	return out
}

// Close releases the vault and its lock and drops its keys.
func (v *Vault) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	v.closed = true
	if v.key != nil {
		v.key.secret.Destroy()
	}
	v.mem.Destroy()
	v.memLive.Destroy()
	v.memLive = nil
	v.records, v.logs = nil, nil
	if v.lock != nil {
		return v.lock.Close() // releases the flock
	}
	return nil
}

// ChangePassphrase re-wraps the vault key under newPass, after checking
// oldPass. Only the key file changes, atomically.
func (v *Vault) ChangePassphrase(oldPass, newPass *Passphrase) error {
	if err := v.VerifyPassphrase(oldPass); err != nil {
		return err
	}
	logN, err := v.opts.workFactor()
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return ErrClosed
	}
	kf, err := sealKeyFile(v.key, newPass, logN)
	if err != nil {
		return err
	}
	if err := writeAtomic(v.dir, keyFileName, kf); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	return nil
}

// VerifyPassphrase reports whether pass opens this vault (ErrWrongPassphrase
// if not), running the full KDF: for a lock screen.
func (v *Vault) VerifyPassphrase(pass *Passphrase) error {
	k, _, err := unlock(v.dir, pass, &v.opts)
	if err != nil {
		return err
	}
	k.secret.Destroy()
	return nil
}

// name derives an on-disk file name from the file-name key.
// kdf.HMAC, unlike crypto/hmac, leaves no copy of the key behind.
func name(nameKey []byte, parts ...[]byte) string {
	msg := make([][]byte, 0, 2*len(parts))
	for _, p := range parts {
		msg = append(msg, binary.BigEndian.AppendUint32(nil, uint32(len(p))), p)
	}
	var sum [32]byte
	kdf.HMAC(&sum, nameKey, msg...)
	return hex.EncodeToString(sum[:16])
}

func u32(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

func (v *Vault) nameShards() error {
	return v.key.secret.Open(func(b []byte) error {
		for i := range NumShards {
			v.shardNames[i] = name(b[:32], []byte("shard"), u32(uint32(i)))
		}
		return nil
	})
}

func (v *Vault) shardPath(i int) string { return recordDir + "/" + v.shardNames[i] }

// seal encrypts plaintext to the vault key as an age file.
func (v *Vault) seal(plain []byte) ([]byte, error) {
	var out bytes.Buffer
	w, err := age.Encrypt(&out, v.key.recipient)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// unseal reads and decrypts the vault file at rel (a path inside the vault).
// Every failure is a *FileError naming rel.
func (v *Vault) unseal(id age.Identity, rel string) ([]byte, error) {
	if plain, ok, err := v.readStaged(rel); ok {
		if err != nil {
			return nil, &FileError{Name: rel, Err: fmt.Errorf("%w: %v", ErrDamaged, err)}
		}
		return slices.Clone(plain), nil // written earlier in this commit
	}
	path := rel
	if p, ok := v.redirect[rel]; ok {
		path = p
	}
	data, err := readCapped(filepath.Join(v.dir, path), maxFile)
	if err != nil {
		return nil, &FileError{Name: rel, Err: fmt.Errorf("%w: %v", ErrDamaged, err)}
	}
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		return nil, &FileError{Name: rel, Err: fmt.Errorf("%w: not encrypted to this vault's key, or tampered with", ErrDamaged)}
	}
	plain, err := io.ReadAll(io.LimitReader(r, format.MaxPlaintext+1))
	if err != nil || len(plain) > format.MaxPlaintext {
		return nil, &FileError{Name: rel, Err: fmt.Errorf("%w: truncated or tampered with", ErrDamaged)}
	}
	return plain, nil
}

// lockWait is how long takeLock tries again before it calls the vault in
// use. A flock belongs to the open file, which a process forked by the one
// that held it (tor being started, a test's child) shares from its fork
// until its exec closes it: a vault closed and opened again at once can
// find its lock held for that instant. Another Sotto really using the
// vault is reported after this wait.
const lockWait = 500 * time.Millisecond

// takeLock creates (if needed) and flocks dir/lock.
func takeLock(dir string) (*os.File, error) {
	p := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("vault: lock file: %w", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("vault: locking %s: %w", p, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkPerm refuses a file or directory that group or others can access, or
// that another user owns.
func checkPerm(path string, isDir bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("vault: %s is a symbolic link: refusing to follow it", path)
	}
	if isDir != fi.IsDir() {
		return fmt.Errorf("vault: %s: unexpected file type", path)
	}
	if perm := uint32(fi.Mode().Perm()); perm&0o077 != 0 {
		fix := "chmod 600 " + path
		if isDir {
			fix = "chmod 700 " + path
		}
		return &PermissionError{Path: path, Mode: perm, Fix: fix}
	}
	return checkOwner(path, fi)
}

// checkTree checks the vault directory, its sub-directories and files.
func checkTree(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, keyFileName)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s has no %s", ErrNoVault, dir, keyFileName)
	}
	if err := checkPerm(dir, true); err != nil {
		return err
	}
	for _, d := range []string{recordDir, segmentDir} {
		p := filepath.Join(dir, d)
		if err := checkPerm(p, true); err != nil {
			return err
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return fmt.Errorf("vault: %w", err)
		}
		for _, e := range ents {
			if err := checkPerm(filepath.Join(p, e.Name()), false); err != nil {
				return err
			}
		}
	}
	if err := checkBlobTree(dir); err != nil {
		return err
	}
	for _, f := range []string{keyFileName, lockFileName, manifestName} {
		if err := checkPerm(filepath.Join(dir, f), false); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
