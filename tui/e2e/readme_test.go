package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto/internal/e2e"
)

// readmeCommands returns the commands of the README's "Using Sotto" block
// (the second sh block of that section), comments dropped.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n## Using Sotto")
	if i < 0 {
		t.Fatal(`README.md has no "## Using Sotto" section`)
	}
	s = s[i:]
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(s, 2)
	if len(blocks) < 2 {
		t.Fatal("README.md's Using Sotto section lost its sh blocks")
	}
	var cmds []string
	for _, l := range strings.Split(blocks[1][1], "\n") {
		if c, _, _ := strings.Cut(l, "#"); strings.TrimSpace(c) != "" {
			cmds = append(cmds, strings.TrimSpace(c))
		}
	}
	return cmds
}

// TestReadmeUsingSotto follows the README's "Using Sotto" commands as they
// are written, one after the other, on a fresh profile in its default
// place ($XDG_DATA_HOME/sotto), each in a real terminal (tmux) with every
// question answered by typing, as a newcomer would. The commands are run
// as written; the sotto on PATH is a wrapper that adds --network to join
// the test's private Tor network, and CODE is replaced by the code of
// alice, a second profile that answers from 'sotto headless'.
//
// In the terminal UI the newcomer's first conversation then carries every
// kind of input that used to be lost (issue 18): a three-line paste
// without bracketed paste and one with it (each one message, sent on
// enter), a 20,000-character paste (sent, once confirmed, as two marked
// parts that add up to the text), and ctrl+c over a draft (asks; esc keeps
// it).
func TestReadmeUsingSotto(t *testing.T) {
	need(t)
	t.Parallel()
	cmds := readmeCommands(t)
	want := []string{"sotto init", "sotto id new work", "sotto id card work", "sotto contact add work alice CODE",
		"sotto contact verify work alice", "sotto", "sotto send work alice", "sotto file send work alice scan.pdf", "sotto file save FILE ~/Downloads/",
		"sotto headless", "sotto panic"}
	if strings.Join(cmds, "\n") != strings.Join(want, "\n") {
		t.Fatalf("README's Using Sotto commands changed; update this test with them:\n%s", strings.Join(cmds, "\n"))
	}

	home := t.TempDir()
	binDir := filepath.Join(home, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := "#!/bin/sh\nexec " + harness.Bin + " --network " + harness.Network + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(binDir, "sotto"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	profile := filepath.Join(home, "share", "sotto")
	// What a newcomer's home has: a scan to send, a Downloads directory.
	if err := os.MkdirAll(filepath.Join(home, "Downloads"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "scan.pdf"), minimalPDF, 0o644); err != nil {
		t.Fatal(err)
	}
	const pass = "quiet lantern orbit velvet canyon"
	// Each command runs in a shell of its own window; the shell reports the
	// exit status and waits, so the window's screen can be read.
	m := newTmux(t, "idle", "sleep 3600", 120, 40)
	env := "env -i HOME=" + home + " XDG_DATA_HOME=" + filepath.Join(home, "share") + " PATH=" + binDir + ":/usr/bin:/bin TERM=xterm-256color "
	step := 0
	run := func(cmd string) string {
		t.Helper()
		step++
		win := fmt.Sprintf("s%d", step)
		m.window(win, env+"sh -c 'cd; "+cmd+"; echo EXIT=$?; sleep 3600'")
		return win
	}
	exit := func(win string, code string) string {
		t.Helper()
		return m.waitText(win, "EXIT="+code, 2*time.Minute)
	}
	answer := func(win, prompt, text string) {
		t.Helper()
		m.waitText(win, prompt, time.Minute)
		m.text(win, text)
		m.keys(win, "Enter")
	}

	// sotto init: the passphrase twice; a strong one passes without a word.
	w := run(cmds[0])
	answer(w, "New passphrase", pass)
	answer(w, "The same passphrase again", pass)
	if s := exit(w, "0"); !strings.Contains(s, "created a profile in "+profile) {
		t.Fatalf("sotto init:\n%s", s)
	}
	// sotto id new work
	w = run(cmds[1])
	answer(w, "Passphrase for", pass)
	exit(w, "0")
	// sotto id card work: the code on one line, then the QR code.
	w = run(cmds[2])
	answer(w, "Passphrase for", pass)
	exit(w, "0")
	s := m.joined(w) // the code as one line, though the terminal wrapped it
	card := regexp.MustCompile(`sotto1:[a-z2-7:]+`).FindString(s)
	if len(card) != 125 || !strings.Contains(s, "█") {
		t.Fatalf("sotto id card work: no code of 125 characters and QR code:\n%s", s)
	}

	// alice, who gives her code and reads out the safety code.
	alice := harness.NewProfile(t, "alice")
	alice.Must("init")
	alice.Must("id", "new", "alice")
	alice.Must("contact", "add", "alice", "work", card)
	aliceCard := strings.TrimSpace(alice.Must("id", "card", "alice", "--no-qr"))

	// sotto contact add work alice CODE
	w = run(strings.Replace(cmds[3], "CODE", aliceCard, 1))
	answer(w, "Passphrase for", pass)
	if s := exit(w, "0"); !strings.Contains(s, "added alice to work") {
		t.Fatalf("sotto contact add:\n%s", s)
	}
	// sotto contact verify work alice: type what alice reads out.
	// The groups of five on the lines that hold only digits (a line break
	// typed in would end the answer before the code).
	safety := strings.Join(strings.Fields(strings.Join(regexp.MustCompile(`(?m)^[ \t]+[0-9]{5}( +[0-9]{5})*$`).FindAllString(alice.Must("contact", "verify", "alice", "work", "--yes"), -1), " ")), " ")
	if len(strings.Fields(safety)) != 12 {
		t.Fatalf("alice's safety code: %q", safety)
	}
	w = run(cmds[4])
	answer(w, "Passphrase for", pass)
	answer(w, "reads out", safety)
	if s := exit(w, "0"); !strings.Contains(s, "alice is verified") {
		t.Fatalf("sotto contact verify:\n%s", s)
	}

	// sotto: the terminal UI, and alice online.
	node := alice.Headless()
	node.WaitFor(0, 2*time.Minute, "alice ready", e2e.Is(map[string]any{"event": "ready"}))
	w = run(cmds[5])
	m.waitText(w, "Unlock your Sotto profile", time.Minute)
	m.typeEnter(w, pass, dots(pass))
	m.waitText(w, "Conversations", time.Minute)
	m.waitText(w, "alice · work", 10*time.Second)
	m.keys(w, "Enter")
	m.waitText(w, "✓ verified", 10*time.Second)
	from := node.Mark()
	m.typeEnter(w, "hello alice, from the README", "hello alice, from the README")
	node.WaitFor(from, 4*time.Minute, "the first message", e2e.Is(map[string]any{"event": "message", "text": "hello alice, from the README"}))
	m.waitText(w, "✓✓", time.Minute)

	// Pastes keep their lines and send nothing until enter.
	texts := func(from int) []string {
		var out []string
		for _, l := range node.All(from, e2e.Is(map[string]any{"event": "message"})) {
			out = append(out, l["text"].(string))
		}
		return out
	}
	for _, bracketed := range []bool{false, true} {
		three := "first pasted line\nsecond pasted line\nthird pasted line"
		if bracketed {
			three = strings.ReplaceAll(three, "pasted", "bracketed")
		}
		from = node.Mark()
		m.paste(w, three+"\n", bracketed)
		m.waitText(w, strings.SplitN(three, "\n", 3)[2], 10*time.Second)
		// A person presses enter after seeing the paste, not within
		// tui's pasteTail (50 ms) of it: line breaks alone that soon are
		// the paste's own tail (tui/paste.go), and this enter was taken
		// for one when the screen showed the paste at once.
		time.Sleep(300 * time.Millisecond)
		m.keys(w, "Enter")
		node.WaitFor(from, 2*time.Minute, "the three lines", e2e.Is(map[string]any{"event": "message", "text": three}))
		time.Sleep(time.Second) // a stray line would have been sent by now
		if got := texts(from); len(got) != 1 {
			t.Fatalf("a paste (bracketed %v) arrived as %d messages: %q", bracketed, len(got), got)
		}
	}

	// 20,000 characters: the counter says so, enter asks, enter sends two
	// marked parts that add up to the text.
	var b strings.Builder
	for i := 0; b.Len() < 20000; i++ {
		b.WriteString("word" + string(rune('a'+i%26)) + " ")
	}
	long := b.String()[:20000]
	from = node.Mark()
	m.paste(w, long, true)
	m.waitText(w, "20,000 / 16,384 bytes", 30*time.Second)
	m.save(w, "tmux-long-paste")
	m.keys(w, "Enter")
	m.waitText(w, "enter sends it as 2 messages", 10*time.Second)
	m.keys(w, "Enter")
	p1, _ := node.WaitFor(from, 2*time.Minute, "part 1", func(l map[string]any) bool {
		return l["event"] == "message" && strings.HasPrefix(l["text"].(string), "(1/2) ")
	})
	p2, _ := node.WaitFor(from, 2*time.Minute, "part 2", func(l map[string]any) bool {
		return l["event"] == "message" && strings.HasPrefix(l["text"].(string), "(2/2) ")
	})
	if got := p1["text"].(string)[6:] + p2["text"].(string)[6:]; got != long {
		t.Fatalf("the parts add up to %d bytes, not the 20,000 pasted", len(got))
	}

	// alice sends a file; the UI shows the offer and ctrl+g accepts it
	// (it is saved below, by the README's 'sotto file save').
	note := filepath.Join(t.TempDir(), "note.txt")
	const noteText = "the minutes of the meeting, plain text\n"
	if err := os.WriteFile(note, []byte(noteText), 0o600); err != nil {
		t.Fatal(err)
	}
	from = node.Mark()
	r := node.Do(time.Minute, map[string]any{"cmd": "send_file", "identity": "alice", "contact": "work", "path": note})
	fileID := r["file_info"].(map[string]any)["file"].(string)
	m.waitText(w, "note.txt", 2*time.Minute)
	m.keys(w, "C-g")
	node.WaitFor(from, 2*time.Minute, "the file delivered", e2e.Is(map[string]any{"event": "file_delivered", "file": fileID}))

	// ctrl+c over a draft asks; esc keeps the draft; without one it quits.
	m.text(w, "a draft not sent")
	m.keys(w, "C-c")
	m.waitText(w, "Quit and lose the text you have not sent?", 10*time.Second)
	m.keys(w, "Escape")
	m.waitGone(w, "Quit and lose", 10*time.Second)
	if !strings.Contains(m.screen(w), "a draft not sent") {
		t.Fatalf("the draft is gone after esc:\n%s", m.screen(w))
	}
	m.keys(w, "C-u", "C-c")
	exit(w, "0")

	// sotto send work alice: the message typed after the passphrase and
	// ended with ctrl+d; it returns once alice has it.
	const oneShot = "one message from the command line"
	from = node.Mark()
	w = run(cmds[6])
	answer(w, "Passphrase for", pass)
	answer(w, "Message to alice", oneShot)
	m.keys(w, "C-d")
	if s := exit(w, "0"); !strings.Contains(s, "delivered to alice") {
		t.Fatalf("sotto send:\n%s", s)
	}
	node.WaitFor(from, time.Minute, "the text of sotto send", e2e.Is(map[string]any{"event": "message", "text": oneShot}))
	node.Stop()

	// sotto file send work alice scan.pdf: its metadata removed (mat2).
	w = run(cmds[7])
	answer(w, "Passphrase for", pass)
	if s := exit(w, "0"); !strings.Contains(s, "scan.pdf") {
		t.Fatalf("sotto file send:\n%s", s)
	}
	// sotto file save FILE ~/Downloads/: FILE is the id of alice's file.
	w = run(strings.Replace(cmds[8], "FILE", fileID, 1))
	answer(w, "Passphrase for", pass)
	exit(w, "0")
	if b, err := os.ReadFile(filepath.Join(home, "Downloads", "note.txt")); err != nil || string(b) != noteText {
		t.Fatalf("the saved file: %q, %v", b, err)
	}

	// sotto headless: JSON lines, typed.
	w = run(cmds[9])
	answer(w, "Passphrase for", pass)
	m.text(w, `{"cmd":"contacts","identity":"work"}`)
	m.keys(w, "Enter")
	m.waitText(w, `"name":"alice"`, time.Minute)
	m.text(w, `{"cmd":"quit"}`)
	m.keys(w, "Enter")
	exit(w, "0")

	// sotto panic: type wipe, and the profile is gone.
	w = run(cmds[10])
	answer(w, "Type 'wipe'", "wipe")
	exit(w, "0")
	if _, err := os.Stat(filepath.Join(profile, "vault")); !os.IsNotExist(err) {
		t.Fatalf("the profile's vault is still there after sotto panic (%v)", err)
	}
}

// minimalPDF is a valid one-page PDF with an author in its metadata.
var minimalPDF = []byte(`%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj
4 0 obj << /Author (A. Source) /Producer (scanner) >> endobj
trailer << /Root 1 0 R /Info 4 0 R >>
%%EOF
`)
