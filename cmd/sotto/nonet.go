//go:build !sottonet

package main

import "errors"

// Until onion/testnet is merged, 'sotto net' says so.
var errNoNet = errors.New("sotto: this build has no private-network support yet")

func (a *app) netUp(dir, listen string) error { return errNoNet }
func (a *app) netDown(dir string) error       { return errNoNet }

func (a *app) classifyNet(err error) (classified, bool) { return classified{}, false }
