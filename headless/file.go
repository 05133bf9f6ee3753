package headless

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/sottochat/sotto"
)

// File transfers in the headless mode (docs/headless.md, "Files").

// FileEngine is what the file commands need of the engine; *sotto.Engine
// has it. An engine without it answers the file commands with an error.
type FileEngine interface {
	SendFile(ctx context.Context, identity, contact, path string, o sotto.SendFileOptions) (sotto.FileInfo, error)
	AcceptFile(ctx context.Context, id sotto.MessageID) error
	RejectFile(ctx context.Context, id sotto.MessageID) error
	CancelFile(ctx context.Context, id sotto.MessageID) error
	SaveFile(ctx context.Context, id sotto.MessageID, path string, overwrite bool) (string, error)
	Files(identity, contact string) ([]sotto.FileInfo, error)
	FileLimits() sotto.FileLimits
	SetFileLimits(l sotto.FileLimits) error
}

var _ FileEngine = (*sotto.Engine)(nil)

const (
	fFile         = "file"
	fPath         = "path"
	fName         = "name"
	fKeepMetadata = "keep_metadata"
	fOverwrite    = "overwrite"
	fMaxSize      = "max_size"
	fAutoAccept   = "auto_accept"
	// MaxPathBytes bounds a path in a command.
	MaxPathBytes = 4096
)

func isFileCommand(cmd string) bool {
	switch cmd {
	case "send_file", "accept_file", "reject_file", "cancel_file", "save_file", "files", "file_limits":
		return true
	}
	return false
}

// fileJSON describes one file of a conversation.
type fileJSON struct {
	Event     string   `json:"event,omitempty"` // in events only
	ID        string   `json:"file"`
	IDAlias   string   `json:"id"` // the same, for scripts that look for "id"
	Identity  string   `json:"identity"`
	Contact   string   `json:"contact"`
	Direction string   `json:"direction"` // "in", "out"
	Name      string   `json:"name"`      // sanitised; never a path
	Size      int64    `json:"size"`
	SHA256    string   `json:"sha256"`
	State     string   `json:"state"` // offered, transferring, complete, refused, cancelled, failed
	Done      int64    `json:"done"`  // bytes stored (in) or acknowledged (out)
	Sent      int64    `json:"sent,omitempty"`
	At        string   `json:"at"`
	ExpiresAt *string  `json:"expires_at"`
	Error     string   `json:"error,omitempty"`
	Removed   []string `json:"removed,omitempty"` // out: metadata removed before sending
	Method    string   `json:"method,omitempty"`  // out: native, mat2, none, kept
}

func toFile(event string, f sotto.FileInfo) fileJSON {
	out := fileJSON{Event: event, ID: f.ID.String(), IDAlias: f.ID.String(), Identity: f.Identity, Contact: f.Contact, Direction: "in",
		Name: f.Name, Size: f.Size, SHA256: hex.EncodeToString(f.SHA256[:]), State: f.State.String(), Done: f.Done,
		Sent: f.Sent, At: timestamp(f.At), ExpiresAt: expiry(f.ExpiresAt), Error: f.Err, Removed: f.Removed, Method: f.Method}
	if f.Dir == sotto.Outgoing {
		out.Direction = "out"
	}
	return out
}

func encodeFileEvent(ev sotto.Event) (any, bool) {
	switch ev := ev.(type) {
	case sotto.FileOfferEvent:
		return toFile("file_offer", ev.File), true
	case sotto.FileProgressEvent:
		return toFile("file_progress", ev.File), true
	case sotto.FileReceivedEvent:
		return toFile("file_received", ev.File), true
	case sotto.FileDeliveredEvent:
		return toFile("file_delivered", ev.File), true
	case sotto.FileFailedEvent:
		return toFile("file_failed", ev.File), true
	}
	return nil, false
}

func executeFile(ctx context.Context, e Engine, c Command) (reply, error) {
	var r reply
	fe, ok := e.(FileEngine)
	if !ok {
		return r, errors.New("headless: this engine does not handle files")
	}
	if len(c.Path) > MaxPathBytes || len(c.Name) > MaxPathBytes {
		return r, &CommandError{Cmd: c.Cmd, Tag: c.Tag, Msg: fmt.Sprintf("\"path\" or \"name\" longer than %d bytes", MaxPathBytes)}
	}
	var id sotto.MessageID
	if c.Cmd != "send_file" && c.Cmd != "files" && c.Cmd != "file_limits" {
		if err := id.UnmarshalText([]byte(c.File)); err != nil {
			return r, &CommandError{Cmd: c.Cmd, Tag: c.Tag, Msg: "\"file\" is a file id: 32 hex digits, as in file_offer"}
		}
	}
	switch c.Cmd {
	case "send_file":
		if !filepath.IsAbs(c.Path) {
			return r, &CommandError{Cmd: c.Cmd, Tag: c.Tag, Msg: "\"path\" must be absolute"}
		}
		f, err := fe.SendFile(ctx, c.Identity, c.Contact, c.Path, sotto.SendFileOptions{Name: c.Name, KeepMetadata: c.KeepMetadata})
		if err != nil {
			return r, err
		}
		r.key, r.value = "file_info", toFile("", f)
	case "accept_file":
		return r, fe.AcceptFile(ctx, id)
	case "reject_file":
		return r, fe.RejectFile(ctx, id)
	case "cancel_file":
		return r, fe.CancelFile(ctx, id)
	case "save_file":
		if !filepath.IsAbs(c.Path) {
			return r, &CommandError{Cmd: c.Cmd, Tag: c.Tag, Msg: "\"path\" must be absolute"}
		}
		p, err := fe.SaveFile(ctx, id, c.Path, c.Overwrite)
		if err != nil {
			return r, err
		}
		r.key, r.value = "path", p
	case "files":
		fs, err := fe.Files(c.Identity, c.Contact)
		if err != nil {
			return r, err
		}
		list := []fileJSON{}
		for _, f := range fs {
			list = append(list, toFile("", f))
		}
		r.key, r.value = "files", list
	case "file_limits":
		l := fe.FileLimits()
		if c.MaxSize != nil || c.AutoAccept != nil {
			if c.MaxSize != nil {
				l.MaxSize = *c.MaxSize
			}
			if c.AutoAccept != nil {
				l.AutoAccept = *c.AutoAccept
			}
			if err := fe.SetFileLimits(l); err != nil {
				return r, err
			}
		}
		r.key, r.value = "file_limits", map[string]int64{"max_size": l.MaxSize, "auto_accept": l.AutoAccept}
	}
	return r, nil
}
