package main

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/headless"
	"github.com/sottochat/sotto/mailbox"
	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/strength"
	"github.com/sottochat/sotto/tui"
	"github.com/sottochat/sotto/vault"
)

var _ headless.Engine = (*sotto.Engine)(nil)

// profileDir is --profile, or the default under $XDG_DATA_HOME.
func (a *app) profileDir() string {
	if a.g.profile != "" {
		return a.g.profile
	}
	return sotto.DefaultProfileDir()
}

// options builds the engine options from the global flags. offline: the
// command manages the profile and needs no tor.
func (a *app) options(offline bool) sotto.Options {
	return sotto.Options{
		ProfileDir:  a.profileDir(),
		Network:     a.g.network,
		ExternalTor: a.g.tor.external(a.getenv),
		Offline:     offline,
		Debug:       a.g.debug,
		Log:         a.engineLog,
		Hardening:   a.hardening,
	}
}

// harden readies the process to hold secrets: no core dumps, locked memory,
// memory wiped on SIGINT/SIGTERM/SIGHUP. It also hands the external-tor
// flags to the engine, which reads the TOR_* variables.
func (a *app) harden() error {
	if a.g.amnesic && a.amnesic == nil {
		return usagef("use 'sotto --amnesic run' (the chat screen) or 'sotto --amnesic headless'; identities and contacts are made inside that session",
			"--amnesic keeps everything in one running Sotto: it works with run and headless only")
	}
	onSignal := a.onSignal
	// The handler exits with the signal's status (SIGTERM 143), wiping
	// first; vault.Harden's own exit, after it, would be 1. A hardening
	// failure is said every time, here and (through the engine's first
	// event) in the TUI's status line and headless output.
	err := vault.Harden(func(sig os.Signal) {
		if onSignal != nil {
			onSignal(sig)
		}
		vault.Exit(signalCode(sig))
	})
	if err != nil {
		a.hardening = err
		fmt.Fprintln(a.stderr, "sotto: warning:", err)
		fmt.Fprintln(a.stderr, "hint: Sotto carries on, but a crash dump or another program of this user may be able to read its memory")
	}
	// The engine reads the environment: put the flags there.
	for k, v := range a.g.tor.vars() {
		if v == "" {
			continue
		}
		if err := os.Setenv(k, v); err != nil {
			return err
		}
		if k == "TOR_CONTROL_IPC_PATH" {
			os.Unsetenv("TOR_CONTROL_SOCKET")
		}
	}
	return nil
}

// passphrase reads the passphrase from --passphrase-file or the terminal,
// never from the command line or the environment.
func (a *app) passphrase(prompt string) (*sotto.Passphrase, error) {
	if a.g.passphraseFile != "" {
		return sotto.PassphraseFromFile(a.g.passphraseFile)
	}
	if err := needTTY(); err != nil {
		return nil, err
	}
	return sotto.ReadPassphrase(prompt)
}

// needTTY fails with a hint when there is no terminal to ask on.
func needTTY() error {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return usagef("pass --passphrase-file FILE (mode 0600), or run sotto in a terminal", "no terminal to read the passphrase from")
	}
	tty.Close()
	return nil
}

// haveProfile fails with ErrNoProfile before any passphrase is asked for a
// profile that does not exist.
func (a *app) haveProfile() error {
	if _, err := os.Stat(filepath.Join(a.profileDir(), profileVault)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w (%s)", sotto.ErrNoProfile, a.profileDir())
	}
	return nil
}

// open unlocks the profile.
func (a *app) open(offline bool) (*sotto.Engine, error) {
	if err := a.harden(); err != nil {
		return nil, err
	}
	if err := a.haveProfile(); err != nil {
		return nil, err
	}
	p, err := a.passphrase("Passphrase for " + a.profileDir() + ": ")
	if err != nil {
		return nil, err
	}
	defer p.Destroy()
	return sotto.Open(a.ctx, a.options(offline), p)
}

// withEngine runs fn on an engine opened offline and closes it.
func (a *app) withEngine(fn func(e *sotto.Engine) error) error {
	return a.withEngineOnline(false, fn)
}

// withEngineOnline runs fn on an engine opened online (tor started) or
// offline, and closes it; Close's error is returned when fn's is nil.
func (a *app) withEngineOnline(online bool, fn func(e *sotto.Engine) error) (err error) {
	e, err := a.open(!online)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := e.Close(); err == nil {
			err = cerr
		}
	}()
	return fn(e)
}

