package tui

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/sottotest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) {
	// A fixed colour profile and background: views are plain text.
	lipgloss.SetColorProfile(termenv.Ascii)
	lipgloss.SetHasDarkBackground(true)
	os.Exit(m.Run())
}

var _ Engine = (*sottotest.Engine)(nil)

// t0 is the clock of every test.
var t0 = time.Date(2026, 11, 22, 14, 30, 0, 0, time.UTC)

var errWrongPassphrase = errors.New("sotto: wrong passphrase")

// fakeProfile implements Profile over a sottotest.Engine. It keeps the
// passphrase in plain memory: it is a test double.
type fakeProfile struct {
	mu       sync.Mutex
	eng      *sottotest.Engine
	exists   bool
	pass     []byte
	handed   [][]byte // every slice the UI handed over, to check it was wiped
	panicked bool
	opened   int
}

func (p *fakeProfile) take(pass []byte) []byte {
	p.handed = append(p.handed, pass)
	c := append([]byte(nil), pass...)
	clear(pass) // as sotto.NewPassphrase does
	return c
}

func (p *fakeProfile) Exists() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exists, nil
}

func (p *fakeProfile) Init(ctx context.Context, pass []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exists {
		return errors.New("sotto: the profile exists")
	}
	p.pass = p.take(pass)
	p.exists = true
	return nil
}

func (p *fakeProfile) Open(ctx context.Context, pass []byte) (Engine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	got := p.take(pass)
	if !p.exists || string(got) != string(p.pass) {
		return nil, errWrongPassphrase
	}
	p.opened++
	return p.eng, nil
}

func (p *fakeProfile) CheckPassphrase(e Engine, pass []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if string(p.take(pass)) != string(p.pass) {
		return errWrongPassphrase
	}
	return nil
}

func (p *fakeProfile) NewIdentity(ctx context.Context, e Engine, name string, ephemeral, open bool) (sotto.IdentityInfo, error) {
	return p.eng.NewIdentity(ctx, name, sotto.IdentityOptions{Ephemeral: ephemeral, Open: open})
}

func (p *fakeProfile) Panic(e Engine) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.panicked = true
	if e != nil {
		return e.Close()
	}
	return nil
}

func (p *fakeProfile) QRCode(text string) string { return sottotest.QRCode(text) }
func (p *fakeProfile) CheckCode(code string) error {
	return sotto.CheckCode(code)
}

const testPass = "correct horse battery staple"

// harness drives a root model synchronously: it runs every command a
// message returns and feeds the results back, with no timers and no
// goroutines. Ticks and engine events are sent by the test.
type harness struct {
	t    testing.TB
	m    *Model
	prof *fakeProfile
	eng  *sottotest.Engine
	now  time.Time
	quit bool
	// titles are the window titles the UI asked for.
	titles []string
}

func newHarness(t testing.TB, exists bool) *harness {
	t.Helper()
	return newHarnessConfig(t, exists, Config{})
}

func newHarnessConfig(t testing.TB, exists bool, c Config) *harness {
	t.Helper()
	eng := sottotest.New(func() time.Time { return t0 })
	prof := &fakeProfile{eng: eng, exists: exists}
	if exists {
		prof.pass = []byte(testPass)
	}
	h := &harness{t: t, prof: prof, eng: eng, now: t0}
	h.m = New(context.Background(), prof, c, func() time.Time { return t0 })
	h.m.background = false
	t.Cleanup(func() { h.m.Close() })
	h.run(h.m.Init())
	return h
}

// run executes cmd and feeds the messages it produces to the model.
func (h *harness) run(cmd tea.Cmd) {
	h.t.Helper()
	queue := []tea.Cmd{cmd}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 10000 {
			h.t.Fatal("harness: the model does not settle")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg := c()
		if reflect.TypeOf(msg) != nil && reflect.TypeOf(msg).String() == "tea.setWindowTitleMsg" {
			h.titles = append(h.titles, fmt.Sprint(msg))
		}
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		case tea.QuitMsg:
			h.quit = true
		default:
			_, next := h.m.Update(msg)
			queue = append(queue, next)
		}
	}
}

