package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/sottochat/sotto"
)

// sotto file: send and receive files (docs/cli.md, "Files"). Every sub-command
// works on the profile offline: a file sent here is stored in the vault and
// moves when 'sotto' or 'sotto headless' runs.

// exitMetadata: the file's metadata cannot be removed and --keep-metadata
// was not given.
const exitMetadata = 11

const fileUsage = `Usage: sotto file send IDENTITY CONTACT PATH [--name NAME] [--keep-metadata]
       sotto file list IDENTITY CONTACT
       sotto file accept FILE
       sotto file reject FILE
       sotto file cancel FILE
       sotto file save FILE PATH [--force]
       sotto file limits [--max SIZE] [--auto-accept SIZE]

  send     remove the file's metadata (GPS and camera serials in photos, the author
           of a PDF...), store it in the vault and offer it to CONTACT; it moves
           whenever both of you are online, and continues where it stopped.
           --name NAME is the name CONTACT sees (default: the file's own name).
           --keep-metadata sends the file unchanged, metadata and all: needed for a
           file whose metadata Sotto cannot remove (it says so, and why)
  list     the files of a conversation with their state and SHA-256
  accept   accept a file CONTACT offered (FILE is its id, from 'list')
  reject   refuse a file offered, or stop receiving it
  cancel   stop sending a file
  save     write a received file, in the clear, to PATH (a file, or a directory to
           put it in under its name); never overwrites unless --force. Sotto never
           opens or runs what it saves
  limits   show or set the largest file sent or accepted (--max, default 2G) and the
           size under which offers are accepted without asking (--auto-accept,
           default 0: always ask). SIZE is bytes, or a number with K, M or G

Examples:
  sotto file send work alice ~/photo.jpg
  sotto file send work alice ~/scan.pdf --name document.pdf
  sotto file list work alice
  sotto file accept 5d2c0a1e9f3b4c7d8e6f0a1b2c3d4e5f
  sotto file save 5d2c0a1e9f3b4c7d8e6f0a1b2c3d4e5f ~/Downloads/
  sotto file limits --max 4G --auto-accept 1M

hint: photos (JPEG, PNG, WebP) are cleaned by Sotto itself; PDF, office documents,
hint: audio and video need mat2 (Debian: apt install mat2).
`

// pathArgs checks the n arguments of a file command whose last one is a
// path: more of them is most likely a path with spaces that the shell
// split, so the hint says to quote it (example).
func pathArgs(cmd string, pos []string, n int, what, example string) error {
	if len(pos) > n {
		return usagef("put a path with spaces in quotes: "+example, "%s takes %s (got %d arguments)", cmd, what, len(pos))
	}
	return nargs(cmd, pos, n, n, what)
}

