package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/mailbox"
	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/vault"
)

// 'sotto mailbox ...': the mailbox role of the binary (init, serve, code,
// status on the mailbox's machine) and the owner's side (pair, unpair,
// status IDENTITY on the messenger profile). docs/cli.md describes them.

const mailboxUsage = `Usage: sotto mailbox init [--max-age DURATION] [--quota SIZE]
       sotto mailbox serve [--quiet]
       sotto mailbox code [--no-qr]
       sotto mailbox status [IDENTITY]
       sotto mailbox pair IDENTITY CODE
       sotto mailbox unpair IDENTITY [--force]

A mailbox keeps messages for you and your contacts while you are offline. It
runs on a machine that stays on (a Raspberry Pi, a VPS, a Qubes or Whonix VM)
and never sees a key, a message text, a name or a contact's address: only
padded, encrypted blobs, deleted when collected or when they expire.

On the mailbox's machine (profile default: $XDG_DATA_HOME/sotto-mailbox):
  init       create the mailbox profile (asks for a new passphrase)
    --max-age DURATION  delete blobs nobody collected after this long
                        (default 14d; 1h to 90d)
    --quota SIZE        the most it stores in all (default 1GiB; e.g. 512MiB)
  serve      run it: its own tor, one onion service per paired identity;
             JSON lines on stdout (docs/headless.md), --quiet for none
  code       print a one-time pairing code (and a QR code of it), valid 24 h
    --no-qr    only the code line
  status     what it holds: identities served, blobs, bytes (no names)

On your messenger profile (default: $XDG_DATA_HOME/sotto):
  pair IDENTITY CODE   link one of your identities to the mailbox; your
                       contacts are offered a queue there the next time you
                       are both online (the code works once, for 24 hours)
  unpair IDENTITY      wipe that identity's queues on the mailbox and stop
                       using it; contacts are told to stop too
    --force              forget it here even if the mailbox cannot be reached
  status IDENTITY      the identity's mailbox and its contacts' queues

` + globalFlagsUsage + `
Examples:
  sotto mailbox init --quota 512MiB
  sotto mailbox serve --quiet &
  sotto mailbox code
  sotto mailbox pair work sottomb1:...
  sotto mailbox status work

hint: serve needs the passphrase at every start: use --passphrase-file FILE
      (mode 0600) to start it unattended, e.g. from a systemd unit.
hint: one mailbox can serve several of your identities; each gets its own
      onion address, so nobody can tell they share it.
`

// mailboxDir is --profile, or the default mailbox profile directory.
func (a *app) mailboxDir() string {
	if a.g.profile != "" {
		return a.g.profile
	}
	return filepath.Join(filepath.Dir(sotto.DefaultProfileDir()), "sotto-mailbox")
}

func (a *app) cmdMailbox(args []string) error {
	sub, rest, done, err := a.sub("mailbox", mailboxUsage, args)
	if done || err != nil {
		return err
	}
	a.mailboxCmd = true
	var maxAge, quota string
	var quiet, noQR, force bool
	pos, done, err := a.simple("mailbox "+sub, mailboxUsage, rest, 0, 2, "", func(fs *flag.FlagSet) {
		switch sub {
		case "init":
			fs.StringVar(&maxAge, "max-age", "", "")
			fs.StringVar(&quota, "quota", "", "")
		case "serve":
			fs.BoolVar(&quiet, "quiet", false, "")
			fs.BoolVar(&quiet, "q", false, "")
		case "code":
			fs.BoolVar(&noQR, "no-qr", false, "")
		case "unpair":
			fs.BoolVar(&force, "force", false, "")
		}
	})
	if done || err != nil {
		return err
	}
	switch sub {
	case "init":
		if err := nargs("mailbox init", pos, 0, 0, "no arguments"); err != nil {
			return err
		}
		cfg := mailbox.DefaultConfig()
		if maxAge != "" {
			d, err := parseAge(maxAge)
			if err != nil {
				return usagef("a duration is like 36h, 14d or 90d", "mailbox init: --max-age: %v", err)
			}
			cfg.MaxAge = d
		}
		if quota != "" {
			n, err := parseSize(quota)
			if err != nil {
				return usagef("a size is like 512MiB or 2GiB", "mailbox init: --quota: %v", err)
			}
			cfg.QuotaBytes = n
			cfg.QueueBytes = min(cfg.QueueBytes, n)
		}
		if err := cfg.Check(); err != nil {
			return usagef("run 'sotto mailbox --help' for the limits", "mailbox init: %v", err)
		}
		return a.mailboxInit(cfg)
	case "serve":
		if err := nargs("mailbox serve", pos, 0, 0, "no arguments"); err != nil {
			return err
		}
		return a.mailboxServe(quiet)
	case "code":
		if err := nargs("mailbox code", pos, 0, 0, "no arguments"); err != nil {
			return err
		}
		return a.mailboxCode(!noQR)
	case "status":
		if err := nargs("mailbox status", pos, 0, 1, "an optional IDENTITY"); err != nil {
			return err
		}
		if len(pos) == 1 {
			a.mailboxCmd = false // the messenger profile's errors
			return a.mailboxClientStatus(pos[0])
		}
		return a.mailboxStatus()
	case "pair":
		if err := nargs("mailbox pair", pos, 2, 2, "IDENTITY CODE"); err != nil {
			return err
		}
		a.mailboxCmd = false
		return a.mailboxPair(pos[0], pos[1])
	case "unpair":
		if err := nargs("mailbox unpair", pos, 1, 1, "one IDENTITY"); err != nil {
			return err
		}
		a.mailboxCmd = false
		return a.mailboxUnpair(pos[0], force)
	default:
		return usagef("the mailbox sub-commands are init, serve, code, status, pair, unpair", "unknown sub-command %q", "mailbox "+clip(sub))
	}
}

