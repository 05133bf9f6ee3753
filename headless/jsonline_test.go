package headless

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/sottochat/sotto/fuzz/fuzzcheck"
)

// jsonOf is what encoding/json writes for v (without HTML escaping), the
// encoder appendJSON replaces.
func jsonOf(t *testing.T, v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// FuzzJSONLine checks appendJSON against encoding/json on every kind of
// line the headless mode writes, its strings chosen by the fuzzer
// (control characters, invalid UTF-8, U+2028, quotes).
func FuzzJSONLine(f *testing.F) {
	f.Add("hello", "alice", "", int64(30), true)
	f.Add("\"quoted\" \\ back\\slash\n\t\r\b\f\x00\x1f\x7f", "b\xffad", "\u2028\u2029 <html> & more", int64(-1), false)
	f.Add("emoji 👍 and \u202e bidi", "", "\xc3", int64(0), true)
	fuzzcheck.RequireSeeds(f, 3)
	f.Fuzz(func(t *testing.T, a, b, c string, n int64, flag bool) {
		exp := &c
		if flag {
			exp = nil
		}
		vals := []any{
			messageEvent{Event: "message", Identity: a, Contact: b, Message: c, Text: a + b, At: c, ExpiresAt: exp},
			requestEvent{Event: "request", Identity: a, Request: b, Onion: c, Text: b},
			errorEvent{Event: "error", Error: a, Code: b},
			torEvent{Event: "tor", Progress: int(n), State: a, Summary: b},
			messageJSON{ID: a, Text: b, TimerSeconds: &n, ExpiresAt: exp, State: c},
			[]messageJSON{{ID: a}, {Text: c}},
			[]messageJSON{},
			[]contactJSON(nil),
			reply{Event: "ok", Cmd: a, Tag: b, key: "messages", value: []messageJSON{{ID: c, Text: a}}},
			reply{Event: "error", Error: a, Code: c},
			reply{Event: "ok", key: "tor", value: &torJSON{State: a, Progress: int(n), Error: b}},
			reply{Event: "ok", key: "contact_code", value: c},
			identityJSON{Name: a, Onion: b, Ephemeral: flag},
			reply{Event: "ok", key: "file_limits", value: map[string]int64{"max_size": n, "auto_accept": -n, a: n}},
			map[string]int64(nil),
			fileJSON{Event: "file_offer", ID: a, IDAlias: a, Name: b, Size: n, State: c, ExpiresAt: exp, Removed: []string{a, c}},
			fileJSON{ID: c},
			mailboxJSON{Identity: a, State: b, Onion: c, Waiting: int(n), Error: a},
			queuedEvent{Event: "queued", Identity: a, Contact: b, Message: c},
			mailboxEvent{Event: "mailbox", Identity: a, State: b, Error: c},
			contactNoticeEvent{Event: "expired_unread", Identity: a, Contact: b, Count: int(n)},
		}
		for _, v := range vals {
			got, err := appendJSON(nil, v)
			if err != nil {
				t.Fatalf("%T: %v", v, err)
			}
			want := jsonOf(t, v)
			if r, ok := v.(reply); ok {
				// reply's own encoding is appendJSON: compare with the
				// same keys encoded one by one by encoding/json.
				want = []byte(`{"event":` + string(jsonOf(t, r.Event)))
				for _, f := range []struct{ k, v string }{{"cmd", r.Cmd}, {"tag", r.Tag}, {"error", r.Error}, {"code", r.Code}} {
					if f.v != "" {
						want = append(want, `,"`+f.k+`":`+string(jsonOf(t, f.v))...)
					}
				}
				if r.key != "" {
					want = append(want, `,"`+r.key+`":`+string(jsonOf(t, r.value))...)
				}
				want = append(want, '}')
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%T:\nappendJSON   %q\nencoding/json %q", v, got, want)
			}
		}
	})
}
