package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// This file parses each command's arguments; the actions that need the
// engine or the network live in engine.go and net.go.

func (a *app) cmdInit(args []string) error {
	var weakOK bool
	if _, done, err := a.simple("init", initUsage, args, 0, 0, "no arguments", func(fs *flag.FlagSet) {
		fs.BoolVar(&weakOK, "weak-passphrase", false, "")
	}); done || err != nil {
		return err
	}
	return a.doInit(weakOK)
}

func (a *app) cmdRun(args []string) error {
	if _, done, err := a.simple("run", runUsage, args, 0, 0, "no arguments", nil); done || err != nil {
		return err
	}
	return a.doRun()
}

func (a *app) cmdHeadless(args []string) error {
	if _, done, err := a.simple("headless", headlessUsage, args, 0, 0, "no arguments", nil); done || err != nil {
		return err
	}
	return a.doHeadless()
}

func (a *app) cmdCheck(args []string) error {
	if _, done, err := a.simple("check", checkUsage, args, 0, 0, "no arguments", nil); done || err != nil {
		return err
	}
	return a.doCheck()
}

func (a *app) cmdPanic(args []string) error {
	var yes bool
	_, done, err := a.simple("panic", panicUsage, args, 0, 0, "no arguments", func(fs *flag.FlagSet) {
		fs.BoolVar(&yes, "yes", false, "")
		fs.BoolVar(&yes, "y", false, "")
	})
	if done || err != nil {
		return err
	}
	if !yes {
		if err := a.confirm("Wipe the profile for good? Type 'wipe' to confirm: ", "wipe", "panic --yes"); err != nil {
			return err
		}
	}
	return a.doPanic()
}

// sub splits "id new NAME" style arguments: the sub-command, then the rest.
// It handles --help before and after the sub-command.
func (a *app) sub(name, text string, args []string) (string, []string, bool, error) {
	if len(args) == 0 {
		return "", nil, false, usagef("run 'sotto "+name+" --help' for its sub-commands", "%s needs a sub-command", name)
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		return "", nil, true, a.help(text)
	}
	if strings.HasPrefix(args[0], "-") {
		// Global flags between the command and its sub-command.
		fs := newFlagSet(name, &a.g)
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return "", nil, true, a.help(text)
			}
			return "", nil, false, usagef("run 'sotto "+name+" --help' for its flags", "%s: %v", name, err)
		}
		return a.sub(name, text, fs.Args())
	}
	return args[0], args[1:], false, nil
}

func (a *app) cmdID(args []string) error {
	sub, rest, done, err := a.sub("id", idUsage, args)
	if done || err != nil {
		return err
	}
	var open, ephemeral, noQR, yes bool
	pos, done, err := a.simple("id "+sub, idUsage, rest, 0, 3, "", func(fs *flag.FlagSet) {
		switch sub {
		case "new":
			fs.BoolVar(&open, "open", false, "")
			fs.BoolVar(&ephemeral, "ephemeral", false, "")
		case "card":
			fs.BoolVar(&noQR, "no-qr", false, "")
		case "burn":
			fs.BoolVar(&yes, "yes", false, "")
			fs.BoolVar(&yes, "y", false, "")
		}
	})
	if done || err != nil {
		return err
	}
	switch sub {
	case "new":
		if err := nargs("id new", pos, 1, 1, "one NAME"); err != nil {
			return err
		}
		if ephemeral {
			return usagef(`create it in 'sotto run', or in 'sotto headless' with {"cmd":"new_identity","identity":"`+clip(pos[0])+`","ephemeral":true}`,
				"an ephemeral identity lives in memory only and would die with this command")
		}
		return a.idNew(pos[0], open)
	case "list", "ls":
		if err := nargs("id list", pos, 0, 0, "no arguments"); err != nil {
			return err
		}
		return a.idList()
	case "card":
		if err := nargs("id card", pos, 1, 1, "one NAME"); err != nil {
			return err
		}
		return a.idCard(pos[0], !noQR)
	case "burn":
		if err := nargs("id burn", pos, 1, 1, "one NAME"); err != nil {
			return err
		}
		if !yes {
			if err := a.confirm(fmt.Sprintf("Destroy identity %q with its keys, contacts and conversations? Type its name to confirm: ", pos[0]), pos[0], "id burn NAME --yes"); err != nil {
				return err
			}
		}
		return a.idBurn(pos[0])
	default:
		return usagef("the id sub-commands are new, list, card, burn", "unknown sub-command %q", "id "+clip(sub))
	}
}

