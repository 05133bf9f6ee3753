package headless_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/headless"
	"github.com/sottochat/sotto/sottotest"
)

var _ headless.Engine = (*sottotest.Engine)(nil)

// session runs headless.Run over pipes against a fake engine.
type session struct {
	t    *testing.T
	e    *sottotest.Engine
	in   *io.PipeWriter
	out  *bufio.Reader
	done chan error
}

func start(t *testing.T, e *sottotest.Engine) *session {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{t: t, e: e, in: inW, out: bufio.NewReader(outR), done: make(chan error, 1)}
	go func() {
		err := headless.Run(ctx, e, inR, outW)
		outW.CloseWithError(io.EOF)
		s.done <- err
	}()
	t.Cleanup(func() {
		cancel()
		inW.Close()
		go io.Copy(io.Discard, outR) // let a pending write finish
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return s
}

func (s *session) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		s.t.Fatalf("write %q: %v", line, err)
	}
}

// next reads one output line as a JSON object; the deadline only guards
// against a hang, the test never waits on it in the normal case.
func (s *session) next() map[string]any {
	s.t.Helper()
	type res struct {
		line string
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		l, err := s.out.ReadString('\n')
		ch <- res{l, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			s.t.Fatalf("reading output: %v (partial %q)", r.err, r.line)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(r.line), &m); err != nil {
			s.t.Fatalf("output line is not one JSON object: %q: %v", r.line, err)
		}
		return m
	case <-time.After(10 * time.Second):
		s.t.Fatal("no output line within 10s")
	}
	return nil
}

// call sends a command and returns its reply.
func (s *session) call(line string) map[string]any {
	s.t.Helper()
	s.send(line)
	return s.next()
}

func want(t *testing.T, m map[string]any, key string, v any) {
	t.Helper()
	if fmt.Sprint(m[key]) != fmt.Sprint(v) {
		t.Fatalf("%s = %v, want %v (in %v)", key, m[key], v, m)
	}
}

func withAlice() *sottotest.Engine {
	e := sottotest.New(nil)
	e.AddIdentity(sotto.IdentityInfo{Name: "alice", Onion: strings.Repeat("a", 56)})
	return e
}

func TestPingQuit(t *testing.T) {
	s := start(t, withAlice())
	r := s.call(`{"cmd":"ping","tag":"t1"}`)
	want(t, r, "event", "ok")
	want(t, r, "cmd", "ping")
	want(t, r, "tag", "t1")
	r = s.call(`{"cmd":"quit"}`)
	want(t, r, "event", "ok")
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("Run after quit: %v", err)
		}
		s.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after quit")
	}
}

func TestEndOfInputEndsRun(t *testing.T) {
	s := start(t, withAlice())
	want(t, s.call(`{"cmd":"ping"}`), "event", "ok")
	s.in.Close()
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("Run at end of input: %v", err)
		}
		s.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return at end of input")
	}
}

func TestMalformedLinesGetErrorsAndRunCarriesOn(t *testing.T) {
	s := start(t, withAlice())
	cases := []struct{ name, line, msg string }{
		{"not json", `hello`, "not a JSON object"},
		{"array", `[1,2]`, "not a JSON object"},
		{"unknown cmd", `{"cmd":"frob","tag":"x"}`, "unknown command"},
		{"missing field", `{"cmd":"send","identity":"alice","contact":"bob"}`, `missing "text"`},
		{"typo field", `{"cmd":"send","identity":"alice","contcat":"bob","text":"hi"}`, "unknown field"},
		{"foreign field", `{"cmd":"ping","text":"hi"}`, "does not apply"},
		{"wrong type", `{"cmd":"timer","identity":"alice","contact":"bob","seconds":"30"}`, "wrong type"},
		{"negative timer", `{"cmd":"timer","identity":"alice","contact":"bob","seconds":-1}`, "out of range"},
		{"trailing", `{"cmd":"ping"} {"cmd":"ping"}`, "trailing data"},
		{"null", `null`, "not a JSON object"},
		{"bad utf8", "{\"cmd\":\"ping\",\"tag\":\"\xff\"}", "UTF-8"},
		{"empty name", `{"cmd":"card","identity":""}`, "must not be empty"},
	}
	for _, c := range cases {
		r := s.call(c.line)
		want(t, r, "event", "error")
		want(t, r, "code", "bad_command")
		if !strings.Contains(fmt.Sprint(r["error"]), c.msg) {
			t.Errorf("%s: error %q does not say %q", c.name, r["error"], c.msg)
		}
	}
	want(t, s.call(`{"cmd":"ping"}`), "event", "ok")
	if calls := s.e.Calls(); len(calls) != 0 {
		t.Fatalf("malformed lines reached the engine: %v", calls)
	}
}