func (a *app) cmdFile(args []string) error {
	sub, rest, done, err := a.sub("file", fileUsage, args)
	if done || err != nil {
		return err
	}
	var name, maxS, autoS string
	var keep, force bool
	// Each sub-command checks its own arguments (below).
	pos, done, err := a.simple("file "+sub, fileUsage, rest, 0, math.MaxInt, "", func(fs *flag.FlagSet) {
		switch sub {
		case "send":
			fs.StringVar(&name, "name", "", "")
			fs.BoolVar(&keep, "keep-metadata", false, "")
		case "save":
			fs.BoolVar(&force, "force", false, "")
		case "limits":
			fs.StringVar(&maxS, "max", "", "")
			fs.StringVar(&autoS, "auto-accept", "", "")
		}
	})
	if done || err != nil {
		return err
	}
	fileID := func(s string) (sotto.MessageID, error) {
		var id sotto.MessageID
		if err := id.UnmarshalText([]byte(strings.ToLower(strings.TrimSpace(s)))); err != nil {
			return id, usagef("'sotto file list IDENTITY CONTACT' shows the ids", "a file id is 32 hex digits")
		}
		return id, nil
	}
	switch sub {
	case "send":
		if err := pathArgs("file send", pos, 3, "IDENTITY CONTACT PATH", `sotto file send work alice "~/my docs/scan.pdf"`); err != nil {
			return err
		}
		path, err := filepath.Abs(pos[2])
		if err != nil {
			return err
		}
		return a.withEngine(func(e *sotto.Engine) error {
			f, err := e.SendFile(a.ctx, pos[0], pos[1], path, sotto.SendFileOptions{Name: name, KeepMetadata: keep})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s\t%s\t%s\n", f.ID, f.Name, sizeText(f.Size))
			switch {
			case f.Method == "kept":
				fmt.Fprintln(a.stdout, "metadata: kept, as you asked: the file goes unchanged")
			case f.Method == "none":
				fmt.Fprintln(a.stdout, "metadata: none to remove (plain text)")
			case len(f.Removed) == 0:
				fmt.Fprintf(a.stdout, "metadata: none found (checked by %s)\n", f.Method)
			default:
				fmt.Fprintf(a.stdout, "metadata removed (%s): %s\n", f.Method, strings.Join(f.Removed, "; "))
			}
			fmt.Fprintf(a.stdout, "sha256: %x\nqueued: it moves when you run 'sotto' or 'sotto headless' and %s is online\n", f.SHA256, pos[1])
			return nil
		})
	case "list", "ls":
		if err := nargs("file list", pos, 2, 2, "IDENTITY CONTACT"); err != nil {
			return err
		}
		return a.withEngine(func(e *sotto.Engine) error {
			fs, err := e.Files(pos[0], pos[1])
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tDIR\tSTATE\tSIZE\tDONE\tNAME\tSHA256")
			for _, f := range fs {
				dir := "in"
				if f.Dir == sotto.Outgoing {
					dir = "out"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d%%\t%s\t%x\n", f.ID, dir, f.State, sizeText(f.Size), f.Done*100/max(f.Size, 1), f.Name, f.SHA256)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, f := range fs {
				if f.Err != "" {
					fmt.Fprintf(a.stdout, "%s: %s\n", f.ID, f.Err)
				}
			}
			return nil
		})
	case "accept", "reject", "cancel":
		if err := nargs("file "+sub, pos, 1, 1, "one FILE id"); err != nil {
			return err
		}
		id, err := fileID(pos[0])
		if err != nil {
			return err
		}
		return a.withEngine(func(e *sotto.Engine) error {
			switch sub {
			case "accept":
				return e.AcceptFile(a.ctx, id)
			case "reject":
				return e.RejectFile(a.ctx, id)
			}
			return e.CancelFile(a.ctx, id)
		})
	case "save":
		if err := pathArgs("file save", pos, 2, "FILE PATH", `sotto file save FILE "~/my docs/"`); err != nil {
			return err
		}
		id, err := fileID(pos[0])
		if err != nil {
			return err
		}
		path, err := filepath.Abs(pos[1])
		if err != nil {
			return err
		}
		return a.withEngine(func(e *sotto.Engine) error {
			p, err := e.SaveFile(a.ctx, id, path, force)
			if err == nil {
				fmt.Fprintln(a.stdout, "saved", p)
			}
			return err
		})
	case "limits":
		if err := nargs("file limits", pos, 0, 0, "no arguments"); err != nil {
			return err
		}
		var maxN, autoN int64 = -1, -1
		for _, s := range []struct {
			v   string
			dst *int64
			f   string
		}{{maxS, &maxN, "--max"}, {autoS, &autoN, "--auto-accept"}} {
			if s.v == "" {
				continue
			}
			n, err := int64(0), error(nil)
			if strings.TrimSpace(s.v) != "0" {
				n, err = parseSize(strings.TrimSpace(s.v)) // mailbox.go
			}
			if err != nil {
				return usagef("a size is bytes, or a number with K, M or G (--max 4G)", "%s: %v", s.f, err)
			}
			*s.dst = n
		}
		return a.withEngine(func(e *sotto.Engine) error {
			l := e.FileLimits()
			if maxN >= 0 || autoN >= 0 {
				if maxN >= 0 {
					l.MaxSize = maxN
				}
				if autoN >= 0 {
					l.AutoAccept = autoN
				}
				if err := e.SetFileLimits(l); err != nil {
					return err
				}
			}
			auto := "always ask"
			if l.AutoAccept > 0 {
				auto = "accept files up to " + sizeText(l.AutoAccept) + " without asking"
			}
			fmt.Fprintf(a.stdout, "largest file: %s\nauto-accept: %s\n", sizeText(l.MaxSize), auto)
			return nil
		})
	default:
		return usagef("the file sub-commands are send, list, accept, reject, cancel, save, limits", "unknown sub-command %q", "file "+clip(sub))
	}
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// classifyFile maps the file errors to exit codes and hints.
func (a *app) classifyFile(err error) (classified, bool) {
	switch {
	case errors.Is(err, sotto.ErrMetadata):
		return classified{exitMetadata, []string{
			"to send it unchanged, metadata and all, add --keep-metadata (only if you are sure it does not identify you)",
			"PDF, office documents, audio and video are cleaned with mat2 (Debian: apt install mat2)"}}, true
	case errors.Is(err, sotto.ErrUnknownFile):
		return classified{exitNotFound, []string{"'sotto file list IDENTITY CONTACT' shows the files and their ids"}}, true
	case errors.Is(err, sotto.ErrFileExists):
		return classified{exitExists, []string{"choose another path, or add --force to replace it"}}, true
	case errors.Is(err, sotto.ErrFileTooLarge):
		return classified{exitFailure, []string{"'sotto file limits --max SIZE' raises the limit"}}, true
	case errors.Is(err, sotto.ErrFileNotReady):
		return classified{exitFailure, []string{"'sotto file list IDENTITY CONTACT' shows how far it got"}}, true
	}
	return classified{}, false
}
