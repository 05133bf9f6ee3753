package record

import (
	"errors"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	good := []string{"alice", "Bob Smith", "источник", "a", strings.Repeat("x", MaxName)}
	bad := []string{"", strings.Repeat("x", MaxName+1), "a\nb", "a\x1b[31m", "\u202eevil", "a\u200bb", "\xff", "tab\there"}
	for _, s := range good {
		if !ValidName(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range bad {
		if ValidName(s) {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestStrictDecoding(t *testing.T) {
	ok := `{"v":1,"id":"AAAAAAAAAAAAAAAAAAAAAA==","kind":0,"text":"hi","at":1}`
	var o Outbox
	if err := Unmarshal([]byte(ok), &o); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]string{
		"unknown field": `{"v":1,"id":"AAAAAAAAAAAAAAAAAAAAAA==","kind":0,"text":"hi","at":1,"x":2}`,
		"trailing":      ok + `{}`,
		"version":       strings.Replace(ok, `"v":1`, `"v":2`, 1),
		"short id":      strings.Replace(ok, `AAAAAAAAAAAAAAAAAAAAAA==`, `AAAA`, 1),
		"empty text":    strings.Replace(ok, `"hi"`, `""`, 1),
		"not json":      "\x00\x01",
	} {
		var o Outbox
		if err := Unmarshal([]byte(b), &o); !errors.Is(err, ErrBad) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}
