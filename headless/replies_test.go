package headless_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/headless"
)

// A command naming a contact the identity lacks gets an error that says
// which name was looked up and, when one contact is the obvious match, asks
// about it; otherwise it says how to list the contacts. The code stays
// "unknown_contact", the name is escaped, and nothing goes to the suggested
// contact.
func TestUnknownContactReplyNamesAndSuggests(t *testing.T) {
	e := withAlice()
	e.PutContact(sotto.ContactInfo{Identity: "alice", Name: "bob"})
	s := start(t, e)
	cases := []struct{ name, line, want string }{
		{"send, other case", `{"cmd":"send","identity":"alice","contact":"Bob","text":"x","tag":"s"}`,
			`sotto: no contact named "Bob" (did you mean "bob"?)`},
		{"messages, typo", `{"cmd":"messages","identity":"alice","contact":"bbo"}`,
			`sotto: no contact named "bbo" (did you mean "bob"?)`},
		{"send, nothing near", `{"cmd":"send","identity":"alice","contact":"zed","text":"x"}`,
			`sotto: no contact named "zed"; the "contacts" command lists the identity's contacts`},
		{"bidi override and escape in the name", `{"cmd":"verify","identity":"alice","contact":"b\u202eob\u001b[2J"}`,
			`sotto: no contact named "b\u202eob\x1b[2J"; the "contacts" command lists the identity's contacts`},
	}
	for _, c := range cases {
		r := s.call(c.line)
		want(t, r, "event", "error")
		want(t, r, "code", "unknown_contact")
		if r["error"] != c.want {
			t.Errorf("%s: error %q\nwant %q", c.name, r["error"], c.want)
		}
	}
	ms := s.call(`{"cmd":"messages","identity":"alice","contact":"bob"}`)["messages"].([]any)
	if len(ms) != 0 {
		t.Fatalf("a command to a mistyped name reached bob: %v", ms)
	}
}

