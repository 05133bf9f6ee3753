package jsonenc

import (
	"bytes"
	"encoding/json"
	"testing"
)

type rec struct {
	V    int    `json:"v"`
	ID   []byte `json:"id"`
	Opt  []byte `json:"opt,omitempty"`
	Nil  []byte `json:"nil"`
	Text string `json:"text,omitempty"`
	At   int64  `json:"at"`
	Flag bool   `json:"flag,omitempty"`
	N    uint64 `json:"n,omitempty"`
}

// TestAppendAsEncodingJSON: byte slices as base64 (empty, nil, odd
// lengths), omitempty, strings that need escaping, as encoding/json
// writes them without HTML escaping.
func TestAppendAsEncodingJSON(t *testing.T) {
	for _, v := range []any{
		rec{V: 1, ID: []byte{0xff, 0, 1}, Text: "a \"b\" <c> & \u2028 \x01 é", At: -5, Flag: true, N: 7},
		rec{ID: []byte{}, Opt: []byte("x")},
		&rec{ID: bytes.Repeat([]byte{0xfb}, 31)},
		[]rec{{}, {V: 2}},
		map[string][]byte{"k": {1, 2, 3, 4}, "a": nil},
		[]byte("hello"),
		[]byte(nil),
	} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		got, err := Append(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Errorf("%T:\nAppend        %s\nencoding/json %s", v, got, want.Bytes())
		}
	}
}

// TestAppendIntoDst: the encoding goes into the caller's buffer, after
// what it holds, and nowhere else that could keep it.
func TestAppendIntoDst(t *testing.T) {
	dst := make([]byte, 0, 256)
	out, err := Append(append(dst, "prefix:"...), rec{Text: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	if &out[0] != &dst[:1][0] || !bytes.HasPrefix(out, []byte(`prefix:{"v":0,"id":null,"nil":null,"text":"secret"`)) {
		t.Fatalf("not appended in place: %s", out)
	}
}
