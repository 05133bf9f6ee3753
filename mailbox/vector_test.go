package mailbox

import (
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
)

// docVectors are the mailbox examples in docs/PROTOCOL.md Part 3; the test
// checks that the document and the code agree.
func docVectors() map[string]string {
	rel := [RelLen]byte{0x05}
	frame := func(m *Msg, n int) string {
		f, err := AppendFrame(nil, m)
		if err != nil {
			panic(err)
		}
		return hex.EncodeToString(f[:n])
	}
	b, _ := Pack(Record{Type: RecRatchet, Payload: []byte("x")})
	return map[string]string{
		"mb_preamble": hex.EncodeToString(Preamble()),
		"mb_collect":  frame(&Msg{Op: OpCollect, Rel: rel, Max: 100}, 4+5+RelLen+2),
		"mb_deposit":  frame(&Msg{Op: OpDeposit, Rel: rel, TTL: 3600, Blob: b}, 4+5+RelLen+4+6),
		"mb_error":    frame(&Msg{Op: OpError, Code: CodeFull}, 4+5+1),
		"mb_blob":     hex.EncodeToString(b[:6]),
	}
}

func TestProtocolDocVectors(t *testing.T) {
	doc, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	part3 := string(doc)
	i := strings.Index(part3, "# Part 3")
	if i < 0 {
		t.Fatal("docs/PROTOCOL.md has no Part 3")
	}
	part3 = part3[i:]
	re := regexp.MustCompile("(?m)^    vector ([a-z_0-9]+): (\\S+)$")
	found := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(part3, -1) {
		found[m[1]] = m[2]
	}
	for name, want := range docVectors() {
		if os.Getenv("PRINT_VECTORS") != "" {
			t.Logf("    vector %s: %s", name, want)
		}
		if found[name] != want {
			t.Errorf("docs/PROTOCOL.md vector %s: doc has %q, code gives %q", name, found[name], want)
		}
	}
}
