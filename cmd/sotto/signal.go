package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Exit status of a process ended by a signal: 128 plus the signal's number,
// as shells and service managers report it (SIGINT 130, SIGTERM 143, SIGHUP
// 129). Sotto exits with it whether the signal arrives before the profile
// is opened (the command's context is cancelled) or after (vault.Harden's
// handler wipes and exits at once).
func signalCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitInterrupted
}

// interrupted is the cause of a command's context cancelled by a signal.
type interrupted struct{ sig os.Signal }

func (i *interrupted) Error() string { return "interrupted by " + i.sig.String() }

// signalContext is signal.NotifyContext for SIGINT and SIGTERM that
// records which signal ended it, as the context's cause.
func signalContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			cancel(&interrupted{sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(context.Canceled)
	}
}

// interruptCode is the exit code for a command that ended because ctx was
// cancelled: the signal's, or 130 when the cause is unknown.
func interruptCode(ctx context.Context) int {
	if ctx != nil {
		if i, ok := context.Cause(ctx).(*interrupted); ok {
			return signalCode(i.sig)
		}
	}
	return exitInterrupted
}
