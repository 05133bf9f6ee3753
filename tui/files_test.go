package tui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/sottotest"
)

// fileFake adds the file methods to the fake engine and records them.
type fileFake struct {
	*sottotest.Engine
	calls []string
}

func (f *fileFake) SendFile(_ context.Context, identity, contact, path string, o sotto.SendFileOptions) (sotto.FileInfo, error) {
	f.calls = append(f.calls, "SendFile "+path)
	// As the engine does: the file's line is stored, and no event says so.
	f.Engine.PutMessages(sotto.Message{ID: sottotest.ID(76), Identity: identity, Contact: contact, Dir: sotto.Outgoing,
		Kind: sotto.FileMessage, Text: "photo.jpg", At: t0})
	return sotto.FileInfo{Name: "photo.jpg", Method: "native", Removed: []string{"EXIF (GPS position, camera serial number)"}}, nil
}
func (f *fileFake) AcceptFile(_ context.Context, id sotto.MessageID) error {
	f.calls = append(f.calls, "AcceptFile "+id.String())
	return nil
}
func (f *fileFake) RejectFile(_ context.Context, id sotto.MessageID) error {
	f.calls = append(f.calls, "RejectFile "+id.String())
	return nil
}
func (f *fileFake) CancelFile(_ context.Context, id sotto.MessageID) error {
	f.calls = append(f.calls, "CancelFile "+id.String())
	return nil
}
func (f *fileFake) SaveFile(_ context.Context, id sotto.MessageID, path string, overwrite bool) (string, error) {
	f.calls = append(f.calls, "SaveFile "+path)
	return path, nil
}
func (f *fileFake) Files(identity, contact string) ([]sotto.FileInfo, error) { return nil, nil }

func TestFlowFiles(t *testing.T) {
	h := unlocked(t)
	ff := &fileFake{Engine: h.eng}
	h.m.s.eng = ff
	h.key("enter", "enter") // alice's conversation with bob
	h.send(tea.KeyMsg{Type: tea.KeyCtrlF})
	if v := h.m.screens[pageChat].(*chatScreen).ta.Value(); v != "/attach " {
		t.Fatalf("ctrl+f: composer %q", v)
	}
	h.typ("/tmp/photo.jpg")
	h.key("enter")
	if len(ff.calls) != 1 || ff.calls[0] != "SendFile /tmp/photo.jpg" {
		t.Fatalf("calls %v", ff.calls)
	}
	h.wantView("GPS position")
	h.wantView("[file] photo.jpg") // the sender sees the file in the conversation at once

	// bob offers a file whose name hides a bidi override.
	id := sottotest.ID(77)
	line := sotto.Message{ID: id, Identity: "alice", Contact: "bob", Dir: sotto.Incoming, Kind: sotto.FileMessage,
		Text: "photo\u202egpj.exe", At: t0}
	h.eng.PutMessages(line)
	h.event(sotto.MessageEvent{Message: line})
	f := sotto.FileInfo{ID: id, Identity: "alice", Contact: "bob", Dir: sotto.Incoming, Name: line.Text,
		Size: 2 << 20, State: sotto.FileOffered, At: t0}
	h.event(sotto.FileOfferEvent{File: f})
	v := h.view()
	if !strings.Contains(v, "[file] photo") || !strings.Contains(v, "accept") || strings.Contains(v, "\u202e") {
		t.Fatalf("offered file line:\n%s", v)
	}
	h.send(tea.KeyMsg{Type: tea.KeyCtrlG})
	if ff.calls[len(ff.calls)-1] != "AcceptFile "+id.String() {
		t.Fatalf("ctrl+g: calls %v", ff.calls)
	}
	f.State, f.Done = sotto.FileTransferring, 1<<20
	h.event(sotto.FileProgressEvent{File: f})
	h.wantView("50%")
	h.send(tea.KeyMsg{Type: tea.KeyCtrlX})
	if ff.calls[len(ff.calls)-1] != "CancelFile "+id.String() {
		t.Fatalf("ctrl+x: calls %v", ff.calls)
	}
	f.State, f.Done = sotto.FileComplete, f.Size
	h.event(sotto.FileReceivedEvent{File: f})
	h.wantView("received")
	h.typ("/save /tmp/out")
	h.key("enter")
	if ff.calls[len(ff.calls)-1] != "SaveFile /tmp/out" {
		t.Fatalf("/save: calls %v", ff.calls)
	}
}

// A path after /attach or /save as people give it: typed with its spaces,
// quoted as in a shell, or as a terminal pastes a dropped file (quoted, or
// with its spaces escaped). A name that really holds quotes is kept.
func TestTypedPath(t *testing.T) {
	dir := t.TempDir()
	spaced := filepath.Join(dir, "my docs", "leak notes.pdf")
	quoted := filepath.Join(dir, `'odd'`)
	for _, p := range []string{spaced, quoted} {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	escaped := strings.ReplaceAll(spaced, " ", `\ `)
	newFile := filepath.Join(dir, "my docs", "out copy.pdf")
	for typed, want := range map[string]string{
		spaced:              spaced,
		`"` + spaced + `"`:  spaced,
		`'` + spaced + `'`:  spaced,
		escaped:             spaced,
		quoted:              quoted,  // exists as typed: its quotes are its name
		`"` + newFile + `"`: newFile, // /save to a new name in an existing folder
		`"/nowhere/x y"`:    `"/nowhere/x y"`,
		"/tmp/plain":        "/tmp/plain",
	} {
		if got := typedPath(typed); got != want {
			t.Errorf("typedPath(%q) = %q, want %q", typed, got, want)
		}
	}
}
