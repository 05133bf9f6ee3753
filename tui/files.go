package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/tui/sanitize"
)

// Files in the chat screen. A file is a line of the conversation (kind
// sotto.FileMessage) drawn with its state and a progress bar. Keys:
// ctrl+f attaches (it starts a "/attach " line in the composer: type the
// path and press enter), ctrl+g accepts the newest file offered, ctrl+x
// cancels (or refuses) the newest file moving or offered. The composer also
// takes "/attach PATH [--keep-metadata]", "/accept", "/reject", "/cancel"
// and "/save PATH" (the newest complete file, to PATH or into a directory).

// FileEngine is what the chat screen needs for files; *sotto.Engine has
// it. With an engine without it, file lines show their names only.
type FileEngine interface {
	SendFile(ctx context.Context, identity, contact, path string, o sotto.SendFileOptions) (sotto.FileInfo, error)
	AcceptFile(ctx context.Context, id sotto.MessageID) error
	RejectFile(ctx context.Context, id sotto.MessageID) error
	CancelFile(ctx context.Context, id sotto.MessageID) error
	SaveFile(ctx context.Context, id sotto.MessageID, path string, overwrite bool) (string, error)
	Files(identity, contact string) ([]sotto.FileInfo, error)
}

var _ FileEngine = (*sotto.Engine)(nil)

var fileKeys = struct{ Attach, Accept, Cancel key.Binding }{
	Attach: key.NewBinding(key.WithKeys("ctrl+f"), key.WithHelp("ctrl+f", "attach a file")),
	Accept: key.NewBinding(key.WithKeys("ctrl+g"), key.WithHelp("ctrl+g", "accept file")),
	Cancel: key.NewBinding(key.WithKeys("ctrl+x"), key.WithHelp("ctrl+x", "cancel file")),
}

// filesMsg carries a conversation's files.
type filesMsg struct {
	identity, contact string
	list              []sotto.FileInfo
}

func loadFiles(e Engine, identity, contact string) tea.Cmd {
	fe, ok := e.(FileEngine)
	if !ok {
		return nil
	}
	return func() tea.Msg {
		l, err := fe.Files(identity, contact)
		if err != nil {
			return errMsg{err}
		}
		return filesMsg{identity, contact, l}
	}
}

// fileUpdate handles the file messages and keys of the chat screen; ok
// is false for anything else.
func (c *chatScreen) fileUpdate(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case filesMsg:
		if c.mine(msg.identity, msg.contact) {
			c.files = map[sotto.MessageID]sotto.FileInfo{}
			for _, f := range msg.list {
				c.files[f.ID] = f
			}
		}
		return nil, true
	case messagesMsg:
		return loadFiles(c.s.eng, msg.identity, msg.contact), false
	case tea.KeyMsg:
		switch {
		case key.Matches(msg, fileKeys.Attach):
			c.ta.SetValue("/attach ")
			c.ta.CursorEnd()
			c.measure()
			return func() tea.Msg {
				return infoMsg("type the path of the file and press enter; metadata is removed before it is sent")
			}, true
		case key.Matches(msg, fileKeys.Accept):
			return c.fileCommand("/accept"), true
		case key.Matches(msg, fileKeys.Cancel):
			return c.fileCommand("/cancel"), true
		}
	}
	return nil, false
}

// onFileEvent keeps the files' states current.
func (c *chatScreen) onFileEvent(ev sotto.Event) bool {
	var f sotto.FileInfo
	switch ev := ev.(type) {
	case sotto.FileOfferEvent:
		f = ev.File
	case sotto.FileProgressEvent:
		f = ev.File
	case sotto.FileReceivedEvent:
		f = ev.File
	case sotto.FileDeliveredEvent:
		f = ev.File
	case sotto.FileFailedEvent:
		f = ev.File
	default:
		return false
	}
	if c.mine(f.Identity, f.Contact) {
		if c.files == nil {
			c.files = map[sotto.MessageID]sotto.FileInfo{}
		}
		c.files[f.ID] = f
	}
	return true
}

// newest is the newest file of the conversation whose state is one of
// states (and direction dir, unless dir < 0).
func (c *chatScreen) newest(dir sotto.Direction, states ...sotto.FileState) (sotto.FileInfo, bool) {
	var best sotto.FileInfo
	found := false
	for _, f := range c.files {
		if dir >= 0 && f.Dir != dir {
			continue
		}
		for _, s := range states {
			if f.State == s && (!found || f.At.After(best.At) || f.At.Equal(best.At) && f.ID.String() > best.ID.String()) {
				best, found = f, true
			}
		}
	}
	return best, found
}

