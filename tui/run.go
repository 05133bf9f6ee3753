package tui

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/sottochat/sotto"
)

var _ Engine = (*sotto.Engine)(nil)

// Run runs the UI for the profile o names: the create or unlock screen,
// then the app, until the person quits. cmd/sotto calls it for `sotto run`
// and plain `sotto`.
func Run(ctx context.Context, o sotto.Options, c Config) error {
	return RunProfile(ctx, &sottoProfile{o: o}, c)
}

// sottoProfile implements Profile with the root package.
type sottoProfile struct{ o sotto.Options }

func (p *sottoProfile) dir() string {
	if p.o.ProfileDir != "" {
		return p.o.ProfileDir
	}
	return sotto.DefaultProfileDir()
}

// Exists reports whether the profile directory holds anything. An empty or
// missing directory means a new profile; a directory with something else
// in it fails to open with sotto.ErrNoProfile, which leads back to the
// create screen.
func (p *sottoProfile) Exists() (bool, error) {
	entries, err := os.ReadDir(p.dir())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return len(entries) > 0, nil
}

func (p *sottoProfile) Init(ctx context.Context, pass []byte) error {
	pp := sotto.NewPassphrase(pass)
	defer pp.Destroy()
	return friendly(sotto.Init(ctx, p.o, pp))
}

func (p *sottoProfile) Open(ctx context.Context, pass []byte) (Engine, error) {
	pp := sotto.NewPassphrase(pass)
	defer pp.Destroy()
	e, err := sotto.Open(ctx, p.o, pp)
	if err != nil {
		return nil, friendly(err)
	}
	return e, nil
}

// friendly gives the errors a person meets on the first screens a message
// that says what to do.
func friendly(err error) error {
	switch {
	case errors.Is(err, sotto.ErrNoProfile):
		return fmt.Errorf("%w: %w", errNoProfile, err)
	case errors.Is(err, sotto.ErrWrongPassphrase):
		return errors.New("wrong passphrase: try again (nothing was changed)")
	case errors.Is(err, sotto.ErrProfileInUse):
		return errors.New("this profile is open in another Sotto: quit that one first")
	case errors.Is(err, sotto.ErrProfileExists):
		return errors.New("a profile exists here already: quit and start Sotto again to unlock it")
	}
	return err
}

func (p *sottoProfile) CheckPassphrase(e Engine, pass []byte) error {
	pp := sotto.NewPassphrase(pass)
	defer pp.Destroy()
	se, ok := e.(*sotto.Engine)
	if !ok {
		return errors.New("tui: not a sotto engine")
	}
	return friendly(se.CheckPassphrase(pp))
}

func (p *sottoProfile) NewIdentity(ctx context.Context, e Engine, name string, ephemeral, open bool) (sotto.IdentityInfo, error) {
	se, ok := e.(*sotto.Engine)
	if !ok {
		return sotto.IdentityInfo{}, errors.New("tui: not a sotto engine")
	}
	return se.NewIdentity(ctx, name, sotto.IdentityOptions{Ephemeral: ephemeral, Open: open})
}

// Panic wipes the profile's files first (the fast part), then the engine's
// memory.
func (p *sottoProfile) Panic(e Engine) error {
	err := sotto.Panic(p.dir())
	if e != nil {
		e.Close()
	}
	return err
}

func (p *sottoProfile) QRCode(text string) string   { return sotto.QRCode(text) }
func (p *sottoProfile) CheckCode(code string) error { return sotto.CheckCode(code) }
