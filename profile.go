package sotto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/vault"
)

// Options say where the profile is and how to reach Tor.
type Options struct {
	ProfileDir  string   // default DefaultProfileDir() (under $XDG_DATA_HOME/sotto)
	Network     string   // path of a private network's torrc fragment (--network FILE)
	TorPath     string   // default "tor" on PATH
	Bridges     []string // bridge lines
	ExternalTor bool     // use TOR_* environment variables instead of launching tor
	Offline     bool     // do not start tor (management commands)
	Debug       bool
	// Log, when set, receives the engine's debug log: one line per
	// publication, connection attempt, handshake and session, naming
	// identities and contacts by their names only (never keys, addresses
	// beyond tor's 6-character abbreviation, or message text). sotto
	// headless --debug points it at stderr.
	Log io.Writer
	Now func() time.Time // nil = time.Now
	// Hardening is what vault.Harden could not do (nil if all went well).
	// Open reports it as the first event, an ErrorEvent wrapping
	// ErrHardening, so that every interface shows it.
	Hardening error

	// unsafeVaultWork, for this package's tests only, sets the vault's
	// scrypt work factor (see vault.Options.UnsafeWorkFactor).
	unsafeVaultWork int
	// timing, for this package's tests only, shortens the protocol timeouts.
	timing timing
	logf   func(string, ...any)
}

func (o *Options) dir() string {
	if o.ProfileDir != "" {
		return o.ProfileDir
	}
	return DefaultProfileDir()
}

func (o *Options) vaultOptions() *vault.Options {
	return &vault.Options{UnsafeWorkFactor: o.unsafeVaultWork}
}

// DefaultProfileDir is $XDG_DATA_HOME/sotto, or ~/.local/share/sotto.
func DefaultProfileDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "sotto")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return filepath.Join(".", "sotto-profile")
	}
	return filepath.Join(home, ".local", "share", "sotto")
}

// The profile directory holds the vault and, in launch mode, tor's data
// directory (tor never writes an onion key there: services are ephemeral).
const (
	vaultSubdir = "vault"
	torSubdir   = "tor"
)

// Passphrase is a passphrase held in locked memory (a vault.Passphrase).
type Passphrase struct {
	p   *vault.Passphrase
	err error
}

// NewPassphrase takes b into locked memory and wipes b.
func NewPassphrase(b []byte) *Passphrase {
	p, err := vault.NewPassphrase(b)
	return &Passphrase{p: p, err: err}
}

// ReadPassphrase reads a passphrase from /dev/tty without echo.
func ReadPassphrase(prompt string) (*Passphrase, error) {
	p, err := vault.ReadPassphrase(prompt)
	if err != nil {
		return nil, err
	}
	return &Passphrase{p: p}, nil
}

// ReadNewPassphrase asks for a new passphrase twice on /dev/tty without
// echo, each answer read straight into locked memory (within the vault's
// locked-memory budget), and returns it when both match
// (ErrPassphraseMismatch if not).
func ReadNewPassphrase(prompt, confirm string) (*Passphrase, error) {
	p, err := vault.ReadNewPassphrase(prompt, confirm)
	if errors.Is(err, vault.ErrPassphraseMismatch) {
		return nil, ErrPassphraseMismatch
	}
	if err != nil {
		return nil, err
	}
	return &Passphrase{p: p}, nil
}

// PassphraseFromFile reads a passphrase from the first line of a file.
func PassphraseFromFile(path string) (*Passphrase, error) {
	p, err := vault.PassphraseFromFile(path)
	if err != nil {
		return nil, err
	}
	return &Passphrase{p: p}, nil
}

// Destroy wipes the passphrase.
func (p *Passphrase) Destroy() {
	if p != nil && p.p != nil {
		p.p.Destroy()
	}
}

func (p *Passphrase) get() (*vault.Passphrase, error) {
	if p == nil {
		return nil, errors.New("sotto: no passphrase")
	}
	if p.err != nil {
		return nil, fmt.Errorf("sotto: %w", p.err)
	}
	return p.p, nil
}

func mapVaultErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, vault.ErrWrongPassphrase):
		return fmt.Errorf("%w (%w)", ErrWrongPassphrase, err)
	case errors.Is(err, vault.ErrNoVault):
		return fmt.Errorf("%w: run `sotto init` first (%w)", ErrNoProfile, err)
	case errors.Is(err, vault.ErrLocked):
		return fmt.Errorf("%w (%w)", ErrProfileInUse, err)
	case errors.Is(err, vault.ErrExists):
		return fmt.Errorf("%w (%w)", ErrProfileExists, err)
	}
	return err
}

