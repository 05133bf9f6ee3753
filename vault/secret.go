package vault

import (
	"errors"
	"sync"

	"github.com/awnumar/memguard"
)

// Secret is a key held in a memguard enclave: encrypted in ordinary memory
// under a key memguard keeps in locked memory, and decrypted into a locked,
// guarded buffer only for the duration of [Secret.Open].
//
// Pack many small keys into one Secret (or open several at once with
// [OpenSecrets]) rather than opening many: each open buffer costs a locked
// page, and an ordinary user has only 16 of them.
type Secret struct {
	mu   sync.RWMutex
	e    *memguard.Enclave
	size int
}

// ErrDestroyed is returned when a destroyed Secret or Passphrase is used.
var ErrDestroyed = errors.New("vault: secret already destroyed")

// NewSecret moves b into a new Secret and wipes b. b must not be empty.
func NewSecret(b []byte) (*Secret, error) {
	if len(b) == 0 {
		return nil, errors.New("vault: empty secret")
	}
	s := &Secret{size: len(b)}
	// Sealing opens memguard's key into one locked page for a moment.
	if err := allocLocked(1, func() { s.e = memguard.NewEnclave(b) }); err != nil {
		memguard.WipeBytes(b)
		return nil, err
	}
	return s, nil
}

// RandomSecret returns a Secret of n random bytes.
func RandomSecret(n int) (*Secret, error) {
	if n <= 0 {
		return nil, errors.New("vault: empty secret")
	}
	s := &Secret{size: n}
	if err := allocLocked(pagesFor(n)+1, func() { s.e = memguard.NewEnclaveRandom(n) }); err != nil {
		return nil, err
	}
	return s, nil
}

// Size is the secret's length in bytes.
func (s *Secret) Size() int { return s.size }

// Open decrypts the secret into a locked buffer, calls fn with it, and
// destroys the buffer when fn returns. The buffer is read-only (writing to it
// crashes the program) and must not be retained or copied out.
func (s *Secret) Open(fn func(b []byte) error) error {
	return OpenSecrets(func(bs [][]byte) error { return fn(bs[0]) }, s)
}

// Destroy drops the secret. Its enclave is ciphertext under a key memguard
// replaces when the process ends, so dropping it is enough.
func (s *Secret) Destroy() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.e = nil
	s.mu.Unlock()
}

// OpenSecrets opens several secrets into one locked buffer (one slot, as few
// pages as their total size needs) and calls fn with one read-only slice per
// secret, in order.
func OpenSecrets(fn func(bs [][]byte) error, ss ...*Secret) error {
	if len(ss) == 0 {
		return errors.New("vault: no secrets to open")
	}
	release, err := takeSlot()
	if err != nil {
		return err
	}
	defer release()
	for _, s := range ss {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.e == nil {
			return ErrDestroyed
		}
	}
	if len(ss) == 1 {
		var lb *memguard.LockedBuffer
		var oerr error
		// The plaintext pages plus memguard's key, opened for a moment.
		if err := allocLocked(pagesFor(ss[0].size)+1, func() { lb, oerr = ss[0].e.Open() }); err != nil {
			return err
		}
		if oerr != nil {
			return errors.New("vault: secret damaged in memory")
		}
		defer lb.Destroy()
		return fn([][]byte{lb.Bytes()})
	}
	total, largest := 0, 0
	for _, s := range ss {
		total += s.size
		largest = max(largest, s.size)
	}
	var pack *memguard.LockedBuffer
	if err := allocLocked(pagesFor(total), func() { pack = memguard.NewBuffer(total) }); err != nil {
		return err
	}
	defer pack.Destroy()
	if pack.Size() != total {
		return ErrLockedMemory
	}
	bs := make([][]byte, len(ss))
	off := 0
	for i, s := range ss {
		var lb *memguard.LockedBuffer
		var oerr error
		if err := allocLocked(pagesFor(largest)+1, func() { lb, oerr = s.e.Open() }); err != nil {
			return err
		}
		if oerr != nil {
			return errors.New("vault: secret damaged in memory")
		}
		copy(pack.Bytes()[off:], lb.Bytes())
		lb.Destroy()
		bs[i] = pack.Bytes()[off : off+s.size : off+s.size]
		off += s.size
	}
	pack.Freeze()
	return fn(bs)
}