func TestErrorReplyKeepsTag(t *testing.T) {
	s := start(t, withAlice())
	r := s.call(`{"cmd":"send","tag":"q7","identity":"alice","contact":"nobody","text":"x"}`)
	want(t, r, "event", "error")
	want(t, r, "cmd", "send")
	want(t, r, "tag", "q7")
	if !strings.Contains(fmt.Sprint(r["error"]), `no contact named "nobody"`) || r["code"] != "unknown_contact" {
		t.Fatalf("error %v", r["error"])
	}
	r = s.call(`{"cmd":"send","tag":"q8","identity":"alice","contact":"nobody"}`)
	want(t, r, "tag", "q8")
}

func TestOverlongLineIsSkipped(t *testing.T) {
	s := start(t, withAlice())
	long := `{"cmd":"send","identity":"alice","contact":"bob","text":"` + strings.Repeat("x", headless.MaxLineBytes) + `"}`
	go s.send(long) // the pipe blocks until Run has read it all
	r := s.next()
	want(t, r, "event", "error")
	if !strings.Contains(fmt.Sprint(r["error"]), "longer than") {
		t.Fatalf("error %v", r["error"])
	}
	want(t, s.call(`{"cmd":"ping","tag":"after"}`), "tag", "after")
	// A line of exactly the limit is read (and then judged as JSON).
	exact := `{"cmd":"ping","tag":"` + strings.Repeat("y", headless.MaxLineBytes-len(`{"cmd":"ping","tag":""}`)) + `"}`
	if len(exact) != headless.MaxLineBytes {
		t.Fatalf("test line is %d bytes", len(exact))
	}
	go s.send(exact)
	r = s.next()
	if !strings.Contains(fmt.Sprint(r["error"]), "tag longer") {
		t.Fatalf("line at the limit: %v", r)
	}
}

func TestContactFlow(t *testing.T) {
	e := withAlice()
	s := start(t, e)
	r := s.call(`{"cmd":"card","identity":"alice"}`)
	want(t, r, "contact_code", sottotest.MakeCode("alice"))
	r = s.call(`{"cmd":"add_contact","identity":"alice","contact":"bob","code":"` + sottotest.MakeCode("bob") + `"}`)
	want(t, r, "event", "ok")
	info := r["contact_info"].(map[string]any)
	want(t, info, "name", "bob")
	r = s.call(`{"cmd":"contacts","identity":"alice"}`)
	if cs := r["contacts"].([]any); len(cs) != 1 {
		t.Fatalf("contacts %v", cs)
	}
	want(t, s.call(`{"cmd":"verify","identity":"alice","contact":"bob"}`), "event", "ok")
	want(t, s.call(`{"cmd":"safety_code","identity":"alice","contact":"bob"}`), "safety_code", must(e.SafetyCode("alice", "bob")))
	want(t, s.call(`{"cmd":"timer","identity":"alice","contact":"bob","seconds":30}`), "event", "ok")
	r = s.call(`{"cmd":"timer","identity":"alice","contact":"bob","seconds":5}`)
	want(t, r, "event", "error")
	want(t, s.call(`{"cmd":"history","identity":"alice","contact":"bob","keep":false}`), "event", "ok")
	r = s.call(`{"cmd":"contacts","identity":"alice"}`)
	c := r["contacts"].([]any)[0].(map[string]any)
	want(t, c, "verified", true)
	want(t, c, "timer_seconds", 30)
	want(t, c, "history", false)
	want(t, s.call(`{"cmd":"remove_contact","identity":"alice","contact":"bob"}`), "event", "ok")
	r = s.call(`{"cmd":"contacts","identity":"alice"}`)
	if cs := r["contacts"].([]any); len(cs) != 0 {
		t.Fatalf("contacts after remove %v", cs)
	}
	want(t, s.call(`{"cmd":"burn","identity":"alice"}`), "event", "ok")
	r = s.call(`{"cmd":"identities"}`)
	if ids := r["identities"].([]any); len(ids) != 0 {
		t.Fatalf("identities after burn %v", ids)
	}
}