func (a *app) doInit(weakOK bool) error {
	if err := a.harden(); err != nil {
		return err
	}
	var p *sotto.Passphrase
	if _, err := os.Stat(filepath.Join(a.profileDir(), profileVault)); err == nil {
		return sotto.ErrProfileExists // before asking for a passphrase
	}
	if a.g.passphraseFile != "" {
		var err error
		if p, err = sotto.PassphraseFromFile(a.g.passphraseFile); err != nil {
			return err
		}
	} else {
		if err := needTTY(); err != nil {
			return err
		}
		var err error
		if p, err = readNewPassphrase("New passphrase for "+a.profileDir()+": ", "The same passphrase again: "); err != nil {
			return err
		}
	}
	defer p.Destroy()
	if err := a.checkStrength(p, weakOK); err != nil {
		return err
	}
	if err := sotto.Init(a.ctx, a.options(true), p); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "created a profile in %s\nnext: sotto id new NAME\n", a.profileDir())
	return nil
}

// checkStrength estimates a new passphrase (package strength, as the chat
// screen does). Below the bar it goes on only when the person confirms on
// the terminal, or gave --weak-passphrase; a passphrase from a file with
// no such flag is refused, since no one is there to ask.
func (a *app) checkStrength(p *sotto.Passphrase, weakOK bool) error {
	e, err := p.Strength()
	if err != nil {
		return err
	}
	if e.Good() {
		return nil
	}
	why := fmt.Sprintf("this passphrase is %s: someone with a copy of the profile could guess it in %s", e.Level(), e.CrackTime())
	switch {
	case weakOK:
		fmt.Fprintf(a.stderr, "sotto: warning: %s (used anyway: --weak-passphrase)\n", why)
		return nil
	case a.g.passphraseFile != "":
		return usagef("choose a stronger one ("+strength.Advice+"), or add --weak-passphrase to use it anyway", "%s; nothing was created", why)
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return usagef("add --weak-passphrase to use it anyway", "%s; nothing was created", why)
	}
	fmt.Fprintf(tty, "%s.\nHint: %s.\n", why, strength.Advice)
	tty.Close()
	if err := a.confirm("Type 'weak' to use it anyway (anything else stops): ", "weak", "init --weak-passphrase"); err != nil {
		return errors.New("sotto: nothing was created: run sotto init again with a stronger passphrase")
	}
	return nil
}

// uiConfig is the chat screen's configuration from the flags and the
// environment (a flag wins).
func (a *app) uiConfig() (tui.Config, error) {
	var c tui.Config
	pick := func(flag, env string) string {
		if flag != "" {
			return flag
		}
		return a.getenv(env)
	}
	if k := pick(a.g.panicKey, "SOTTO_PANIC_KEY"); k != "" {
		v, err := tui.ParsePanicKey(k)
		if err != nil {
			return c, usagef("run 'sotto run --help' for the keys it can be", "%s", strings.TrimPrefix(err.Error(), "tui: "))
		}
		c.PanicKey = v
	}
	if w := pick(a.g.panicWord, "SOTTO_PANIC_WORD"); w != "" {
		v, err := tui.ParsePanicWord(w)
		if err != nil {
			return c, usagef("for example --panic-word gone", "%s", strings.TrimPrefix(err.Error(), "tui: "))
		}
		c.PanicWord = v
	}
	return c, nil
}