// Init creates a profile: an empty vault under o.ProfileDir locked with p.
func Init(ctx context.Context, o Options, p *Passphrase) error {
	if ctx == nil {
		return ErrNilContext
	}
	pass, err := p.get()
	if err != nil {
		return err
	}
	dir := o.dir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sotto: creating the profile directory: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, vaultSubdir)); err == nil {
		return ErrProfileExists
	}
	v, err := vault.Create(filepath.Join(dir, vaultSubdir), pass, o.vaultOptions())
	if err != nil {
		return mapVaultErr(err)
	}
	return v.Close()
}

// Panic destroys the profile's keys and files as fast as possible; it does
// not need the passphrase. The caller then exits.
func Panic(profileDir string) error {
	if profileDir == "" {
		profileDir = DefaultProfileDir()
	}
	err := vault.Panic(filepath.Join(profileDir, vaultSubdir))
	// Only what Sotto put there: tor's state, then the directory if empty.
	if rerr := os.RemoveAll(filepath.Join(profileDir, torSubdir)); rerr != nil && err == nil {
		err = rerr
	}
	os.Remove(profileDir)
	vault.Purge()
	return err
}

// Open unlocks the profile and, unless o.Offline, starts tor and puts every
// identity online in the background (TorEvent and IdentityEvent report the
// progress).
func Open(ctx context.Context, o Options, p *Passphrase) (*Engine, error) {
	if ctx == nil {
		return nil, ErrNilContext
	}
	pass, err := p.get()
	if err != nil {
		return nil, err
	}
	dir := o.dir()
	if _, err := os.Stat(filepath.Join(dir, vaultSubdir)); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: run `sotto init` first", ErrNoProfile)
	}
	v, err := vault.Open(filepath.Join(dir, vaultSubdir), pass, o.vaultOptions())
	if err != nil {
		return nil, mapVaultErr(err)
	}
	cfg := engineConfig{
		disk:      &vaultStore{v: v},
		newSecret: func(b []byte) (secretBox, error) { return vault.NewSecret(b) },
		newLocked: func(n int) (lockedBuf, error) { return vault.NewLocked(n) },
		now:       o.Now,
		timing:    o.timing,
		logf:      o.logf,
	}
	if cfg.logf == nil && o.Log != nil {
		cfg.logf = writerLog(o.Log)
	}
	var t *onion.Tor
	ts := &torState{status: TorStatus{State: TorStarting}}
	if !o.Offline {
		tc := onion.Config{
			DataDir: filepath.Join(dir, torSubdir), TorPath: o.TorPath, Bridges: o.Bridges, Debug: o.Debug,
			Events: ts.onEvent,
		}
		if o.Network != "" {
			b, err := os.ReadFile(o.Network)
			if err != nil {
				v.Close()
				return nil, fmt.Errorf("sotto: reading the network file: %w", err)
			}
			tc.Network = string(b)
		}
		if o.ExternalTor {
			ext, err := onion.ExternalFromEnv(os.Getenv)
			if err != nil {
				v.Close()
				return nil, err
			}
			tc.External = ext
		}
		t, err = onion.Start(ctx, tc)
		if err != nil {
			v.Close()
			return nil, err
		}
		cfg.net = &onionNet{t: t}
		cfg.torStatus = ts.get
	}
	cfg.closeFn = func() error {
		var errs []error
		if t != nil {
			errs = append(errs, t.Close())
		}
		errs = append(errs, v.Close())
		return errors.Join(errs...)
	}
	cfg.pass = v.VerifyPassphrase
	cfg.hardening = o.Hardening
	e, err := newEngine(cfg)
	if err != nil {
		cfg.closeFn()
		return nil, err
	}
	ts.attach(e)
	if t != nil {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			if err := t.WaitReady(e.ctx); err != nil {
				if e.ctx.Err() == nil {
					e.ev.emit(ErrorEvent{Err: fmt.Errorf("sotto: tor: %w", err)})
				}
				return
			}
			e.start()
		}()
	}
	return e, nil
}

// CheckPassphrase reports whether p is the profile's passphrase (the UI's
// lock screen); ErrWrongPassphrase if not.
func (e *Engine) CheckPassphrase(p *Passphrase) error {
	pass, err := p.get()
	if err != nil {
		return err
	}
	if e.cfg.pass == nil {
		return errors.New("sotto: this engine has no passphrase")
	}
	return mapVaultErr(e.cfg.pass(pass))
}