// fileCommand runs a "/..." line of the composer; nil if the line is not
// one (it is then sent as text).
func (c *chatScreen) fileCommand(line string) tea.Cmd {
	fe, ok := c.s.eng.(FileEngine)
	if !ok {
		return nil
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return nil
	}
	ctx, id, contact := c.s.ctx, c.s.identity, c.s.contact.Name
	fail := func(s string) tea.Cmd { return func() tea.Msg { return errMsg{errors.New(s)} } }
	switch fields[0] {
	case "/attach", "/send":
		rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), fields[0]))
		keep := false
		if r, ok := strings.CutSuffix(rest, "--keep-metadata"); ok {
			rest, keep = strings.TrimSpace(r), true
		}
		if rest == "" {
			return fail("say which file: /attach PATH")
		}
		path := typedPath(rest)
		return func() tea.Msg {
			f, err := fe.SendFile(ctx, id, contact, path, sotto.SendFileOptions{KeepMetadata: keep})
			if err != nil {
				if errors.Is(err, sotto.ErrMetadata) {
					return errMsg{fmt.Errorf("%w (to send it unchanged: /attach %s --keep-metadata)", err, rest)}
				}
				return errMsg{err}
			}
			// The file's line is in the conversation now (SendFile
			// stored it; no event says so): load it, as after a text.
			return tea.BatchMsg{
				func() tea.Msg { return infoMsg(fileSentText(f)) },
				loadMessages(c.s.eng, id, contact),
			}
		}
	case "/accept":
		f, ok := c.newest(sotto.Incoming, sotto.FileOffered)
		if !ok {
			return fail("no file is waiting for your answer")
		}
		return func() tea.Msg { return doneOr(fe.AcceptFile(ctx, f.ID)) }
	case "/reject", "/cancel":
		f, ok := c.newest(-1, sotto.FileOffered, sotto.FileTransferring)
		if !ok {
			return fail("no file is offered or moving")
		}
		return func() tea.Msg { return doneOr(fe.CancelFile(ctx, f.ID)) }
	case "/save":
		f, ok := c.newest(sotto.Incoming, sotto.FileComplete)
		if !ok {
			return fail("no received file to save")
		}
		if len(fields) < 2 {
			return fail("say where: /save PATH (a file or a directory)")
		}
		path := typedPath(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "/save")))
		return func() tea.Msg {
			p, err := fe.SaveFile(ctx, f.ID, path, false)
			if err != nil {
				return errMsg{err}
			}
			return infoMsg("saved to " + p + " (Sotto does not open it)")
		}
	}
	return nil
}

func doneOr(err error) tea.Msg {
	if err != nil {
		return errMsg{err}
	}
	return doneMsg{}
}

// typedPath is the path a person typed, pasted or dropped after /attach or
// /save. The rest of the line is the path, spaces and all; but a terminal
// pastes a dropped file quoted ('/home/me/my docs/scan.pdf') or with its
// spaces escaped (/home/me/my\ docs/scan.pdf), and people used to a shell
// quote it themselves. So the line is taken as typed when that names
// something; otherwise, without its quotes or escapes when that names an
// existing file or lands in an existing directory.
func typedPath(typed string) string {
	p := expandHome(typed)
	if _, err := os.Lstat(p); err == nil {
		return p
	}
	u := typed
	if len(u) >= 2 && (u[0] == '"' || u[0] == '\'') && u[len(u)-1] == u[0] {
		u = u[1 : len(u)-1]
	} else {
		u = strings.NewReplacer(`\ `, " ", `\'`, "'", `\"`, `"`, `\\`, `\`).Replace(u)
	}
	if u == typed {
		return p
	}
	q := expandHome(u)
	if _, err := os.Lstat(q); err == nil {
		return q
	}
	if fi, err := os.Stat(filepath.Dir(q)); err == nil && fi.IsDir() {
		return q
	}
	return p
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, p[2:])
		}
	}
	return p
}

func fileSentText(f sotto.FileInfo) string {
	switch {
	case f.Method == "kept":
		return "queued " + f.Name + ", metadata kept as you asked"
	case len(f.Removed) == 0:
		return "queued " + f.Name + ": no metadata found"
	}
	return "queued " + f.Name + "; removed: " + strings.Join(f.Removed, "; ")
}

// fileText is the text of a file line: its name (inert), size, state and,
// while it moves, a progress bar.
func (c *chatScreen) fileText(m *sotto.Message) string {
	name := sanitize.Line(m.Text)
	f, ok := c.files[m.ID]
	if !ok {
		return "[file] " + name
	}
	s := fmt.Sprintf("[file] %s · %s", name, humanBytes(f.Size))
	switch f.State {
	case sotto.FileOffered:
		if f.Dir == sotto.Incoming {
			s += " · offered: ctrl+g accept, ctrl+x refuse"
		} else {
			s += " · waiting for " + sanitize.Line(f.Contact)
		}
	case sotto.FileTransferring:
		pct := int(f.Done * 100 / max(f.Size, 1))
		s += fmt.Sprintf(" · %s %d%% · ctrl+x cancel", progressBar(c.s.st, pct, 20), pct)
	case sotto.FileComplete:
		if f.Dir == sotto.Incoming {
			s += " · received, SHA-256 checked: /save PATH"
		} else {
			s += " · delivered"
		}
	default:
		s += " · " + f.State.String()
		if f.Err != "" {
			s += ": " + sanitize.Line(f.Err)
		}
	}
	if !f.ExpiresAt.IsZero() {
		s += " · disappears with the conversation's timer (a copy you saved stays)"
	}
	return s
}

func humanBytes(n int64) string {
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
