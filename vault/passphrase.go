package vault

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/awnumar/memguard"
	"golang.org/x/sys/unix"
)

// MaxPassphrase is the longest passphrase accepted, in bytes.
const MaxPassphrase = 1024

// ErrEmptyPassphrase is returned for a passphrase of zero length.
var ErrEmptyPassphrase = errors.New("vault: the passphrase is empty")

// Passphrase is a passphrase held in a memguard enclave. It never exists as
// a Go string: it is read straight into locked memory and sealed there.
type Passphrase struct {
	s *Secret
}

// NewPassphrase moves b into a Passphrase and wipes b.
func NewPassphrase(b []byte) (*Passphrase, error) {
	if len(b) == 0 {
		return nil, ErrEmptyPassphrase
	}
	if len(b) > MaxPassphrase {
		memguard.WipeBytes(b)
		return nil, fmt.Errorf("vault: the passphrase is longer than %d bytes", MaxPassphrase)
	}
	s, err := NewSecret(b)
	if err != nil {
		return nil, err
	}
	return &Passphrase{s: s}, nil
}

// Destroy drops the passphrase.
func (p *Passphrase) Destroy() {
	if p != nil {
		p.s.Destroy()
	}
}

// Equal reports whether p and q hold the same passphrase (in constant time),
// for a "type it again" prompt.
func (p *Passphrase) Equal(q *Passphrase) (bool, error) {
	eq := false
	err := OpenSecrets(func(bs [][]byte) error {
		eq = subtle.ConstantTimeCompare(bs[0], bs[1]) == 1
		return nil
	}, p.s, q.s)
	return eq, err
}

// Peek calls fn with the passphrase, in locked memory, for a check that
// keeps nothing (a strength estimate). fn must not keep, copy or change b.
func (p *Passphrase) Peek(fn func(b []byte)) error {
	return p.open(func(b []byte) error { fn(b); return nil })
}

func (p *Passphrase) open(fn func(b []byte) error) error {
	if p == nil || p.s == nil {
		return ErrEmptyPassphrase
	}
	return p.s.Open(fn)
}

// readInto reads a passphrase line from r straight into a locked buffer and
// returns it as a Passphrase, stripping one trailing "\n" or "\r\n".
func readInto(r io.Reader, what string) (*Passphrase, error) {
	var lb *memguard.LockedBuffer
	if err := allocLocked(1, func() { lb = memguard.NewBuffer(pageSize) }); err != nil {
		return nil, err
	}
	defer lb.Destroy()
	buf := lb.Bytes()
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if m > 0 && bytes.IndexByte(buf[n-m:n], '\n') >= 0 {
			break
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("vault: reading the passphrase from %s: %w", what, err)
		}
	}
	line := buf[:n]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		if i != len(line)-1 && bytes.ContainsFunc(line[i+1:], func(r rune) bool { return r != '\n' && r != '\r' }) {
			return nil, fmt.Errorf("vault: %s holds more than one line: the passphrase is its first and only line", what)
		}
		line = line[:i]
	} else if n == len(buf) {
		return nil, fmt.Errorf("vault: the passphrase in %s is longer than %d bytes", what, MaxPassphrase)
	}
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return nil, ErrEmptyPassphrase
	}
	return NewPassphrase(line) // wipes line, inside the locked buffer
}

// PassphraseFromFile reads a passphrase from the first line of a file (for
// --passphrase-file). The file must be readable by its owner only.
func PassphraseFromFile(path string) (*Passphrase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vault: passphrase file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("vault: passphrase file: %w", err)
	}
	if !fi.Mode().IsRegular() && fi.Mode()&os.ModeNamedPipe == 0 {
		return nil, fmt.Errorf("vault: passphrase file %s is not a regular file", path)
	}
	if fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("vault: passphrase file %s is readable by others: run chmod 600 %s", path, path)
	}
	if fi.Mode().IsRegular() && fi.Size() > MaxPassphrase+2 {
		return nil, fmt.Errorf("vault: passphrase file %s is larger than a passphrase (%d bytes at most)", path, MaxPassphrase)
	}
	return readInto(f, "the passphrase file")
}

// ErrPassphraseMismatch: the two answers of [ReadNewPassphrase] differ.
var ErrPassphraseMismatch = errors.New("vault: the two passphrases differ")

// ReadPassphrase writes prompt to the terminal (/dev/tty) and reads one line
// with echo off, straight into locked memory. It fails if there is no
// terminal; scripts use [PassphraseFromFile].
func ReadPassphrase(prompt string) (*Passphrase, error) {
	ps, err := readTTY(prompt)
	if err != nil {
		return nil, err
	}
	return ps[0], nil
}

// ReadNewPassphrase asks for a new passphrase twice on the terminal, echo
// off, and returns it if both answers match (ErrPassphraseMismatch if not).
func ReadNewPassphrase(prompt, confirm string) (*Passphrase, error) {
	ps, err := readTTY(prompt, confirm)
	if err != nil {
		return nil, err
	}
	defer ps[1].Destroy()
	eq, err := ps[0].Equal(ps[1])
	if err == nil && !eq {
		err = ErrPassphraseMismatch
	}
	if err != nil {
		ps[0].Destroy()
		return nil, err
	}
	return ps[0], nil
}

// readTTY reads one passphrase per prompt from /dev/tty with echo off.
func readTTY(prompts ...string) ([]*Passphrase, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("vault: no terminal to read the passphrase from (use --passphrase-file): %w", err)
	}
	defer tty.Close()
	fd := int(tty.Fd())
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return nil, fmt.Errorf("vault: /dev/tty is not a terminal: %w", err)
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ECHONL | unix.ISIG
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &quiet); err != nil {
		return nil, fmt.Errorf("vault: cannot turn off echo: %w", err)
	}
	defer unix.IoctlSetTermios(fd, ioctlSetTermios, old) //nolint:errcheck // best effort on the way out
	var out []*Passphrase
	for _, prompt := range prompts {
		_, err := io.WriteString(tty, prompt)
		var p *Passphrase
		if err == nil {
			p, err = readInto(tty, "the terminal")
		}
		if err != nil {
			for _, q := range out {
				q.Destroy()
			}
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
