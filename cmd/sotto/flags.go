package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/sottochat/sotto/onion"
)

// globals are the flags every command accepts, before or after its name.
type globals struct {
	profile        string
	passphraseFile string
	network        string
	debug          bool
	amnesic        bool
	tor            torFlags
	// The chat screen's panic wipe: its key and its word (env
	// SOTTO_PANIC_KEY, SOTTO_PANIC_WORD).
	panicKey, panicWord string
}

// torFlags select a running tor instead of launching one. Each has the
// meaning of the environment variable named beside it; a flag wins over the
// variable.
type torFlags struct {
	skipLaunch    bool   // TOR_SKIP_LAUNCH
	controlHost   string // TOR_CONTROL_HOST
	controlPort   string // TOR_CONTROL_PORT
	controlSocket string // TOR_CONTROL_IPC_PATH (or its older name TOR_CONTROL_SOCKET)
	socksHost     string // TOR_SOCKS_HOST
	socksPort     string // TOR_SOCKS_PORT
	serviceListen string // SOTTO_SERVICE_LISTEN
}

// vars are the environment variables the flags stand for, with the flag's
// value ("" when not given).
func (t torFlags) vars() map[string]string {
	m := map[string]string{
		"TOR_CONTROL_HOST":     t.controlHost,
		"TOR_CONTROL_PORT":     t.controlPort,
		"TOR_CONTROL_IPC_PATH": t.controlSocket,
		"TOR_SOCKS_HOST":       t.socksHost,
		"TOR_SOCKS_PORT":       t.socksPort,
		"SOTTO_SERVICE_LISTEN": t.serviceListen,
	}
	if t.skipLaunch {
		m["TOR_SKIP_LAUNCH"] = "1"
	}
	return m
}

// env returns a getenv that answers the variables from the flags when they
// are set, and from getenv otherwise. --tor-control-socket also hides
// TOR_CONTROL_SOCKET, the older name of the same setting.
func (t torFlags) env(getenv func(string) string) func(string) string {
	set := t.vars()
	return func(k string) string {
		if v := set[k]; v != "" {
			return v
		}
		if k == "TOR_CONTROL_SOCKET" && t.controlSocket != "" {
			return ""
		}
		return getenv(k)
	}
}

// external reports whether a running tor is to be used, by flag or by
// TOR_SKIP_LAUNCH (onion.SkipLaunch: 1 or true). A value SkipLaunch does
// not know counts as yes, so that opening the profile reports it.
func (t torFlags) external(getenv func(string) string) bool {
	skip, err := onion.SkipLaunch(t.env(getenv))
	return skip || err != nil
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.profile, "profile", g.profile, "profile directory")
	fs.StringVar(&g.passphraseFile, "passphrase-file", g.passphraseFile, "read the passphrase from this file")
	fs.StringVar(&g.network, "network", g.network, "private network torrc fragment")
	fs.BoolVar(&g.debug, "debug", g.debug, "more detail in errors")
	fs.BoolVar(&g.amnesic, "amnesic", g.amnesic, "keep the whole session in memory (run, headless)")
	fs.BoolVar(&g.tor.skipLaunch, "tor-skip-launch", g.tor.skipLaunch, "use a running tor")
	fs.StringVar(&g.tor.controlHost, "tor-control-host", g.tor.controlHost, "tor control host")
	fs.StringVar(&g.tor.controlPort, "tor-control-port", g.tor.controlPort, "tor control port")
	fs.StringVar(&g.tor.controlSocket, "tor-control-socket", g.tor.controlSocket, "tor control socket")
	fs.StringVar(&g.tor.socksHost, "tor-socks-host", g.tor.socksHost, "tor SOCKS host")
	fs.StringVar(&g.tor.socksPort, "tor-socks-port", g.tor.socksPort, "tor SOCKS port")
	fs.StringVar(&g.tor.serviceListen, "service-listen", g.tor.serviceListen, "where onion services listen with a running tor")
	fs.StringVar(&g.panicKey, "panic-key", g.panicKey, "the chat screen's panic key")
	fs.StringVar(&g.panicWord, "panic-word", g.panicWord, "the word that completes the panic wipe")
}

// usageError is a mistake in the command line: exit code 2, with a hint.
type usageError struct {
	msg  string
	hint string
}

func (e *usageError) Error() string { return e.msg }

func usagef(hint, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), hint: hint}
}

// errHelp asks for the usage text on stdout and exit code 0.
var errHelp = errors.New("help requested")

// newFlagSet returns a flag set for one command with the global flags on it.
func newFlagSet(name string, g *globals) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	g.register(fs)
	return fs
}

// parse parses flags anywhere among the arguments (the stdlib stops at the
// first non-flag) and returns the positional arguments. Everything after
// "--" is positional.
func parse(fs *flag.FlagSet, cmd string, args []string) ([]string, error) {
	var rest []string
	for i, a := range args {
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			args = args[:i]
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, usagef("run 'sotto "+cmd+" --help' for its flags", "%s: %v", cmd, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return append(pos, rest...), nil
}

// nargs checks the number of positional arguments.
func nargs(cmd string, pos []string, min, max int, what string) error {
	if len(pos) < min || len(pos) > max {
		return usagef("run 'sotto "+cmd+" --help' for examples", "%s takes %s (got %d argument%s)", cmd, what, len(pos), plural(len(pos)))
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