// parseAge reads 90m, 36h or 14d.
func parseAge(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d <= 0 {
			return 0, errors.New("not a number of days")
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("not a duration")
	}
	return d, nil
}

// parseSize reads 512MiB, 2GiB, 100MB, or a number of bytes.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
			if err != nil || v <= 0 || v > (1<<50)/u.mult {
				return 0, errors.New("not a size")
			}
			return v * u.mult, nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, errors.New("not a size")
	}
	return v, nil
}

func (a *app) mailboxPassphrase(prompt string) (*vault.Passphrase, error) {
	if a.g.passphraseFile != "" {
		return vault.PassphraseFromFile(a.g.passphraseFile)
	}
	if err := needTTY(); err != nil {
		return nil, err
	}
	return vault.ReadPassphrase(prompt)
}

func (a *app) mailboxInit(cfg mailbox.Config) error {
	if err := a.harden(); err != nil {
		return err
	}
	dir := a.mailboxDir()
	if mailbox.IsMailbox(dir) {
		return mailbox.ErrExists
	}
	var p *vault.Passphrase
	var err error
	if a.g.passphraseFile != "" {
		p, err = vault.PassphraseFromFile(a.g.passphraseFile)
	} else {
		if err := needTTY(); err != nil {
			return err
		}
		p, err = vault.ReadNewPassphrase("New passphrase for the mailbox "+dir+": ", "Again: ")
	}
	if err != nil {
		return err
	}
	defer p.Destroy()
	if err := mailbox.Init(dir, p, cfg, nil); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "created the mailbox profile %s (blobs kept at most %s, quota %s)\nnext: sotto mailbox serve, then sotto mailbox code\n",
		dir, fmtAge(cfg.MaxAge), fmtSize(cfg.QuotaBytes))
	return nil
}