func TestSendAndEvents(t *testing.T) {
	e := withAlice()
	s := start(t, e)
	s.call(`{"cmd":"add_contact","identity":"alice","contact":"bob","code":"` + sottotest.MakeCode("bob") + `"}`)
	r := s.call(`{"cmd":"send","identity":"alice","contact":"bob","text":"hello \u001b[31m"}`)
	want(t, r, "event", "ok")
	id := fmt.Sprint(r["message"])
	if len(id) != 32 {
		t.Fatalf("message id %q", id)
	}
	var mid sotto.MessageID
	if err := mid.UnmarshalText([]byte(id)); err != nil {
		t.Fatal(err)
	}
	exp := time.Date(2026, 11, 22, 3, 0, 30, 0, time.UTC)
	e.Emit(sotto.TorEvent{Status: sotto.TorStatus{State: sotto.TorBootstrapping, Percent: 45, Summary: "Loading"}})
	e.Emit(sotto.IdentityEvent{Identity: "alice", Onion: strings.Repeat("a", 56), Online: true})
	e.Emit(sotto.ContactEvent{Identity: "alice", Contact: "bob", Online: true})
	e.Emit(sotto.SentEvent{Identity: "alice", Contact: "bob", ID: mid})
	e.Emit(sotto.DeliveredEvent{Identity: "alice", Contact: "bob", ID: mid})
	e.Emit(sotto.MessageEvent{Message: sotto.Message{ID: mid, Identity: "alice", Contact: "bob", Dir: sotto.Incoming, Text: "hi", At: exp.Add(-30 * time.Second), ExpiresAt: exp}})
	e.Emit(sotto.MessageEvent{Message: sotto.Message{ID: mid, Identity: "alice", Contact: "bob", Dir: sotto.Incoming, Text: "forever"}})
	e.Emit(sotto.MessageEvent{Message: sotto.Message{ID: mid, Identity: "alice", Contact: "bob", Dir: sotto.Incoming, Kind: sotto.TimerMessage, Timer: time.Minute}})
	e.Emit(sotto.ExpiredEvent{Identity: "alice", Contact: "bob", ID: mid})
	e.Emit(sotto.RequestEvent{Request: sotto.Request{ID: "r1", Identity: "alice", Onion: strings.Repeat("c", 56), Text: "let me in"}})
	e.Emit(sotto.ContactEvent{Identity: "alice", Contact: "bob", Online: false})
	e.Emit(sotto.ErrorEvent{Err: errors.New("tor: restarting")})
	wantLines := []map[string]any{
		{"event": "tor", "progress": 45, "state": "bootstrapping"},
		{"event": "ready", "identity": "alice", "onion": strings.Repeat("a", 56)},
		{"event": "contact", "identity": "alice", "contact": "bob", "state": "online"},
		{"event": "sent", "message": id, "contact": "bob"},
		{"event": "delivered", "message": id},
		{"event": "message", "identity": "alice", "contact": "bob", "message": id, "text": "hi", "expires_at": "2026-11-22T03:00:30Z"},
		{"event": "message", "text": "forever", "expires_at": nil},
		{"event": "timer", "seconds": 60, "by": "contact"},
		{"event": "expired", "message": id},
		{"event": "request", "request": "r1", "text": "let me in"},
		{"event": "contact", "state": "offline"},
		{"event": "error", "error": "tor: restarting"},
	}
	for _, w := range wantLines {
		got := s.next()
		for k, v := range w {
			if v == nil {
				if x, ok := got[k]; !ok || x != nil {
					t.Fatalf("%s: %s = %v (present %v), want null", w["event"], k, x, ok)
				}
				continue
			}
			want(t, got, k, v)
		}
	}
	r = s.call(`{"cmd":"messages","identity":"alice","contact":"bob"}`)
	ms := r["messages"].([]any)
	if len(ms) != 1 {
		t.Fatalf("messages %v", ms)
	}
	m := ms[0].(map[string]any)
	want(t, m, "text", "hello \x1b[31m")
	want(t, m, "direction", "out")
	want(t, m, "state", "pending")
	if x, ok := m["expires_at"]; !ok || x != nil {
		t.Fatalf("expires_at %v", x)
	}
}

// A command that blocks in the engine does not hold up events.
func TestEventsFlowWhileCommandBlocks(t *testing.T) {
	e := withAlice()
	s := start(t, e)
	s.call(`{"cmd":"add_contact","identity":"alice","contact":"bob","code":"` + sottotest.MakeCode("bob") + `"}`)
	release := e.BlockSend()
	s.send(`{"cmd":"send","identity":"alice","contact":"bob","text":"slow","tag":"s"}`)
	e.Emit(sotto.ContactEvent{Identity: "alice", Contact: "bob", Online: true})
	want(t, s.next(), "event", "contact")
	release()
	r := s.next()
	want(t, r, "event", "ok")
	want(t, r, "tag", "s")
}