func (a *app) doRun() error {
	cfg, err := a.uiConfig()
	if err != nil {
		return err
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err != nil {
		return usagef("for scripts and services use 'sotto headless' (docs/headless.md)", "the chat screen needs a terminal")
	} else {
		tty.Close()
	}
	// A signal exits through memguard's handler, which wipes and exits at
	// once: hand the terminal back first.
	term := saveTerminal(os.Stdin, os.Stdout)
	a.onSignal = func(os.Signal) { term.restore() }
	if a.g.amnesic {
		s, err := a.startAmnesic()
		if err != nil {
			return err
		}
		a.amnesic = s
		defer s.remove()
		cfg.Label = amnesicLabel
		cfg.Amnesic = true
	}
	if err := a.harden(); err != nil {
		return err
	}
	return tui.Run(a.ctx, a.options(false), cfg)
}

func (a *app) doHeadless() (err error) {
	if a.g.debug {
		// stdout carries only JSON lines; the debug log goes to stderr.
		a.engineLog = a.stderr
	}
	var e *sotto.Engine
	var he headless.Engine
	if a.g.amnesic {
		s, serr := a.startAmnesic()
		if serr != nil {
			return serr
		}
		a.amnesic = s
		defer func() {
			if rerr := s.remove(); err == nil {
				err = rerr
			}
		}()
		e, err = a.openAmnesic()
		he = amnesicEngine{e}
	} else {
		e, err = a.open(false)
		he = e
	}
	if err != nil {
		return err
	}
	err = headless.Run(a.ctx, he, a.stdin, a.stdout)
	if cerr := e.Close(); err == nil {
		err = cerr
	}
	return err
}

// profileVault is where the core keeps a profile's vault (sotto's
// vaultSubdir); 'sotto check' reads it file by file.
const profileVault = "vault"

// doCheck reads every file of the profile's vault with the passphrase and
// reports damaged ones, without writing anything and without taking the
// profile's lock (it works beside a running sotto).
func (a *app) doCheck() error {
	if err := a.harden(); err != nil {
		return err
	}
	if err := a.haveProfile(); err != nil {
		return err
	}
	var p *vault.Passphrase
	var err error
	if a.g.passphraseFile != "" {
		p, err = vault.PassphraseFromFile(a.g.passphraseFile)
	} else if err = needTTY(); err == nil {
		p, err = vault.ReadPassphrase("Passphrase for " + a.profileDir() + ": ")
	}
	if err != nil {
		return err
	}
	defer p.Destroy()
	dir := filepath.Join(a.profileDir(), profileVault)
	rep, err := vault.Check(dir, p, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "profile %s: %d files, %d records, %d conversation logs with %d entries read back\n",
		a.profileDir(), rep.Files, rep.Records, rep.Logs, rep.Entries)
	if len(rep.Stray) > 0 {
		fmt.Fprintf(a.stdout, "%d stray files (left by a crash; the next start removes them)\n", len(rep.Stray))
	}
	if !rep.OK() {
		for _, d := range rep.Damaged {
			fmt.Fprintf(a.stdout, "damaged: %v\n", d)
		}
		return errDamaged
	}
	fmt.Fprintln(a.stdout, "ok")
	return nil
}

var errDamaged = errors.New("sotto: the profile has damaged files")

func (a *app) doPanic() error {
	dir := a.profileDir()
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w (%s): nothing was wiped", sotto.ErrNoProfile, dir)
	}
	if mailbox.IsMailbox(dir) && mailboxPanicRunning(dir) {
		fmt.Fprintln(a.stdout, "the running mailbox wiped its keys and stopped")
	}
	if err := sotto.Panic(dir); err != nil {
		return err
	}
	os.Remove(filepath.Join(dir, mailbox.ControlSocket))
	os.Remove(dir)
	fmt.Fprintf(a.stdout, "wiped %s\n", dir)
	return nil
}

func (a *app) idNew(name string, open bool) error {
	return a.withEngine(func(e *sotto.Engine) error {
		info, err := e.NewIdentity(a.ctx, name, sotto.IdentityOptions{Open: open})
		if err != nil {
			return err
		}
		mode := "restricted: only contacts can reach it"
		if info.Open {
			mode = "open: strangers with its code can send contact requests"
		}
		fmt.Fprintf(a.stdout, "created identity %s (%s)\nnext: sotto id card %s\n", info.Name, mode, info.Name)
		return nil
	})
}

func (a *app) idList() error {
	return a.withEngine(func(e *sotto.Engine) error {
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tMODE\tONION")
		for _, id := range e.Identities() {
			mode := "restricted"
			if id.Open {
				mode = "open"
			}
			if id.Ephemeral {
				mode += ",ephemeral"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", id.Name, mode, id.Onion)
		}
		return tw.Flush()
	})
}

func (a *app) idCard(name string, qr bool) error {
	return a.withEngine(func(e *sotto.Engine) error {
		code, err := e.Card(name)
		if err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, code)
		if qr {
			fmt.Fprintln(a.stdout)
			fmt.Fprint(a.stdout, sotto.QRCode(code))
		}
		return nil
	})
}

func (a *app) idBurn(name string) error {
	return a.withEngine(func(e *sotto.Engine) error {
		if err := e.BurnIdentity(a.ctx, name); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "burned identity %s\n", name)
		return nil
	})
}

