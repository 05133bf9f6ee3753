package vault

import (
	"sync"

	"github.com/awnumar/memguard"
)

// Locked is a writable buffer in locked memory (a memguard buffer: mlocked,
// so never swapped, between guard pages, excluded from core dumps) for a
// secret that changes too often to be sealed into a [Secret] after every
// change: a conversation's ratchet state while its session is up, changed
// by every message. It trades the enclave's encryption at rest for the
// cost of one system call less per message; the bytes are wiped when it is
// destroyed.
type Locked struct {
	mu sync.Mutex
	lb *memguard.LockedBuffer
}

// LockedSpare is the part of the locked-memory limit NewLocked leaves free,
// so that long-lived buffers never make opening the vault's own secrets
// fail: with an ordinary user's 64 KiB limit there is no long-lived buffer
// at all.
const LockedSpare = 256 << 10

// NewLocked returns a zeroed buffer of n bytes in locked memory, or
// ErrLockedMemory if the limit would then leave less than LockedSpare
// free. The caller falls back to a Secret.
func NewLocked(n int) (*Locked, error) {
	if n <= 0 {
		n = 1
	}
	l := &Locked{}
	pages := pagesFor(n)
	if err := allocLocked(pages+pagesFor(LockedSpare), func() { l.lb = memguard.NewBuffer(n) }); err != nil {
		return nil, err
	}
	if l.lb.Size() != n {
		l.lb.Destroy()
		return nil, ErrLockedMemory
	}
	return l, nil
}

// Bytes is the buffer (len n). It stays valid until Destroy, which wipes it:
// the caller must not keep it past that.
func (l *Locked) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lb == nil {
		return nil
	}
	return l.lb.Bytes()
}

// Destroy wipes the buffer and gives its pages back.
func (l *Locked) Destroy() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lb != nil {
		l.lb.Destroy()
		l.lb = nil
	}
}