// torState turns onion's events into TorStatus and TorEvents.
type torState struct {
	mu     sync.Mutex
	status TorStatus
	e      *Engine
	early  []Event
}

func (s *torState) get() TorStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

func (s *torState) attach(e *Engine) {
	s.mu.Lock()
	s.e = e
	early := s.early
	s.early = nil
	s.mu.Unlock()
	for _, ev := range early {
		e.ev.emit(ev)
	}
}

func (s *torState) onEvent(ev onion.Event) {
	s.mu.Lock()
	var out Event
	var again string // why every contact is dialled again after out; "": not
	switch ev.Kind {
	case onion.Bootstrap:
		// tor reports some phases again on the way (it connects to another
		// relay after "done connecting"): shown progress never goes back
		// within one bootstrap (a restart starts one again at 0).
		if s.status.State != TorBootstrapping || ev.Progress >= s.status.Percent {
			s.status = TorStatus{State: TorBootstrapping, Percent: ev.Progress, Summary: ev.Summary}
			out = TorEvent{Status: s.status}
		}
	case onion.Ready:
		s.status = TorStatus{State: TorReady, Percent: 100, Summary: "done"}
		out = TorEvent{Status: s.status}
		// Ready again after a restart: dial every contact. (The first
		// Ready comes as the engine starts, which dials them all anyway:
		// reachableAgain ignores it before the start and, through
		// WakeAllGap, just after.)
		again = "tor is ready again"
	case onion.NetworkUp:
		// tor builds circuits again after it could not (see onion).
		again = "tor has circuits again"
	case onion.Died:
		msg := "tor stopped"
		if ev.Err != nil {
			msg = ev.Err.Error()
		}
		s.status = TorStatus{State: TorDown, Percent: s.status.Percent, Err: msg}
		out = TorEvent{Status: s.status}
	case onion.Restarted:
		s.status = TorStatus{State: TorBootstrapping, Percent: 0, Summary: "restarted"}
		out = TorEvent{Status: s.status}
	case onion.ServiceOnline, onion.ServiceOffline:
		e := s.e
		s.mu.Unlock()
		if e != nil {
			e.serviceEvent(ev.Service, ev.Kind == onion.ServiceOnline)
		}
		return
	case onion.ClientAuthShared:
		if e := s.e; e != nil {
			s.mu.Unlock()
			e.clientAuthShared(ev.Onion)
			return
		}
		out = ErrorEvent{Err: clientAuthSharedError(onion.Abbrev(ev.Onion))}
	}
	e := s.e
	if out != nil && e == nil {
		s.early = append(s.early, out)
	}
	s.mu.Unlock()
	if out != nil && e != nil {
		e.ev.emit(out)
	}
	if again != "" && e != nil {
		e.reachableAgain(again)
	}
}

// onionNet is the engine's network on package onion.
type onionNet struct{ t *onion.Tor }

func (n *onionNet) Publish(ctx context.Context, keys func(use func(seed *[32]byte) error) error, clientAuth [][32]byte, open bool) (service, error) {
	s, err := n.t.Publish(ctx, onion.ServiceConfig{Key: keys, ClientAuth: clientAuth, Open: open, PoW: open})
	if err != nil {
		return nil, err
	}
	return s, nil
}
func (n *onionNet) Authorize(ctx context.Context, to string, priv func(use func(priv *[32]byte) error) error) error {
	return n.t.AddClientAuth(ctx, to, priv)
}
func (n *onionNet) Deauthorize(ctx context.Context, to string) error {
	return n.t.RemoveClientAuth(ctx, to)
}
func (n *onionNet) Dial(ctx context.Context, from, to string) (net.Conn, error) {
	// The dialer retries a missing descriptor itself (dialgate.go).
	return n.t.DialWith(ctx, from, to, onion.DialOptions{NoDescRetry: true})
}

// writerLog turns w into the engine's logf: one timestamped line per call,
// written whole (lines from concurrent goroutines never interleave). Write
// errors are ignored: a debug log must never stop the engine.
func writerLog(w io.Writer) func(string, ...any) {
	var mu sync.Mutex
	return func(format string, args ...any) {
		line := time.Now().UTC().Format("15:04:05.000") + " sotto: " + fmt.Sprintf(format, args...)
		if !strings.HasSuffix(line, "\n") {
			line += "\n"
		}
		mu.Lock()
		defer mu.Unlock()
		_, _ = io.WriteString(w, line)
	}
}
