// Command sotto is a terminal messenger that talks only over Tor v3 onion
// services. See README.md for a quick start.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

const usage = `Usage: sotto <command> [arguments]

Commands:
  version      print the version

Run 'sotto <command> --help' for the options of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version", "--version":
		fmt.Fprintln(stdout, "sotto", version())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "sotto: unknown command %q\nhint: run 'sotto help' for the list of commands\n", args[0])
		return 2
	}
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
