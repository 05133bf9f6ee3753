package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/internal/erase"
)

// Amnesic mode (--amnesic, for Tails and disposable VMs): the whole session
// lives in a directory on a memory-backed file system (tmpfs or ramfs:
// $XDG_RUNTIME_DIR, else /dev/shm) that Sotto creates at start and removes
// at exit, on SIGINT, SIGTERM and SIGHUP too. The profile (its vault: the
// identities, contacts and messages) and tor's data directory are in it, so
// every code path of a persistent profile works unchanged while nothing
// reaches a disk. The vault there is encrypted as always: headless, with a
// random passphrase that exists only in this process's locked memory; the
// chat screen asks for one, which then also unlocks the idle lock.

// amnesicLabel is what every screen shows in amnesic mode.
const amnesicLabel = "AMNESIC: nothing written to disk"

// amnesicSession is the memory-backed directory of one amnesic run.
type amnesicSession struct {
	dir string
}

// amnesicBases are the candidate parents of the session directory, in order.
func amnesicBases(getenv func(string) string) []string {
	var out []string
	if d := getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		out = append(out, d)
	}
	return append(out, "/dev/shm")
}

// startAmnesic creates the session directory on the first candidate that is
// memory-backed, points the profile (and so tor's data directory) at it, and
// has it removed when a signal ends the process. Temporary files (the
// metadata scrubber's copies) go there too.
func (a *app) startAmnesic() (*amnesicSession, error) {
	if a.g.profile != "" {
		return nil, usagef("leave out --profile: an amnesic session makes its own, in memory", "--amnesic and --profile cannot be used together")
	}
	var tried []string
	for _, base := range amnesicBases(a.getenv) {
		kind, err := memoryBacked(base)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", base, err))
			continue
		}
		if kind == "" {
			tried = append(tried, base+": on a disk, not a tmpfs or ramfs")
			continue
		}
		dir, err := os.MkdirTemp(base, "sotto-amnesic-")
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", base, err))
			continue
		}
		s := &amnesicSession{dir: dir}
		if err := os.Chmod(dir, 0o700); err != nil {
			s.remove()
			return nil, err
		}
		for _, k := range []string{"TMPDIR", "XDG_RUNTIME_DIR"} {
			if err := os.Setenv(k, dir); err != nil {
				s.remove()
				return nil, err
			}
		}
		a.g.profile = filepath.Join(dir, "profile")
		prev := a.onSignal
		a.onSignal = func(sig os.Signal) {
			if prev != nil {
				prev(sig)
			}
			s.remove()
		}
		if swapOn() {
			fmt.Fprintln(a.stderr, "sotto: warning: this system has swap turned on: the kernel may write the amnesic session's memory (the encrypted vault, tor's state) to it")
			fmt.Fprintln(a.stderr, "hint: turn swap off (swapoff -a) or use a system without swap (Tails has none)")
		}
		return s, nil
	}
	return nil, usagef("run Sotto where $XDG_RUNTIME_DIR or /dev/shm is a tmpfs (as on Tails, Whonix and Qubes), or without --amnesic",
		"--amnesic needs a memory-backed directory and found none (%s); nothing was written", strings.Join(tried, "; "))
}

// remove deletes the session directory. tor may still be writing into it
// for a moment when a signal ends Sotto: a few tries, then the directory is
// gone and nothing can be created in it any more.
func (s *amnesicSession) remove() error {
	var err error
	for i := 0; i < 20; i++ {
		if err = os.RemoveAll(s.dir); err == nil {
			if _, serr := os.Lstat(s.dir); errors.Is(serr, os.ErrNotExist) {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("sotto: removing the amnesic session's directory %s: %w", s.dir, err)
}

// randomPassphrase is the vault passphrase of a headless amnesic session:
// 32 random bytes in hex, made inside erase.Do and handed straight to
// locked memory.
func randomPassphrase() *sotto.Passphrase {
	var p *sotto.Passphrase
	erase.Do(func() {
		var raw [32]byte
		var h [64]byte
		rand.Read(raw[:])
		hex.Encode(h[:], raw[:])
		clear(raw[:])
		p = sotto.NewPassphrase(h[:])
		clear(h[:])
	})
	return p
}

// openAmnesic creates the session's profile with a random passphrase and
// opens it (headless).
func (a *app) openAmnesic() (*sotto.Engine, error) {
	if err := a.harden(); err != nil {
		return nil, err
	}
	p := randomPassphrase()
	defer p.Destroy()
	if err := sotto.Init(a.ctx, a.options(true), p); err != nil {
		return nil, err
	}
	return sotto.Open(a.ctx, a.options(false), p)
}

// amnesicEngine marks the engine of an amnesic session for headless, which
// says so in its status reply and tor events.
type amnesicEngine struct{ *sotto.Engine }

func (amnesicEngine) Amnesic() bool { return true }

// amnesicIn reports whether args (a command's own, before any "--") turn
// --amnesic on.
func amnesicIn(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "amnesic" && (!hasVal || val != "false" && val != "0" && val != "f" && val != "F" && val != "FALSE" && val != "False") {
			return true
		}
	}
	return false
}
