package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Exit codes scripts can rely on; docs/cli.md lists them. Every error maps
// to one of these in exitCode and nowhere else.
const (
	exitOK              = 0   // success
	exitFailure         = 1   // any other failure
	exitUsage           = 2   // bad command line: unknown command or flag, wrong arguments
	exitWrongPassphrase = 3   // the passphrase does not open the profile; nothing changed
	exitNoProfile       = 4   // no profile in the directory (sotto init)
	exitProfileExists   = 5   // init: a profile is already there
	exitProfileInUse    = 6   // another sotto process has the profile open
	exitNotFound        = 7   // no such identity, contact or contact request
	exitBadCode         = 8   // a contact code is malformed
	exitExists          = 9   // an identity or contact with that name exists already
	exitTor             = 10  // tor could not be started, reached or used
	exitNotArrived      = 12  // send: the message is stored but did not arrive within --wait
	exitInterrupted     = 130 // interrupted: 128 + the signal's number (SIGINT 130, SIGTERM 143, SIGHUP 129)
)

// hintError is a failure (exit 1) that comes with what to do about it.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// classified is an error with its exit code and hint lines.
type classified struct {
	code  int
	hints []string
}

// report prints err (if any) with its hints on stderr and returns the exit
// code. Messages come from the packages' errors, which never hold secrets.
func (a *app) report(err error) int {
	if err == nil {
		return exitOK
	}
	c := a.classify(err)
	msg := err.Error()
	if !strings.HasPrefix(msg, "sotto") {
		msg = "sotto: " + msg
	}
	fmt.Fprintln(a.stderr, msg)
	for _, h := range c.hints {
		fmt.Fprintln(a.stderr, "hint:", h)
	}
	return c.code
}

func (a *app) classify(err error) classified {
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		var hints []string
		if ue.hint != "" {
			hints = append(hints, ue.hint)
		}
		return classified{exitUsage, hints}
	case errors.Is(err, context.Canceled):
		return classified{interruptCode(a.ctx), nil}
	}
	if c, ok := a.classifyFile(err); ok {
		return c
	}
	if na := (*notArrivedError)(nil); errors.As(err, &na) {
		return classified{exitNotArrived, []string{"'sotto send --wait 10m ...' waits longer; 'sotto' shows it as sent once it leaves"}}
	}
	if he := (*hintError)(nil); errors.As(err, &he) {
		return classified{exitFailure, []string{he.hint}}
	}
	if c, ok := a.classifyMailbox(err); ok {
		return c
	}
	if c, ok := a.classifyCore(err); ok {
		return c
	}
	if c, ok := a.classifyNet(err); ok {
		return c
	}
	return classified{exitFailure, nil}
}