func fmtAge(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func fmtSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

// openMailbox unlocks the mailbox profile.
func (a *app) openMailbox(logf func(string, ...any)) (*mailbox.Mailbox, error) {
	if err := a.harden(); err != nil {
		return nil, err
	}
	dir := a.mailboxDir()
	if !mailbox.IsMailbox(dir) {
		return nil, fmt.Errorf("%w (%s)", mailbox.ErrNoMailbox, dir)
	}
	p, err := a.mailboxPassphrase("Passphrase for the mailbox " + dir + ": ")
	if err != nil {
		return nil, err
	}
	defer p.Destroy()
	return mailbox.Open(dir, p, mailbox.Options{Logf: logf})
}

// jsonLines writes one JSON object per line, whole.
type jsonLines struct {
	mu  sync.Mutex
	a   *app
	off bool
}

func (j *jsonLines) emit(v map[string]any) {
	if j.off {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.a.stdout.Write(append(b, '\n'))
}

func (a *app) mailboxServe(quiet bool) error {
	out := &jsonLines{a: a, off: quiet}
	logf := func(string, ...any) {}
	if a.g.debug {
		logf = func(format string, args ...any) {
			out.emit(map[string]any{"event": "log", "msg": fmt.Sprintf(format, args...)})
		}
	}
	m, err := a.openMailbox(logf)
	if err != nil {
		return err
	}
	defer m.Close()
	dir := a.mailboxDir()
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	tc := onion.Config{DataDir: filepath.Join(dir, mailbox.TorSubdir), Debug: a.g.debug}
	if a.g.network != "" {
		b, err := os.ReadFile(a.g.network)
		if err != nil {
			return fmt.Errorf("sotto: reading the network file: %w", err)
		}
		tc.Network = string(b)
	}
	if a.g.tor.external(a.getenv) {
		ext, err := onion.ExternalFromEnv(a.g.tor.env(a.getenv))
		if err != nil {
			return err
		}
		tc.External = ext
	}
	st := m.Stats()
	out.emit(map[string]any{"event": "starting", "services": st.Services, "items": st.Items})
	t, err := onion.Start(ctx, tc)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := t.WaitReady(ctx); err != nil {
		return err
	}
	panicked := make(chan struct{})
	if err := m.ServeControl(ctx, func() {
		close(panicked)
		cancel()
	}); err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- m.Serve(ctx, mailbox.OnionNetwork{Tor: t}) }()
	select {
	case <-m.Ready():
		st = m.Stats()
		out.emit(map[string]any{"event": "ready", "services": st.Services, "items": st.Items, "codes": st.Codes})
	case err := <-serveErr:
		return err
	}
	go a.mailboxCommands(ctx, m, out, cancel)
	err = <-serveErr
	select {
	case <-panicked:
		// 'sotto panic' asked: the keys go now, the files with the
		// panicking process (which also wipes them itself).
		t.Close()
		mailboxWipe(dir)
		vault.Exit(exitFailure)
	default:
	}
	out.emit(map[string]any{"event": "stopped"})
	if err == nil && a.ctx.Err() != nil {
		return nil // stopped by a signal: a clean end
	}
	return err
}

// mailboxCommands reads JSON-lines commands on stdin while the mailbox
// serves: {"cmd":"code"}, {"cmd":"status"}, {"cmd":"quit"}, each with an
// optional "tag" echoed in the reply. The end of stdin is not a quit (a
// service manager gives /dev/null).
func (a *app) mailboxCommands(ctx context.Context, m *mailbox.Mailbox, out *jsonLines, quit func()) {
	sc := bufio.NewScanner(a.stdin)
	sc.Buffer(make([]byte, 4096), 4096)
	for sc.Scan() {
		var c struct {
			Cmd string `json:"cmd"`
			Tag string `json:"tag,omitempty"`
		}
		reply := map[string]any{"event": "ok"}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			out.emit(map[string]any{"event": "error", "error": "not a JSON command like {\"cmd\":\"code\"}", "code": "bad_command"})
			continue
		}
		reply["cmd"] = c.Cmd
		if c.Tag != "" {
			reply["tag"] = c.Tag
		}
		switch c.Cmd {
		case "quit":
			out.emit(reply)
			quit()
			return
		case "code":
			code, err := m.NewCode(ctx)
			if err != nil {
				reply["event"], reply["error"] = "error", err.Error()
				break
			}
			reply["code"] = code.String()
			code.Wipe()
		case "status":
			st := m.Stats()
			reply["services"], reply["relations"], reply["intakes"] = st.Services, st.Relations, st.Intakes
			reply["items"], reply["bytes"], reply["codes"] = st.Items, st.Bytes, st.Codes
			reply["for_owners"], reply["for_contacts"] = st.ForOwners, st.ForContacts
		case "ping":
		default:
			reply["event"], reply["error"], reply["code"] = "error", "unknown command (code, status, ping, quit)", "bad_command"
		}
		out.emit(reply)
	}
}

// mailboxWipe removes a mailbox profile's files as sotto.Panic does a
// messenger profile's: the vault (key file first), tor's state, the control
// socket, then the directory if nothing else is left.
func mailboxWipe(dir string) error {
	err := vault.Panic(filepath.Join(dir, mailbox.VaultSubdir))
	if rerr := os.RemoveAll(filepath.Join(dir, mailbox.TorSubdir)); rerr != nil && err == nil {
		err = rerr
	}
	os.Remove(filepath.Join(dir, mailbox.ControlSocket))
	os.Remove(dir)
	return err
}

// mailboxPanicRunning tells a mailbox running on the profile in dir to wipe
// its keys and stop; it reports whether one was running.
func mailboxPanicRunning(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, mailbox.ControlSocket)); err != nil {
		return false
	}
	_, err := mailbox.Control(dir, "panic")
	return err == nil
}