// compactCode drops every white space character from a contact code: a
// code copied from a terminal, a mail or a chat comes wrapped over lines,
// indented, or in groups of five.
func compactCode(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// maxCodeInput bounds a contact code read from standard input.
const maxCodeInput = 4096

// readCode reads a contact code from standard input (contact add ... -),
// as pasted: over several lines, up to the end of input.
func (a *app) readCode() (string, error) {
	if f, ok := a.stdin.(*os.File); ok && isTerminal(f) {
		fmt.Fprintln(a.stderr, "Paste the code, then press enter and ctrl+d:")
	}
	b, err := io.ReadAll(io.LimitReader(a.stdin, maxCodeInput+1))
	if err != nil {
		return "", fmt.Errorf("sotto: reading the code from standard input: %w", err)
	}
	if len(b) > maxCodeInput {
		return "", usagef("paste only the code", "more than %d bytes on standard input: that is not one contact code", maxCodeInput)
	}
	return string(b), nil
}

func (a *app) contactAdd(id, pet string, codeArgs []string) error {
	raw := strings.Join(codeArgs, " ")
	if raw == "-" {
		var err error
		if raw, err = a.readCode(); err != nil {
			return err
		}
	}
	code := compactCode(raw)
	// A bad code is refused before the passphrase is asked for.
	if err := sotto.CheckCode(code); err != nil {
		return err
	}
	return a.withEngine(func(e *sotto.Engine) error {
		c, err := e.AddContact(a.ctx, id, pet, code)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "added %s to %s\nnext: make sure %s adds your code too (sotto id card %s), then compare the safety code: sotto contact verify %s %s\n",
			c.Name, id, c.Name, id, id, c.Name)
		return nil
	})
}

func (a *app) contactList(id string) error {
	return a.withEngine(func(e *sotto.Engine) error {
		var ids []string
		if id != "" {
			ids = []string{id}
		} else {
			for _, i := range e.Identities() {
				ids = append(ids, i.Name)
			}
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "IDENTITY\tCONTACT\tVERIFIED\tTIMER\tHISTORY\tUNREAD")
		for _, i := range ids {
			cs, err := e.Contacts(i)
			if err != nil {
				return err
			}
			for _, c := range cs {
				timer := "off"
				if c.Timer > 0 {
					timer = c.Timer.String()
				}
				hist := "kept"
				if !c.History {
					hist = "memory only"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", i, c.Name, yesNo(c.Verified), timer, hist, c.Unread)
			}
		}
		return tw.Flush()
	})
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (a *app) contactVerify(id, pet string, yes bool) error {
	return a.withEngine(func(e *sotto.Engine) error {
		code, err := e.SafetyCode(id, pet)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Safety code of you and %s. It is the same on both screens only if nobody\nsits between you; compare it in person or on a call you trust.\n\n%s\n", pet, groupLines(code, 6, "  "))
		if !yes {
			// As in the chat screen: the person types what the contact
			// reads out, so that "yes" by reflex verifies nothing.
			typed, err := a.ask("Type the code "+pet+" reads out to you (spaces do not matter): ", "contact verify "+id+" "+pet+" --yes")
			if err != nil {
				return err
			}
			if digits(typed) == "" {
				return errors.New("sotto: nothing typed; " + pet + " is not marked verified")
			}
			if subtle.ConstantTimeCompare([]byte(digits(typed)), []byte(digits(code))) != 1 {
				return &hintError{err: fmt.Errorf("sotto: the codes differ: %s is not marked verified; someone may sit between you", pet),
					hint: "compare again, group by group; if they still differ, exchange contact codes again, in person, and tell nobody anything sensitive meanwhile"}
			}
		}
		if err := e.Verify(id, pet); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "the codes match: %s is verified\n", pet)
		return nil
	})
}

func (a *app) contactRemove(id, pet string) error {
	return a.withEngine(func(e *sotto.Engine) error {
		if err := e.RemoveContact(a.ctx, id, pet); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "removed %s from %s\n", pet, id)
		return nil
	})
}

func (a *app) contactRequests(id string) error {
	return a.withEngine(func(e *sotto.Engine) error {
		rs, err := e.Requests(id)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REQUEST\tRECEIVED\tFIRST MESSAGE")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.ID, r.At.UTC().Format("2006-01-02 15:04"), quoteUntrusted(r.Text))
		}
		return tw.Flush()
	})
}

// quoteUntrusted makes a stranger's text safe for a terminal: Go quoting
// escapes every control, escape and non-printable character.
func quoteUntrusted(s string) string {
	q := fmt.Sprintf("%+q", s)
	if len(q) > 80 {
		q = q[:77] + "..."
	}
	return strings.TrimSpace(q)
}

func (a *app) contactAccept(id, req, pet string) error {
	return a.withEngine(func(e *sotto.Engine) error {
		if err := e.AcceptRequest(a.ctx, id, req, pet); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "accepted: %s is now a contact of %s\n", pet, id)
		return nil
	})
}

