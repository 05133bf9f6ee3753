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

// The fields of the disappearing clocks and notices (issues 14 and 18) are
// checked like the rest: a damaged record is refused, not half-read.
func TestClockAndNoticeFields(t *testing.T) {
	const id = `"id":"AAAAAAAAAAAAAAAAAAAAAA=="`
	good := []string{
		`{"v":1,"seq":1,` + id + `,"dir":1,"kind":0,"text":"hi","timer":30,"at":1,"exp":86431,"unshown":true}`,
		`{"v":1,"seq":1,` + id + `,"dir":2,"kind":3,"text":"gone","at":1,"notice":1,"count":2}`,
		`{"v":1,"seq":1,` + id + `,"dir":2,"kind":3,"text":"verify","at":1,"notice":3}`,
		`{"v":1,"seq":1,` + id + `,"dir":2,"kind":1,"timer":60,"at":1,"superseded":true}`,
	}
	bad := map[string]string{
		"unshown outgoing":      `{"v":1,"seq":1,` + id + `,"dir":0,"kind":0,"text":"hi","timer":30,"at":1,"exp":9,"unshown":true}`,
		"unshown without bound": `{"v":1,"seq":1,` + id + `,"dir":1,"kind":0,"text":"hi","timer":30,"at":1,"unshown":true}`,
		"notice unknown":        `{"v":1,"seq":1,` + id + `,"dir":2,"kind":3,"at":1,"notice":9}`,
		"notice not system":     `{"v":1,"seq":1,` + id + `,"dir":1,"kind":3,"at":1,"notice":1}`,
		"notice on a text":      `{"v":1,"seq":1,` + id + `,"dir":1,"kind":0,"text":"hi","at":1,"notice":1}`,
		"negative count":        `{"v":1,"seq":1,` + id + `,"dir":2,"kind":3,"at":1,"notice":1,"count":-1}`,
		"superseded text":       `{"v":1,"seq":1,` + id + `,"dir":1,"kind":0,"text":"hi","at":1,"superseded":true}`,
		"kind 4":                `{"v":1,"seq":1,` + id + `,"dir":2,"kind":4,"at":1}`,
		"notice on a file":      `{"v":1,"seq":1,` + id + `,"dir":1,"kind":2,"text":"a.pdf","at":1,"notice":1}`,
	}
	for _, s := range good {
		var m Message
		if err := Unmarshal([]byte(s), &m); err != nil {
			t.Errorf("refused %s: %v", s, err)
		}
	}
	for name, s := range bad {
		var m Message
		if err := Unmarshal([]byte(s), &m); !errors.Is(err, ErrBad) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
	var c Contact
	for _, s := range []string{
		`{"v":1,"petname":"b","id":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","auth":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","safety_v":-1}`,
		`{"v":1,"petname":"b","id":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","auth":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","timer_at":-5}`,
	} {
		if err := Unmarshal([]byte(s), &c); !errors.Is(err, ErrBad) {
			t.Errorf("contact %s accepted (%v)", s, err)
		}
	}
	var o Outbox
	if err := Unmarshal([]byte(`{"v":1,`+id+`,"kind":0,"text":"hi","at":-1}`), &o); !errors.Is(err, ErrBad) {
		t.Errorf("an outbox entry from before 1970 accepted (%v)", err)
	}
}

func TestSystemLineAuthor(t *testing.T) {
	const id = `"id":"AAAAAAAAAAAAAAAAAAAAAA=="`
	var m Message
	if err := Unmarshal([]byte(`{"v":1,"seq":1,`+id+`,"dir":2,"kind":1,"timer":60,"at":1,"by":1}`), &m); err != nil || m.By != 1 {
		t.Fatalf("by 1: %v %d", err, m.By)
	}
	for _, s := range []string{
		`{"v":1,"seq":1,` + id + `,"dir":2,"kind":1,"timer":60,"at":1,"by":3}`,
		`{"v":1,"seq":1,` + id + `,"dir":1,"kind":0,"text":"x","at":1,"by":2}`,
	} {
		if err := Unmarshal([]byte(s), &m); !errors.Is(err, ErrBad) {
			t.Errorf("%s accepted (%v)", s, err)
		}
	}
}
