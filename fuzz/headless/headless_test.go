// Package headless fuzzes the command decoder of the headless mode: any line
// a script (or whatever sits on the other end of a qrexec pipe) writes.
package headless

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/fuzz/fuzzcheck"
	"github.com/sottochat/sotto/headless"
	"github.com/sottochat/sotto/sottotest"
)

// FuzzParseCommand checks that ParseCommand never panics, fails only with a
// *headless.CommandError whose echoed tag is valid UTF-8 within MaxTagBytes,
// and that a parsed command marshals to a line that parses back to the same
// command (and marshals to the same bytes again).
func FuzzParseCommand(f *testing.F) {
	seeds := []string{
		`{"cmd":"ping"}`,
		`{"cmd":"quit","tag":"q"}`,
		`{"cmd":"send","identity":"alice","contact":"bob","text":"hello \u00e9 \u001b[2J"}`,
		`{"cmd":"timer","identity":"alice","contact":"bob","seconds":30}`,
		`{"cmd":"timer","identity":"alice","contact":"bob","seconds":0}`,
		`{"cmd":"history","identity":"alice","contact":"bob","keep":false}`,
		`{"cmd":"new_identity","identity":"tips","open":true,"ephemeral":false}`,
		`{"cmd":"add_contact","identity":"alice","contact":"bob","code":"sotto1-xyz"}`,
		`{"cmd":"accept","identity":"tips","request":"r1","contact":"source"}`,
		`{"cmd":"reject","identity":"tips","request":"r1"}`,
		`{"cmd":"messages","identity":"a","contact":"b","tag":"\ud83d\ude00"}`,
		`{"cmd":"send","identity":"a","contact":"b","text":"x","text":"y"}`,
		`{"cmd":"timer","identity":"a","contact":"b","seconds":1e3}`,
		`{"cmd":"wait","identity":"alice","contact":"bob","seconds":120,"tag":"w1"}`,
		`{"cmd":"wait","identity":"alice"}`,
		`{"cmd":"wait","identity":"alice","seconds":3601}`,
		`{"cmd":"ping"} {}`,
		`[]`, `null`, `{}`, `"cmd"`, "{\"cmd\":\"ping\",\"tag\":\"\xff\"}",
		`{"cmd":"send","tag":"cut","identity":"al`, `{"tag":"a","tag":{"x":1},"cmd":"ping","nope":1}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, line []byte) {
		c, err := headless.ParseCommand(line)
		if err != nil {
			var ce *headless.CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if len(ce.Tag) > headless.MaxTagBytes || !utf8.ValidString(ce.Tag) {
				t.Fatalf("error echoes tag %q", ce.Tag)
			}
			return
		}
		b, err := c.MarshalLine()
		if err != nil {
			t.Fatalf("marshal %+v: %v", c, err)
		}
		if bytes.IndexByte(b, '\n') >= 0 {
			t.Fatalf("marshalled command spans lines: %q", b)
		}
		c2, err := headless.ParseCommand(b)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", b, err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip changed the command:\n%+v\n%+v", c, c2)
		}
		b2, err := c2.MarshalLine()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("marshal not stable: %q vs %q (%v)", b, b2, err)
		}
	})
}

// FuzzOutputText checks that any text the engine hands back (here a contact
// code holding the fuzzed string) reaches stdout as one JSON line without a
// raw control, DEL, C1 or bidi formatting character, and decodes back to
// the same text.
func FuzzOutputText(f *testing.F) {
	seeds := []string{"plain", "\x1b[2J\x07", "\u009b31m", "\u202eevil\u202c", "\u2066\u2069\u200f", "é日本\U0001F600", "\x7f\x00\n\r\t", "\"\\/<>&"}
	for _, s := range seeds {
		f.Add(s)
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) {
			return // the engine's strings are valid UTF-8; JSON would replace invalid bytes
		}
		e := sottotest.New(nil)
		e.AddIdentity(sotto.IdentityInfo{Name: "a", Onion: text})
		var out bytes.Buffer
		if err := headless.Run(context.Background(), e, strings.NewReader(`{"cmd":"identities"}`+"\n"), &out); err != nil {
			t.Fatal(err)
		}
		line := out.Bytes()
		if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
			t.Fatalf("not one line: %q", line)
		}
		for _, r := range string(line[:len(line)-1]) {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x061c || r == 0x200e || r == 0x200f ||
				(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
				t.Fatalf("raw %U in output %q", r, line)
			}
		}
		var m struct {
			Identities []struct{ Onion string }
		}
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("output is not JSON: %v: %q", err, line)
		}
		if len(m.Identities) != 1 || m.Identities[0].Onion != text {
			t.Fatalf("decoded %+v, want one identity with onion %q", m, text)
		}
	})
}