func (a *app) mailboxCode(qr bool) error {
	dir := a.mailboxDir()
	if !mailbox.IsMailbox(dir) {
		return fmt.Errorf("%w (%s)", mailbox.ErrNoMailbox, dir)
	}
	code, err := mailbox.Control(dir, "code")
	running := !errors.Is(err, mailbox.ErrNotRunning)
	if !running {
		// Not running: the code is stored, and the next serve publishes
		// the pairing service for it.
		m, oerr := a.openMailbox(nil)
		if oerr != nil {
			return oerr
		}
		c, cerr := m.NewCode(a.ctx)
		m.Close()
		if cerr != nil {
			return cerr
		}
		code = c.String()
		c.Wipe()
	} else if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, code)
	if qr {
		fmt.Fprintln(a.stdout)
		fmt.Fprint(a.stdout, sotto.QRCode(strings.ToUpper(code)))
	}
	fmt.Fprintln(a.stderr, "hint: on your messenger profile: sotto mailbox pair IDENTITY CODE (the code works once, for 24 hours)")
	if !running {
		fmt.Fprintln(a.stderr, "hint: the mailbox is not running: start 'sotto mailbox serve' before pairing")
	}
	return nil
}

func (a *app) mailboxStatus() error {
	dir := a.mailboxDir()
	if !mailbox.IsMailbox(dir) {
		return fmt.Errorf("%w (%s)", mailbox.ErrNoMailbox, dir)
	}
	var st mailbox.Stats
	running := true
	reply, err := mailbox.Control(dir, "status")
	switch {
	case errors.Is(err, mailbox.ErrNotRunning):
		running = false
		m, err := a.openMailbox(nil)
		if err != nil {
			return err
		}
		st = m.Stats()
		m.Close()
	case err != nil:
		return err
	default:
		if err := json.Unmarshal([]byte(reply), &st); err != nil {
			return errors.New("sotto: unreadable status from the running mailbox")
		}
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	state := "not running"
	if running {
		state = "running"
	}
	fmt.Fprintf(w, "mailbox\t%s (%s)\n", dir, state)
	fmt.Fprintf(w, "identities served\t%d\n", st.Services)
	fmt.Fprintf(w, "contact relations\t%d\n", st.Relations)
	fmt.Fprintf(w, "contact requests waiting\t%d\n", st.Intakes)
	fmt.Fprintf(w, "blobs waiting\t%d (%s of %s): %d for you, %d for your contacts\n", st.Items, fmtSize(st.Bytes),
		fmtSize(st.Config.QuotaBytes), st.ForOwners, st.ForContacts)
	if !st.OldestItemAt.IsZero() {
		fmt.Fprintf(w, "oldest blob\t%s ago (deleted at %s)\n", time.Since(st.OldestItemAt).Round(time.Minute), fmtAge(st.Config.MaxAge))
	}
	fmt.Fprintf(w, "pairing codes unused\t%d\n", st.Codes)
	return w.Flush()
}

// classifyMailbox gives the mailbox commands' errors their exit codes and
// hints; it runs before the messenger's own.
func (a *app) classifyMailbox(err error) (classified, bool) {
	if c, ok := a.classifyMailboxOwner(err); ok {
		return c, true
	}
	if errors.Is(err, mailbox.ErrBadCode) {
		return classified{exitBadCode, []string{"print a new one on the mailbox with 'sotto mailbox code' and copy it whole"}}, true
	}
	if errors.Is(err, mailbox.ErrDenied) {
		return classified{exitBadCode, []string{"a pairing code works once and for 24 hours: print a new one with 'sotto mailbox code'"}}, true
	}
	if !a.mailboxCmd {
		return classified{}, false
	}
	dir := a.mailboxDir()
	switch {
	case errors.Is(err, mailbox.ErrNoMailbox):
		return classified{exitNoProfile, []string{"run 'sotto mailbox init' on the mailbox's machine, or pass --profile DIR"}}, true
	case errors.Is(err, mailbox.ErrExists):
		return classified{exitProfileExists, []string{"pick another directory with --profile DIR; nothing was changed"}}, true
	case errors.Is(err, mailbox.ErrNotMailbox):
		return classified{exitNoProfile, []string{dir + " is a messenger profile: pass the mailbox's --profile DIR"}}, true
	case errors.Is(err, vault.ErrLocked):
		return classified{exitProfileInUse, []string{"the mailbox is running ('sotto mailbox serve'): 'sotto mailbox code' and 'status' talk to it; stop it for anything else"}}, true
	case errors.Is(err, vault.ErrWrongPassphrase):
		return classified{exitWrongPassphrase, []string{"the passphrase is case sensitive; nothing was changed"}}, true
	case errors.Is(err, mailbox.ErrBadCode):
		return classified{exitBadCode, []string{"print a new one on the mailbox with 'sotto mailbox code' and copy it whole"}}, true
	case errors.Is(err, mailbox.ErrTooManyCodes):
		return classified{exitFailure, nil}, true
	case errors.Is(err, mailbox.ErrDenied):
		return classified{exitBadCode, []string{"a pairing code works once and for 24 hours: print a new one with 'sotto mailbox code'"}}, true
	}
	return classified{}, false
}