// Every reply carries the number of the input line it answers, counting
// blank and overlong lines, through the pipelined sends too; a line that is
// not a valid command echoes its tag whenever the tag could be read.
func TestRepliesCarryLineNumberAndReadableTag(t *testing.T) {
	e := withAlice()
	e.PutContact(sotto.ContactInfo{Identity: "alice", Name: "bob"})
	in := strings.Join([]string{
		``,                          // 1
		`{"cmd":"ping","tag":"p1"}`, // 2
		`{"cmd":"send","identity":"alice","contact":"bob","text":"one"}`,    // 3
		`{"cmd":"send","identity":"alice","contact":"nobody","text":"two"}`, // 4
		`   `, // 5
		`{"cmd":"send","identity":"alice","contact":"bob","text":"three"}`,          // 6
		`{"cmd":"ping","tag":"` + strings.Repeat("x", headless.MaxLineBytes) + `"}`, // 7: too long
		`{"cmd":"send","tag":"cut","identity":"al`,                                  // 8: cut off
		`[1,2]`,                                // 9
		`{"tag":"t10","cmd":"ping","bogus":1}`, // 10: unknown field
		`{"cmd":"timer","tag":"t11","identity":"alice","contact":"bob","seconds":"30"}`, // 11: wrong type
		`{"cmd":"ping","tag":"` + strings.Repeat("y", headless.MaxTagBytes+1) + `","x`,  // 12: tag too long
		`{"cmd":"ping"}` + "\r",      // 13
		`{"cmd":"ping","tag":"end"}`, // 14, no newline
	}, "\n")
	var out strings.Builder
	if err := headless.Run(context.Background(), e, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	type reply struct {
		Event string
		Tag   string
		Line  int
		Code  string
	}
	wantReplies := []reply{
		{"ok", "p1", 2, ""},
		{"ok", "", 3, ""},
		{"error", "", 4, "unknown_contact"},
		{"ok", "", 6, ""},
		{"error", "", 7, "bad_command"},
		{"error", "cut", 8, "bad_command"},
		{"error", "", 9, "bad_command"},
		{"error", "t10", 10, "bad_command"},
		{"error", "t11", 11, "bad_command"},
		{"error", "", 12, "bad_command"},
		{"ok", "", 13, ""},
		{"ok", "end", 14, ""},
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(wantReplies) {
		t.Fatalf("%d replies, want %d:\n%s", len(lines), len(wantReplies), out.String())
	}
	for i, l := range lines {
		var got reply
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("reply %d: %v: %s", i, err, l)
		}
		if got != wantReplies[i] {
			t.Errorf("reply %d = %+v, want %+v\n%s", i, got, wantReplies[i], l)
		}
	}
}

// ParseCommand's error carries the tag of a line that is a JSON object up
// to its tag at least, and only a tag that is a string within the limit.
func TestParseCommandErrorTag(t *testing.T) {
	cases := []struct{ name, line, tag string }{
		{"cut after the tag", `{"tag":"a","cmd":"se`, "a"},
		{"cut inside the tag", `{"cmd":"ping","tag":"ab`, ""},
		{"unknown field", `{"cmd":"ping","tag":"b","nope":true}`, "b"},
		{"unknown field before the tag", `{"nope":{"tag":"inner"},"tag":"c","cmd":"ping"}`, "c"},
		{"nested tag only", `{"x":{"tag":"inner"},"cmd":"ping","y":`, ""},
		{"tag not a string", `{"cmd":"ping","tag":5}`, ""},
		{"two tags, last counts", `{"tag":"d","tag":"e","cmd":"ping","bad"`, "e"},
		{"not an object", `["tag","f"]`, ""},
		{"missing field", `{"cmd":"send","tag":"g"}`, "g"},
	}
	for _, c := range cases {
		_, err := headless.ParseCommand([]byte(c.line))
		ce, ok := err.(*headless.CommandError)
		if !ok {
			t.Fatalf("%s: error %T %v", c.name, err, err)
		}
		if ce.Tag != c.tag {
			t.Errorf("%s: tag %q, want %q", c.name, ce.Tag, c.tag)
		}
	}
}

// A line cut off inside its object is told so, not that it is no object at
// all; a line that is truly not an object, cut or whole, or a whole object
// with a bad character in it, keeps "not a JSON object". Both are
// bad_command, through Run as well, and carry the tag when it was read.
func TestCutOffLineSaysItEndsEarly(t *testing.T) {
	const cut, notObject, invalid = "the line ends before its JSON object does (cut off?)", "not a JSON object", "the line is not valid JSON after byte"
	cases := []struct{ line, msg string }{
		{`{"cmd":"send","identity":"a",`, cut},
		{`{"cmd":"send","tag":"c1","identity":"al`, cut},
		{`{"cmd":"ping"`, cut},
		{`  {"cmd":"ping","seconds":1e`, cut},
		{`{"cmd":"send","x":[1,{"y":`, cut},
		{`{`, cut},
		{`{"cmd":"ping" `, cut},
		{`hello`, notObject},
		{`[1,2`, notObject},
		{`"abc`, notObject},
		{`null`, notObject},
		{`{"cmd":x`, invalid + " 8 (invalid character 'x' looking for beginning of value)"},
		{`{"cmd" "ping"}`, invalid + " 8 (invalid character '\"' after object key)"},
		{`  {"cmd":"ping",,}`, invalid + " 17 (invalid character ',' looking for beginning of object key string)"},
	}
	for _, c := range cases {
		_, err := headless.ParseCommand([]byte(c.line))
		var ce *headless.CommandError
		if !errors.As(err, &ce) {
			t.Fatalf("%s: error %T %v", c.line, err, err)
		}
		if !strings.Contains(ce.Msg, c.msg) {
			t.Errorf("%s: %q, want it to say %q", c.line, ce.Msg, c.msg)
		}
		for _, other := range []string{cut, notObject, invalid} {
			if !strings.HasPrefix(c.msg, other) && strings.Contains(ce.Msg, other) {
				t.Errorf("%s: %q also says %q", c.line, ce.Msg, other)
			}
		}
	}

	var out strings.Builder
	in := `{"cmd":"send","tag":"c2","identity":"al` + "\n" + `{"cmd":"ping","tag":"p"}`
	if err := headless.Run(context.Background(), withAlice(), strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d replies, want 2:\n%s", len(lines), out.String())
	}
	var r struct{ Event, Tag, Code, Error string }
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil {
		t.Fatal(err)
	}
	if r.Event != "error" || r.Tag != "c2" || r.Code != "bad_command" || !strings.Contains(r.Error, cut) {
		t.Fatalf("reply to a cut-off line: %s", lines[0])
	}
	if !strings.Contains(lines[1], `"event":"ok"`) {
		t.Fatalf("after a cut-off line: %s", lines[1])
	}
}
