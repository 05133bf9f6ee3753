package sotto

import (
	"fmt"

	"github.com/sottochat/sotto/internal/erase"
	"github.com/sottochat/sotto/ratchet"
)

// A conversation's ratchet state changes with every message. At rest it
// is sealed in a memguard enclave (c.ratchet); opening an enclave and
// sealing a new one cost two locked allocations (mmap, mlock, munlock,
// munmap) and two encryptions per message, most of the engine's CPU time
// per message. While a session is up the state is instead kept serialised
// in one writable buffer of locked memory (vault.Locked: mlocked, between
// guard pages, never swapped, outside core dumps), parsed for each batch
// of messages and serialised back into the same buffer; it is sealed into
// the enclave again when the session ends (retireLiveLocked). The trade:
// during a session the state's bytes sit unencrypted in locked memory
// instead of encrypted under memguard's key, which is also in locked
// memory, so a reader of the process's memory (T22) learns the same either
// way; what changes is that they are readable without memguard's key for
// that time. The identity keys, the passphrase and the other secrets stay
// in enclaves. Where locked memory is short (vault.LockedSpare) there is
// no live buffer and every message opens the enclave as before.

// lockedBuf is a writable buffer in locked memory (vault.Locked).
type lockedBuf interface {
	Bytes() []byte
	Destroy()
}

// liveState is a contact's ratchet state, serialised in locked memory.
type liveState struct {
	buf lockedBuf
	n   int // length of the serialisation in buf
}

// liveSlack is room added to a new live buffer beyond the state's size, so
// that the state can grow (skipped keys, a new epoch) without a new buffer.
const liveSlack = 4096

// loadLiveLocked parses c's live state; ok false if it has none.
func (e *Engine) loadLiveLocked(c *contact) (st *ratchet.State, ok bool, err error) {
	if c.live == nil {
		return nil, false, nil
	}
	// ParseState: the State and its epoch list in one allocation (this
	// runs for every message, inside erase.Do).
	st, err = ratchet.ParseState(c.live.buf.Bytes()[:c.live.n])
	if err != nil {
		return nil, true, fmt.Errorf("sotto: reading a conversation's keys: %w", err)
	}
	return st, true, nil
}

// keepLiveLocked serialises st into c's live buffer (made, or made larger,
// if needed) and wipes st. It returns false, leaving st alone, where the
// engine keeps no live states, c has no session, or no locked memory is
// left: the caller then seals st into the enclave.
func (e *Engine) keepLiveLocked(c *contact, st *ratchet.State) (bool, error) {
	if e.cfg.newLocked == nil || (c.live == nil && c.sess == nil) {
		return false, nil
	}
	size := st.MarshalSize()
	if c.live == nil || len(c.live.buf.Bytes()) < size {
		buf, err := e.cfg.newLocked(size + liveSlack)
		if err != nil {
			// No locked memory to spare: back to the enclave.
			e.dropLiveLocked(c)
			return false, nil
		}
		e.dropLiveLocked(c)
		c.live = &liveState{buf: buf}
	}
	b := c.live.buf.Bytes()
	out, err := st.AppendBinary(b[:0])
	st.Wipe()
	if err != nil {
		return true, err
	}
	if len(out) > len(b) || &out[0] != &b[0] {
		clear(out) // cannot happen (room checked): never keep a copy outside
		return true, fmt.Errorf("sotto: a conversation's keys outgrew their buffer")
	}
	if c.live.n > len(out) {
		clear(b[len(out):c.live.n]) // what the longer old state left behind
	}
	c.live.n = len(out)
	return true, nil
}

// liveBytes are c's live serialised state (nil if it has none); valid under
// e.mu until the next change.
func (c *contact) liveBytes() []byte {
	if c.live == nil {
		return nil
	}
	return c.live.buf.Bytes()[:c.live.n]
}

// dropLiveLocked destroys c's live buffer without keeping its contents.
func (e *Engine) dropLiveLocked(c *contact) {
	if c.live != nil {
		c.live.buf.Destroy()
		c.live = nil
	}
}

// retireLiveLocked seals c's live state back into its enclave and destroys
// the live buffer (the session ended). On an error the live buffer stays,
// so that nothing is lost; the next session uses it.
func (e *Engine) retireLiveLocked(c *contact) error {
	if c.live == nil {
		return nil
	}
	var err error
	erase.Do(func() {
		// newSecret wipes its argument; allocated inside erase.Do, the
		// copy is also zeroed when freed.
		b := append([]byte(nil), c.liveBytes()...)
		var box secretBox
		if box, err = e.cfg.newSecret(b); err != nil {
			clear(b)
			return
		}
		if c.ratchet != nil {
			c.ratchet.Destroy()
		}
		c.ratchet = box
	})
	if err != nil {
		return err
	}
	e.dropLiveLocked(c)
	return nil
}
