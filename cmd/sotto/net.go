package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/sottochat/sotto/onion/testnet"
)

func (a *app) netUp(dir, listen string) error {
	logf := func(string, ...any) {}
	if a.g.debug {
		logf = func(format string, args ...any) { fmt.Fprintf(a.stderr, "net: "+format+"\n", args...) }
	}
	if err := testnet.Up(a.ctx, dir, testnet.Options{Listen: listen, Logf: logf}); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "network up in %s\nclients join with: sotto --network %s run\nstop it with: sotto net down %s\n",
		dir, filepath.Join(dir, "network.torrc"), dir)
	return nil
}

func (a *app) netDown(dir string) error {
	if err := testnet.Down(a.ctx, dir); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "network in %s stopped\n", dir)
	return nil
}

// classifyNet gives the private network's errors their hints.
func (a *app) classifyNet(err error) (classified, bool) {
	switch {
	case errors.Is(err, testnet.ErrRunning):
		return classified{exitFailure, []string{"a network is already running (or starting) there: stop it with 'sotto net down DIR', or pick another DIR; the running one was left alone"}}, true
	case errors.Is(err, testnet.ErrNotRunning):
		return classified{exitFailure, []string{"no network of 'sotto net up' is running in that DIR"}}, true
	}
	return classified{}, false
}
