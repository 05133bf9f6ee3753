// Package headless fuzzes the command decoder of the headless mode: any line
// a script (or whatever sits on the other end of a qrexec pipe) writes.
package headless

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/sottochat/sotto/fuzz/fuzzcheck"
	"github.com/sottochat/sotto/headless"
)

// FuzzParseCommand checks that ParseCommand never panics, fails only with a
// *headless.CommandError, and that a parsed command marshals to a line that
// parses back to the same command (and marshals to the same bytes again).
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
		`{"cmd":"ping"} {}`,
		`[]`, `null`, `{}`, `"cmd"`, "{\"cmd\":\"ping\",\"tag\":\"\xff\"}",
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