func TestRequests(t *testing.T) {
	e := withAlice()
	e.PutRequest(sotto.Request{ID: "r1", Identity: "alice", Onion: strings.Repeat("c", 56), Text: "tip"})
	e.PutRequest(sotto.Request{ID: "r2", Identity: "alice", Onion: strings.Repeat("d", 56)})
	s := start(t, e)
	r := s.call(`{"cmd":"requests","identity":"alice"}`)
	if rs := r["requests"].([]any); len(rs) != 2 {
		t.Fatalf("requests %v", rs)
	}
	want(t, s.call(`{"cmd":"accept","identity":"alice","request":"r1","contact":"source"}`), "event", "ok")
	want(t, s.call(`{"cmd":"reject","identity":"alice","request":"r2"}`), "event", "ok")
	want(t, s.call(`{"cmd":"reject","identity":"alice","request":"r2"}`), "event", "error")
	r = s.call(`{"cmd":"contacts","identity":"alice"}`)
	want(t, r["contacts"].([]any)[0].(map[string]any), "name", "source")
	r = s.call(`{"cmd":"requests","identity":"alice"}`)
	if rs := r["requests"].([]any); len(rs) != 0 {
		t.Fatalf("requests left %v", rs)
	}
}

func TestStatus(t *testing.T) {
	s := start(t, withAlice())
	r := s.call(`{"cmd":"status"}`)
	tor := r["tor"].(map[string]any)
	want(t, tor, "state", "ready")
	want(t, tor, "progress", 100)
}

func TestEngineCloseEndsRun(t *testing.T) {
	e := withAlice()
	s := start(t, e)
	want(t, s.call(`{"cmd":"ping"}`), "event", "ok")
	e.Close()
	select {
	case err := <-s.done:
		if err == nil || !strings.Contains(err.Error(), "engine stopped") {
			t.Fatalf("Run: %v", err)
		}
		s.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when the engine closed")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestOutputErrorEndsRun(t *testing.T) {
	err := headless.Run(context.Background(), withAlice(), strings.NewReader("{\"cmd\":\"ping\"}\n{\"cmd\":\"ping\"}\n"), failWriter{})
	if err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("Run: %v", err)
	}
}

func TestNilContext(t *testing.T) {
	//lint:ignore SA1012 the nil context is the point of the test
	if err := headless.Run(nil, withAlice(), strings.NewReader(""), io.Discard); err == nil { //nolint:staticcheck
		t.Fatal("nil context accepted")
	}
}

