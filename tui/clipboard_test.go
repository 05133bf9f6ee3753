package tui

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/bubbles/textinput"
)

// clipboardTools are the programs github.com/atotto/clipboard runs to read
// the clipboard, whichever it finds in PATH.
var clipboardTools = []string{"xclip", "xsel", "wl-paste", "wl-copy", "termux-clipboard-get", "termux-clipboard-set"}

// TestCtrlVStartsNoProgram presses ctrl+v in every text field of the UI
// (composer, names, contact code, safety code) in a child process whose
// PATH starts with stand-ins for every clipboard tool, each of which
// records that it ran. None may run. (atotto/clipboard chooses its tool
// when the process starts, hence the child.) A control run in the same
// setting calls bubbles' own paste command and must see a stand-in run,
// so the check can fail.
func TestCtrlVStartsNoProgram(t *testing.T) {
	if mode := os.Getenv("SOTTO_CLIPBOARD_CHILD"); mode != "" {
		clipboardChild(t, mode)
		return
	}
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	for _, tool := range clipboardTools {
		script := "#!/bin/sh\necho \"$0\" >>'" + marker + "'\necho pasted-by-a-helper\n"
		if err := os.WriteFile(filepath.Join(dir, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func(mode string) string {
		t.Helper()
		os.Remove(marker)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCtrlVStartsNoProgram$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "SOTTO_CLIPBOARD_CHILD="+mode, "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"),
			"DISPLAY=:0", "WAYLAND_DISPLAY=wayland-0")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("child (%s): %v\n%s", mode, err, out)
		}
		ran, _ := os.ReadFile(marker)
		return string(ran)
	}
	if ran := run("control"); ran == "" {
		t.Fatal("control: bubbles' paste command ran no stand-in; the check below proves nothing")
	}
	if ran := run("ui"); ran != "" {
		t.Fatalf("ctrl+v in the UI started %s", ran)
	}
}

func clipboardChild(t *testing.T, mode string) {
	if mode == "control" {
		textinput.Paste() // bubbles' paste: reads the clipboard through a helper
		return
	}
	h := unlocked(t)
	ctrlV := func(where string) {
		t.Helper()
		h.key("ctrl+v")
		h.wantNoView("pasted-by-a-helper")
		if !strings.Contains(h.view(), "paste with your terminal") {
			t.Fatalf("%s: ctrl+v says nothing:\n%s", where, h.view())
		}
	}
	h.key("n") // the new-identity name
	ctrlV("identity name")
	h.key("esc", "enter", "a") // add contact: name, then code
	ctrlV("contact name")
	h.key("tab")
	ctrlV("contact code")
	h.key("esc")
	h.key("v") // verify bob: what they read out
	ctrlV("safety code")
	h.key("esc", "enter") // bob's conversation
	h.wantPage(pageChat)
	ctrlV("composer")
	h.key("esc", "r", "a") // accept a request: its name
	ctrlV("request name")
}