func (a *app) contactReject(id, req string) error {
	return a.withEngine(func(e *sotto.Engine) error {
		if err := e.RejectRequest(a.ctx, id, req); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "rejected request %s\n", req)
		return nil
	})
}

// classifyCore maps the engine's, the vault's and onion's sentinel errors to
// exit codes and hints.
func (a *app) classifyCore(err error) (classified, bool) {
	dir := a.profileDir()
	is := func(targets ...error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
	switch {
	case is(sotto.ErrWrongPassphrase, vault.ErrWrongPassphrase):
		return classified{exitWrongPassphrase, []string{"the passphrase is case sensitive; nothing was changed"}}, true
	case is(sotto.ErrNoProfile, vault.ErrNoVault):
		return classified{exitNoProfile, []string{"run 'sotto init' to create a profile in " + dir + ", or pass --profile DIR"}}, true
	case is(sotto.ErrProfileExists, vault.ErrExists):
		return classified{exitProfileExists, []string{"pick another directory with --profile DIR; nothing was changed"}}, true
	case is(sotto.ErrProfileInUse, vault.ErrLocked):
		return classified{exitProfileInUse, []string{"another sotto (run or headless) has " + dir + " open: close it first, or use another --profile"}}, true
	case is(sotto.ErrUnknownIdentity):
		return classified{exitNotFound, []string{"'sotto id list' shows your identities"}}, true
	case is(sotto.ErrUnknownContact):
		// A message that already asks "did you mean ...?" names the way out;
		// a second line pointing at the whole list only competes with it.
		if uc := (*sotto.UnknownContactError)(nil); errors.As(err, &uc) && uc.Suggestion != "" {
			return classified{exitNotFound, nil}, true
		}
		return classified{exitNotFound, []string{"'sotto contact list' shows your contacts"}}, true
	case is(sotto.ErrUnknownRequest):
		return classified{exitNotFound, []string{"'sotto contact requests IDENTITY' lists the requests waiting"}}, true
	case is(sotto.ErrBadCode):
		return classified{exitBadCode, []string{"ask for the code again: it was mistyped, cut short or is not a Sotto code"}}, true
	case is(sotto.ErrSelf):
		return classified{exitBadCode, []string{"give this code to your contact, and add theirs"}}, true
	case is(sotto.ErrIdentityExists):
		return classified{exitExists, []string{"'sotto id list' shows the names in use"}}, true
	case is(sotto.ErrContactExists):
		return classified{exitExists, []string{"'sotto contact list' shows the names in use; a contact can be added once"}}, true
	case is(sotto.ErrTooManyContacts):
		return classified{exitFailure, []string{"make another identity ('sotto id new NAME') for more contacts"}}, true
	case is(sotto.ErrBadName):
		return classified{exitUsage, []string{"use a short name of letters, digits, '-' and '_'"}}, true
	case is(sotto.ErrBadTimer):
		return classified{exitUsage, []string{"a timer is 0 (off) or from 30 seconds to 4 weeks"}}, true
	case is(sotto.ErrOffline):
		return classified{exitTor, []string{"this needs tor running: do it in 'sotto run' or 'sotto headless'"}}, true
	case is(onion.ErrTorUnavailable, onion.ErrTorTooOld):
		return classified{exitTor, []string{"is tor installed ('make deps')? or point to a running tor with --tor-skip-launch and --tor-control-port"}}, true
	case errors.Is(err, vault.ErrRolledBack):
		return classified{exitFailure, []string{
			"an older copy of the file named was put back in the profile (by someone with the disk, or a partial restore of a backup): messages or keys written since may be gone",
			"if you restored a backup, restore all of the profile directory, not single files; 'sotto check' lists every file concerned",
		}}, true
	case errors.Is(err, errDamaged):
		return classified{exitFailure, []string{"the files listed cannot be read: they were truncated or changed on disk; restore the profile from a backup if you have one"}}, true
	case errors.Is(err, errMismatch):
		return classified{exitUsage, []string{"run 'sotto init' again and type the same passphrase twice"}}, true
	}
	return classified{}, false
}

// digits keeps the letters and digits of a code, lower case: what two codes
// are compared on.
func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// groupLines writes the space-separated groups of a code n to a line, each
// line indented.
func groupLines(code string, n int, indent string) string {
	g := strings.Fields(code)
	var b strings.Builder
	for i := 0; i < len(g); i += n {
		b.WriteString(indent + strings.Join(g[i:min(i+n, len(g))], " ") + "\n")
	}
	return b.String()
}