func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	_, cmd := h.m.Update(msg)
	h.run(cmd)
}

var namedKeys = map[string]tea.KeyType{
	"enter": tea.KeyEnter, "esc": tea.KeyEsc, "tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab,
	"up": tea.KeyUp, "down": tea.KeyDown, "pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown,
	"backspace": tea.KeyBackspace, "space": tea.KeySpace, "f1": tea.KeyF1,
	"ctrl+c": tea.KeyCtrlC, "ctrl+l": tea.KeyCtrlL, `ctrl+\`: tea.KeyCtrlBackslash,
	"ctrl+o": tea.KeyCtrlO, "ctrl+t": tea.KeyCtrlT, "ctrl+u": tea.KeyCtrlU, "ctrl+y": tea.KeyCtrlY,
	"ctrl+j": tea.KeyCtrlJ, "ctrl+v": tea.KeyCtrlV, "f12": tea.KeyF12, "ctrl+s": tea.KeyCtrlS, "ctrl+a": tea.KeyCtrlA, "ctrl+g": tea.KeyCtrlG, "ctrl+k": tea.KeyCtrlK, "f2": tea.KeyF2,
	"home": tea.KeyHome, "end": tea.KeyEnd, "ctrl+home": tea.KeyCtrlHome, "ctrl+end": tea.KeyCtrlEnd,
}

// key presses named keys ("enter", "ctrl+l", "alt+enter") or single runes.
func (h *harness) key(names ...string) {
	h.t.Helper()
	for _, n := range names {
		alt := false
		if rest, ok := strings.CutPrefix(n, "alt+"); ok {
			alt, n = true, rest
		}
		if t, ok := namedKeys[n]; ok {
			h.send(tea.KeyMsg{Type: t, Alt: alt})
			continue
		}
		if len([]rune(n)) != 1 {
			h.t.Fatalf("harness: unknown key %q", n)
		}
		h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(n), Alt: alt})
	}
}

// typ types text as one key message per rune.
func (h *harness) typ(text string) {
	h.t.Helper()
	for _, r := range text {
		if r == ' ' {
			h.send(tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}})
			continue
		}
		h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

// paste sends text as one bracketed paste.
func (h *harness) paste(text string) {
	h.t.Helper()
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(text), Paste: true})
}

// tick advances the clock by d and sends a tick.
func (h *harness) tick(d time.Duration) {
	h.t.Helper()
	h.now = h.now.Add(d)
	h.send(tickMsg(h.now))
}

// event delivers an engine event as the event reader would.
func (h *harness) event(ev sotto.Event) {
	h.t.Helper()
	h.send(eventMsg{ev})
}

func (h *harness) view() string { return h.m.View() }

func (h *harness) wantPage(p page) {
	h.t.Helper()
	if h.m.page != p {
		h.t.Fatalf("page = %d, want %d\n%s", h.m.page, p, h.view())
	}
}

func (h *harness) wantView(sub string) {
	h.t.Helper()
	if !strings.Contains(h.view(), sub) {
		h.t.Fatalf("view does not contain %q:\n%s", sub, h.view())
	}
}

func (h *harness) wantNoView(sub string) {
	h.t.Helper()
	if strings.Contains(h.view(), sub) {
		h.t.Fatalf("view contains %q:\n%s", sub, h.view())
	}
}

// golden compares the view with testdata/name.golden (-update rewrites it).
func (h *harness) golden(name string) {
	h.t.Helper()
	got := h.view()
	if strings.ContainsRune(got, 0x1b) {
		h.t.Fatalf("%s: view holds an escape character with the Ascii profile:\n%q", name, got)
	}
	lines := strings.Split(got, "\n")
	if len(lines) != h.m.s.height {
		h.t.Errorf("%s: view has %d lines, want %d", name, len(lines), h.m.s.height)
	}
	for i, l := range lines {
		if w := lipgloss.Width(l); w > h.m.s.width {
			h.t.Errorf("%s: line %d is %d cells wide, more than %d: %q", name, i+1, w, h.m.s.width, l)
		}
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			h.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		h.t.Fatalf("%v (run go test ./tui -update to create it)", err)
	}
	if got != string(want) {
		h.t.Errorf("%s: view differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

// unlocked returns a harness past the unlock screen, with alice (online,
// open mode) and bob, carol as her contacts, on alice's contact list.
func unlocked(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t, true)
	seed(h.eng)
	h.typ(testPass)
	h.key("enter")
	h.wantPage(pageConversations) // where a profile with conversations opens
	h.key("esc")
	h.wantPage(pageIdentities)
	return h
}

func seed(e *sottotest.Engine) {
	e.AddIdentity(sotto.IdentityInfo{Name: "alice", Onion: sottotest.Onion("alice"), Online: true, Open: true})
	e.AddIdentity(sotto.IdentityInfo{Name: "burner", Onion: sottotest.Onion("burner"), Ephemeral: true})
	e.PutContact(sotto.ContactInfo{Identity: "alice", Name: "bob", Onion: sottotest.Onion("bob"), Online: true, Verified: true, Unread: 2, Timer: time.Hour, History: true})
	e.PutContact(sotto.ContactInfo{Identity: "alice", Name: "carol", Onion: sottotest.Onion("carol"), History: false})
	e.PutRequest(sotto.Request{ID: "r1", Identity: "alice", Onion: sottotest.Onion("stranger"), Text: "I have documents about the port authority.", At: t0.Add(-20 * time.Minute)})
	e.PutRequest(sotto.Request{ID: "r2", Identity: "alice", Onion: sottotest.Onion("spammer"), Text: "\x1b]0;owned\x07hi \x1b[2J\u202egnp.exe", At: t0.Add(-5 * time.Minute)})
	e.PutMessages(
		sotto.Message{ID: sottotest.ID(1), Identity: "alice", Contact: "bob", Dir: sotto.Incoming, Text: "Are you there? I can talk now.", At: t0.Add(-30 * time.Minute)},
		sotto.Message{ID: sottotest.ID(2), Identity: "alice", Contact: "bob", Dir: sotto.Outgoing, Text: "Yes. Use this channel only from now on.", At: t0.Add(-29 * time.Minute), State: sotto.Delivered},
		sotto.Message{ID: sottotest.ID(3), Identity: "alice", Contact: "bob", Dir: sotto.Outgoing, Kind: sotto.TimerMessage, Timer: time.Hour, At: t0.Add(-28 * time.Minute)},
		sotto.Message{ID: sottotest.ID(4), Identity: "alice", Contact: "bob", Dir: sotto.Incoming, Text: "Understood. The files are large; I will send the summary first. It is long enough to wrap onto a second line of the conversation view.", At: t0.Add(-10 * time.Minute), ExpiresAt: t0.Add(50 * time.Minute)},
		sotto.Message{ID: sottotest.ID(5), Identity: "alice", Contact: "bob", Dir: sotto.Incoming, Text: "\x1b[31mRED\x1b[0m \x1b]0;pwned\x07title \x1b[2J\x1b[Hclear \u202eevil\u202c\nsecond line", At: t0.Add(-2 * time.Minute), ExpiresAt: t0.Add(58 * time.Minute)},
		sotto.Message{ID: sottotest.ID(6), Identity: "alice", Contact: "bob", Dir: sotto.Outgoing, Text: "Got it.", At: t0.Add(-1 * time.Minute), State: sotto.Sent, ExpiresAt: t0.Add(59 * time.Minute)},
		sotto.Message{ID: sottotest.ID(7), Identity: "alice", Contact: "bob", Dir: sotto.Outgoing, Text: "Sending the rest when you confirm.", At: t0, State: sotto.Pending, ExpiresAt: t0.Add(time.Hour)},
	)
	e.SetSafetyCode("alice", "bob", "48213 99021 57310 08842 61177 35509 72046 11893 40527 96314 05768 23190")
}
