package main

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// savedTerminal is the terminal's mode before the chat screen took it over,
// for a signal handler to hand the terminal back: memguard's handler (see
// vault.Harden) wipes the secrets and exits at once on SIGINT, SIGTERM and
// SIGHUP, without Bubble Tea's own cleanup.
type savedTerminal struct {
	fd  int
	t   *unix.Termios
	out io.Writer
}

// saveTerminal records the mode of in (the chat screen's input) when it is a
// terminal; out is where the screen is drawn.
func saveTerminal(in *os.File, out io.Writer) *savedTerminal {
	t, err := unix.IoctlGetTermios(int(in.Fd()), ioctlGetTermios)
	if err != nil {
		return &savedTerminal{fd: -1, out: out}
	}
	return &savedTerminal{fd: int(in.Fd()), t: t, out: out}
}

// terminalReset leaves the alternate screen, shows the cursor, resets the
// colours and turns off what Bubble Tea may have turned on (mouse reports,
// bracketed paste, focus reports).
const terminalReset = "\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l\x1b[?1004l\x1b[0m\x1b[?25h\x1b[?1049l"

// restore puts the terminal back. It is called from a signal handler just
// before the process exits: errors are ignored (after SIGHUP the terminal may
// be gone).
func (s *savedTerminal) restore() {
	if s == nil {
		return
	}
	if s.t != nil {
		_ = unix.IoctlSetTermios(s.fd, ioctlSetTermios, s.t)
	}
	if s.out != nil {
		_, _ = io.WriteString(s.out, terminalReset)
	}
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), ioctlGetTermios)
	return err == nil
}