func (a *app) cmdContact(args []string) error {
	sub, rest, done, err := a.sub("contact", contactUsage, args)
	if done || err != nil {
		return err
	}
	var yes bool
	pos, done, err := a.simple("contact "+sub, contactUsage, rest, 0, 64, "", func(fs *flag.FlagSet) {
		if sub == "verify" {
			fs.BoolVar(&yes, "yes", false, "")
			fs.BoolVar(&yes, "y", false, "")
		}
	})
	if done || err != nil {
		return err
	}
	switch sub {
	case "add":
		// The code may come in several arguments (groups of five, a line
		// wrapped in the copy) or, as -, on standard input.
		if err := nargs("contact add", pos, 3, 64, "IDENTITY PETNAME CODE"); err != nil {
			return err
		}
		return a.contactAdd(pos[0], pos[1], pos[2:])
	case "list", "ls":
		if err := nargs("contact list", pos, 0, 1, "an optional IDENTITY"); err != nil {
			return err
		}
		id := ""
		if len(pos) == 1 {
			id = pos[0]
		}
		return a.contactList(id)
	case "verify":
		if err := nargs("contact verify", pos, 2, 2, "IDENTITY PETNAME"); err != nil {
			return err
		}
		return a.contactVerify(pos[0], pos[1], yes)
	case "remove", "rm":
		if err := nargs("contact remove", pos, 2, 2, "IDENTITY PETNAME"); err != nil {
			return err
		}
		return a.contactRemove(pos[0], pos[1])
	case "requests":
		if err := nargs("contact requests", pos, 1, 1, "one IDENTITY"); err != nil {
			return err
		}
		return a.contactRequests(pos[0])
	case "accept":
		if err := nargs("contact accept", pos, 3, 3, "IDENTITY REQUEST PETNAME"); err != nil {
			return err
		}
		return a.contactAccept(pos[0], pos[1], pos[2])
	case "reject":
		if err := nargs("contact reject", pos, 2, 2, "IDENTITY REQUEST"); err != nil {
			return err
		}
		return a.contactReject(pos[0], pos[1])
	default:
		return usagef("the contact sub-commands are add, list, verify, remove, requests, accept, reject", "unknown sub-command %q", "contact "+clip(sub))
	}
}

func (a *app) cmdNet(args []string) error {
	sub, rest, done, err := a.sub("net", netUsage, args)
	if done || err != nil {
		return err
	}
	var listen string
	pos, done, err := a.simple("net "+sub, netUsage, rest, 1, 1, "one DIR", func(fs *flag.FlagSet) {
		if sub == "up" {
			fs.StringVar(&listen, "listen", "", "")
		}
	})
	if done || err != nil {
		return err
	}
	switch sub {
	case "up":
		return a.netUp(pos[0], listen)
	case "down":
		return a.netDown(pos[0])
	default:
		return usagef("the net sub-commands are up and down", "unknown sub-command %q", "net "+clip(sub))
	}
}

// confirm asks on the terminal (never on stdin, which may be a script) and
// succeeds only when the answer is want. Without a terminal it says which
// flag skips the question.
func (a *app) confirm(prompt, want, flagHint string) error {
	line, err := a.ask(prompt, flagHint)
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != want {
		return errors.New("sotto: not confirmed; nothing was changed")
	}
	return nil
}

// ask asks on the terminal and returns the line typed (up to 1 KiB).
// Without a terminal it says which flag does without the question.
func (a *app) ask(prompt, flagHint string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", usagef("run 'sotto "+flagHint+"' to go on without a terminal", "no terminal to ask on")
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	line, err := bufio.NewReader(io.LimitReader(tty, 1024)).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("sotto: no answer; nothing was changed")
	}
	return line, nil
}
