// Command sotto is a terminal messenger that talks only over Tor v3 onion
// services. See README.md for a quick start, docs/cli.md for the commands and
// exit codes, and docs/headless.md for the JSON-lines mode.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/sottochat/sotto/internal/erase"
	"github.com/sottochat/sotto/threatmodel"
)

func main() {
	ctx, stop := signalContext(context.Background())
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// app is one invocation: the global flags and where its I/O goes.
type app struct {
	ctx    context.Context
	g      globals
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// onSignal runs when SIGINT, SIGTERM or SIGHUP arrives, before the
	// secrets are wiped and the process exits (vault.Harden).
	onSignal func(os.Signal)
	// engineLog receives the engine's debug log (headless --debug).
	engineLog io.Writer
	// mailboxCmd: a 'sotto mailbox' command runs (its errors get the
	// mailbox's hints, mailbox.go).
	mailboxCmd bool
	// hardening is what vault.Harden could not do (engine.go).
	hardening error
	// amnesic is the session directory of 'sotto --amnesic run|headless'
	// (amnesic.go); nil otherwise.
	amnesic *amnesicSession
}

// run executes one command line and returns the process exit code. All the
// mapping from errors to exit codes and hints happens here, in report.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) (code int) {
	a := &app{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	defer func() {
		// A panic is a bug, never the user's fault: say so without a stack
		// trace (unless --debug), and exit with the failure code.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "sotto: internal error: %v\nhint: this is a bug in sotto; please report it with the command you ran (without secrets)\n", r)
			if a.g.debug {
				stderr.Write(debug.Stack())
			}
			code = exitFailure
		}
	}()
	return a.report(a.dispatch(args))
}

// dispatch parses the global flags up to the command name and runs it.
func (a *app) dispatch(args []string) error {
	fs := newFlagSet("sotto", &a.g)
	showVersion := fs.Bool("version", false, "print the version")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return a.help(usage)
		}
		return usagef("run 'sotto --help' for the global flags and commands", "%v", err)
	}
	args = fs.Args()
	if *showVersion {
		return a.cmdVersion(args)
	}
	if len(args) == 0 {
		return a.cmdRun(nil)
	}
	cmd, rest := args[0], args[1:]
	if (a.g.amnesic || amnesicIn(rest)) && cmd != "run" && cmd != "headless" && cmd != "help" && cmd != "version" && cmd != "--version" {
		return usagef("use 'sotto --amnesic run' (the chat screen) or 'sotto --amnesic headless'; identities and contacts are made inside that session",
			"--amnesic keeps everything in one running Sotto: it works with run and headless only, not %s", clip(cmd))
	}
	switch cmd {
	case "init":
		return a.cmdInit(rest)
	case "run":
		return a.cmdRun(rest)
	case "id":
		return a.cmdID(rest)
	case "contact", "contacts":
		return a.cmdContact(rest)
	case "headless":
		return a.cmdHeadless(rest)
	case "send":
		return a.cmdSend(rest)
	case "file", "files":
		return a.cmdFile(rest)
	case "net":
		return a.cmdNet(rest)
	case "check":
		return a.cmdCheck(rest)
	case "panic":
		return a.cmdPanic(rest)
	case "mailbox":
		return a.cmdMailbox(rest)
	case "version":
		return a.cmdVersion(rest)
	case "threatmodel":
		return a.cmdThreatmodel(rest)
	case "help":
		if len(rest) == 1 {
			return a.dispatch([]string{rest[0], "--help"})
		}
		return a.help(usage)
	default:
		return usagef("run 'sotto --help' for the list of commands", "unknown command %q", clip(cmd))
	}
}

// help prints a usage text on stdout: asked-for help is not an error.
func (a *app) help(text string) error {
	fmt.Fprint(a.stdout, text)
	return nil
}

// simple runs a command that takes no sub-command: it parses flags and
// positional arguments, handling --help.
func (a *app) simple(name, text string, args []string, min, max int, what string, setup func(*flag.FlagSet)) ([]string, bool, error) {
	fs := newFlagSet(name, &a.g)
	if setup != nil {
		setup(fs)
	}
	pos, err := parse(fs, name, args)
	if errors.Is(err, errHelp) {
		return nil, true, a.help(text)
	}
	if err != nil {
		return nil, false, err
	}
	if err := nargs(name, pos, min, max, what); err != nil {
		return nil, false, err
	}
	return pos, false, nil
}

func (a *app) cmdVersion(args []string) error {
	if _, done, err := a.simple("version", versionUsage, args, 0, 0, "no arguments", nil); done || err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "sotto", version())
	fmt.Fprintf(a.stdout, "built with %s for %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintln(a.stdout, "memory erasure:", memoryErasure())
	return nil
}

// memoryErasure says whether this build zeroes the memory that held keys
// and texts once freed (internal/erase, SECURITY.md).
func memoryErasure() string {
	switch {
	case erase.Enabled:
		return "on (runtime/secret)"
	case runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64"):
		return "off: runtime/secret exists only on linux/amd64 and linux/arm64 (see SECURITY.md)"
	}
	return "off: built without GOEXPERIMENT=runtimesecret (build with make, see SECURITY.md)"
}

func (a *app) cmdThreatmodel(args []string) error {
	if _, done, err := a.simple("threatmodel", threatmodelUsage, args, 0, 0, "no arguments", nil); done || err != nil {
		return err
	}
	fmt.Fprint(a.stdout, threatmodel.Text())
	return nil
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// clip shortens a user-typed string echoed in an error.
func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