func TestBlankAndCRLFLines(t *testing.T) {
	var out strings.Builder
	in := "\n   \n{\"cmd\":\"ping\",\"tag\":\"a\"}\r\n{\"cmd\":\"ping\",\"tag\":\"b\"}"
	if err := headless.Run(context.Background(), withAlice(), strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"tag":"a"`) || !strings.Contains(lines[1], `"tag":"b"`) {
		t.Fatalf("output %q", out.String())
	}
}

func TestNewIdentityAndErrorCodes(t *testing.T) {
	e := withAlice()
	s := start(t, e)
	r := s.call(`{"cmd":"new_identity","identity":"drop","ephemeral":true,"open":true}`)
	want(t, r, "event", "ok")
	info := r["identity_info"].(map[string]any)
	want(t, info, "name", "drop")
	want(t, info, "ephemeral", true)
	want(t, info, "open", true)
	cases := []struct{ line, code string }{
		{`{"cmd":"new_identity","identity":"drop"}`, "exists"},
		{`{"cmd":"card","identity":"nobody"}`, "unknown_identity"},
		{`{"cmd":"messages","identity":"alice","contact":"nobody"}`, "unknown_contact"},
		{`{"cmd":"add_contact","identity":"alice","contact":"x","code":"nonsense"}`, "bad_code"},
		{`{"cmd":"reject","identity":"alice","request":"r9"}`, "unknown_request"},
		{`{"cmd":"frob"}`, "bad_command"},
	}
	for _, c := range cases {
		r := s.call(c.line)
		want(t, r, "event", "error")
		want(t, r, "code", c.code)
	}
	s.call(`{"cmd":"add_contact","identity":"alice","contact":"bob","code":"` + sottotest.MakeCode("bob") + `"}`)
	r = s.call(`{"cmd":"timer","identity":"alice","contact":"bob","seconds":5}`)
	want(t, r, "code", "bad_timer")
	if calls := e.Calls(); calls[0] != "NewIdentity drop ephemeral=true open=true" {
		t.Fatalf("calls %v", calls)
	}
}

// Peer text reaches stdout with terminal controls and bidi overrides
// escaped, and decodes back to exactly the text the engine gave.
func TestUntrustedTextIsEscaped(t *testing.T) {
	e := withAlice()
	s := start(t, e)
	text := "hi \x1b[2J \x7f \u009b31m \u202eevil\u202c \u2067x\u2069 é 日本"
	var id sotto.MessageID
	e.Emit(sotto.MessageEvent{Message: sotto.Message{ID: id, Identity: "alice", Contact: "bob", Dir: sotto.Incoming, Text: text}})
	line, err := s.out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"\x1b", "\x7f", "\u009b", "\u202e", "\u2067"} {
		if strings.Contains(line, bad) {
			t.Fatalf("raw %q in output line %q", bad, line)
		}
	}
	if !strings.Contains(line, "é 日本") {
		t.Fatalf("ordinary text was escaped: %q", line)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil || m["text"] != text {
		t.Fatalf("decoded %q (%v), want %q", m["text"], err, text)
	}
}

// Run leaves no goroutine behind once it has returned and its input ended.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		var out strings.Builder
		in := strings.NewReader("{\"cmd\":\"ping\"}\n{\"cmd\":\"quit\"}\n{\"cmd\":\"ping\"}\n")
		if err := headless.Run(context.Background(), withAlice(), in, &out); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := headless.Run(ctx, withAlice(), strings.NewReader(""), &out); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Consecutive sends are pipelined: each is queued as soon as its line is
// read, while the ones before wait for their commit (BlockSend holds
// them); their replies come once stored, in the commands' order, an error
// among them in its place, and a command after them (ping) only after
// them.
func TestSendsArePipelined(t *testing.T) {
	e := withAlice()
	s := start(t, e)
	s.call(`{"cmd":"add_contact","identity":"alice","contact":"bob","code":"` + sottotest.MakeCode("bob") + `"}`)
	release := e.BlockSend()
	s.send(`{"cmd":"send","identity":"alice","contact":"bob","text":"one","tag":"a"}`)
	s.send(`{"cmd":"send","identity":"alice","contact":"nobody","text":"lost","tag":"b"}`)
	s.send(`{"cmd":"send","identity":"alice","contact":"bob","text":"three","tag":"c"}`)
	s.send(`{"cmd":"ping","tag":"p"}`)
	// All three were handed to the engine before the first was stored.
	sends := func() (n int) {
		for _, c := range e.Calls() {
			if strings.HasPrefix(c, "Send ") {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); sends() < 3; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("engine calls %q: the sends were not queued while the first waited for its commit", e.Calls())
		}
	}
	// No reply is out yet: the next line out is this event, not an "ok".
	e.Emit(sotto.ContactEvent{Identity: "alice", Contact: "bob", Online: true})
	want(t, s.next(), "event", "contact")
	release()
	// Each reply names its command's line (add_contact was line 1).
	r := s.next()
	want(t, r, "event", "ok")
	want(t, r, "tag", "a")
	want(t, r, "line", 2)
	if id, _ := r["message"].(string); id == "" {
		t.Fatalf("ok of a send without its message ID: %v", r)
	}
	r = s.next()
	want(t, r, "event", "error")
	want(t, r, "tag", "b")
	want(t, r, "line", 3)
	r = s.next()
	want(t, r, "event", "ok")
	want(t, r, "tag", "c")
	want(t, r, "line", 4)
	r = s.next()
	want(t, r, "tag", "p")
	want(t, r, "line", 5)
	ms := s.call(`{"cmd":"messages","identity":"alice","contact":"bob"}`)["messages"].([]any)
	if len(ms) != 2 || ms[0].(map[string]any)["text"] != "one" || ms[1].(map[string]any)["text"] != "three" {
		t.Fatalf("messages %v, want one then three", ms)
	}
}

// At the end of input, sends still in flight get their replies before Run
// returns.
func TestSendsInFlightAtEndOfInput(t *testing.T) {
	e := withAlice()
	e.PutContact(sotto.ContactInfo{Identity: "alice", Name: "bob"})
	var in strings.Builder
	for i := range 200 {
		fmt.Fprintf(&in, `{"cmd":"send","identity":"alice","contact":"bob","text":"m%d","tag":"t%d"}`+"\n", i, i)
	}
	var out strings.Builder
	if err := headless.Run(context.Background(), e, strings.NewReader(in.String()), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 200 {
		t.Fatalf("%d lines out for 200 sends", len(lines))
	}
	for i, l := range lines {
		if !strings.Contains(l, `"event":"ok"`) || !strings.Contains(l, fmt.Sprintf(`"tag":"t%d"`, i)) {
			t.Fatalf("line %d: %s", i, l)
		}
	}
}
