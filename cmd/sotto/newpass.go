package main

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/awnumar/memguard"
	"github.com/sottochat/sotto"
	"golang.org/x/sys/unix"
)

// maxPassphrase bounds a typed passphrase (the vault's own limit is lower
// or equal; it says so if the passphrase is too long for it).
const maxPassphrase = 1024

var errMismatch = errors.New("sotto: the two passphrases differ; nothing was created")

// readNewPassphrase asks twice on the terminal, with echo off, and returns
// the passphrase when both answers are the same. Each answer is read
// straight into a locked buffer; the two are compared in constant time and
// wiped; sotto.NewPassphrase takes the first into its own locked memory.
func readNewPassphrase(prompt1, prompt2 string) (*sotto.Passphrase, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, errors.New("sotto: no terminal to read the new passphrase from (use --passphrase-file)")
	}
	defer tty.Close()
	a, err := readQuiet(tty, prompt1)
	if err != nil {
		return nil, err
	}
	defer a.Destroy()
	b, err := readQuiet(tty, prompt2)
	if err != nil {
		return nil, err
	}
	defer b.Destroy()
	if subtle.ConstantTimeCompare(a.Bytes(), b.Bytes()) != 1 {
		return nil, errMismatch
	}
	return sotto.NewPassphrase(a.Bytes()), nil // wipes a's bytes
}

// readQuiet writes prompt and reads one line with echo off into a locked
// buffer holding exactly the line (without its line end).
func readQuiet(tty *os.File, prompt string) (*memguard.LockedBuffer, error) {
	fd := int(tty.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, errors.New("sotto: /dev/tty is not a terminal (use --passphrase-file)")
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ECHONL | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return nil, fmt.Errorf("sotto: cannot turn off echo: %w", err)
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old) //nolint:errcheck // best effort on the way out
	if _, err := io.WriteString(tty, prompt); err != nil {
		return nil, err
	}
	lb := memguard.NewBuffer(maxPassphrase + 2)
	buf := lb.Bytes()
	n := 0
	for n < len(buf) {
		m, err := tty.Read(buf[n:])
		n += m
		if m > 0 && bytes.IndexByte(buf[n-m:n], '\n') >= 0 {
			break
		}
		if err != nil {
			lb.Destroy()
			if err == io.EOF {
				return nil, errors.New("sotto: no passphrase typed")
			}
			return nil, fmt.Errorf("sotto: reading the passphrase: %w", err)
		}
	}
	i := bytes.IndexByte(buf[:n], '\n')
	if i < 0 {
		lb.Destroy()
		return nil, fmt.Errorf("sotto: the passphrase is longer than %d bytes", maxPassphrase)
	}
	line := bytes.TrimSuffix(buf[:i], []byte("\r"))
	if len(line) == 0 {
		lb.Destroy()
		return nil, errors.New("sotto: empty passphrase; nothing was created")
	}
	out := memguard.NewBuffer(len(line))
	copy(out.Bytes(), line)
	lb.Destroy()
	return out, nil
}
