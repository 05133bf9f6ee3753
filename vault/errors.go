package vault

import (
	"errors"
	"fmt"
)

var (
	// ErrWrongPassphrase: the passphrase does not open the vault. Nothing
	// was written.
	ErrWrongPassphrase = errors.New("vault: wrong passphrase")
	// ErrLocked: another process has the vault open.
	ErrLocked = errors.New("vault: the vault is in use by another Sotto process (close it first)")
	// ErrNoVault: the directory holds no vault.
	ErrNoVault = errors.New("vault: no vault here")
	// ErrExists: Create was given a directory that already holds files.
	ErrExists = errors.New("vault: the directory is not empty")
	// ErrNotFound: no such record.
	ErrNotFound = errors.New("vault: not found")
	// ErrClosed: the vault was closed.
	ErrClosed = errors.New("vault: closed")
	// ErrDamaged is wrapped by every [FileError].
	ErrDamaged = errors.New("damaged or foreign file")
	// ErrWorkFactor: a key file asks for more scrypt work than allowed.
	ErrWorkFactor = errors.New("vault: the key file's scrypt work factor is too large")
)

// FileError reports a vault file that cannot be read: truncated, tampered
// with, or not ours. Name is the file's path inside the vault directory, as
// on disk (such as "s/3fa29c…"); it reveals nothing.
type FileError struct {
	Name string
	Err  error
}

func (e *FileError) Error() string {
	return fmt.Sprintf("vault: file %s: %v", e.Name, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrDamaged) true for every FileError.
func (e *FileError) Is(target error) bool { return target == ErrDamaged }

// PermissionError reports a vault directory or file that others may read.
type PermissionError struct {
	Path string
	Mode uint32
	Fix  string // the command that fixes it
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("vault: %s is accessible to other users (mode %04o): refusing to use it; run: %s", e.Path, e.Mode, e.Fix)
}
