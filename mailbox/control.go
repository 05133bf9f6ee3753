package mailbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The control socket: a running mailbox listens on ControlSocket in its
// profile directory (mode 0600 in a 0700 directory, and only the user that
// runs it may connect) for one-line requests from the same machine:
//
//	code    make a pairing code; the reply is the code
//	status  the reply is Stats as JSON
//	panic   the mailbox wipes its keys and stops at once
//
// Replies are one line, "ok " or "error " then the payload.

const maxControlLine = 256

// ServeControl serves the control socket until ctx is done. onPanic is
// called (from the serving goroutine) when a panic request arrives, after
// the reply was written.
func (m *Mailbox) ServeControl(ctx context.Context, onPanic func()) error {
	path := filepath.Join(m.dir, ControlSocket)
	_ = os.Remove(path) // a socket left by a killed mailbox
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("mailbox: control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return err
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		<-ctx.Done()
		ln.Close()
		os.Remove(path)
	}()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !samePeer(c) {
				c.Close()
				continue
			}
			if m.control(ctx, c) {
				onPanic()
				return
			}
		}
	}()
	return nil
}

// control serves one request; it reports whether it was a panic.
func (m *Mailbox) control(ctx context.Context, c net.Conn) bool {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReaderSize(c, maxControlLine)
	line, err := r.ReadSlice('\n')
	if err != nil {
		return false
	}
	switch strings.TrimSpace(string(line)) {
	case "code":
		code, err := m.NewCode(ctx)
		if err != nil {
			fmt.Fprintf(c, "error %s\n", oneLine(err.Error()))
			return false
		}
		s := code.String()
		code.Wipe()
		fmt.Fprintf(c, "ok %s\n", s)
	case "status":
		b, _ := json.Marshal(m.Stats())
		fmt.Fprintf(c, "ok %s\n", b)
	case "panic":
		fmt.Fprintf(c, "ok\n")
		return true
	default:
		fmt.Fprintf(c, "error unknown request\n")
	}
	return false
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// Control sends one request to the mailbox running in dir and returns its
// reply's payload. ErrNotRunning if no mailbox listens there.
func Control(dir, req string) (string, error) {
	c, err := net.DialTimeout("unix", filepath.Join(dir, ControlSocket), 5*time.Second)
	if err != nil {
		return "", ErrNotRunning
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", req); err != nil {
		return "", err
	}
	line, err := bufio.NewReaderSize(c, 4096).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("mailbox: no reply from the running mailbox: %w", err)
	}
	line = strings.TrimSuffix(line, "\n")
	if rest, ok := strings.CutPrefix(line, "ok"); ok {
		return strings.TrimPrefix(rest, " "), nil
	}
	if rest, ok := strings.CutPrefix(line, "error "); ok {
		return "", errors.New("mailbox: " + rest)
	}
	return "", errors.New("mailbox: unreadable reply from the running mailbox")
}
