package wire

import (
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
)

// docVectors are the examples in docs/PROTOCOL.md Part 2; the test checks
// that the document and the code agree.
func docVectors() map[string]string {
	id := [IDLen]byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}
	enc := func(m *Message) string {
		b, err := m.Marshal()
		if err != nil {
			panic(err)
		}
		return hex.EncodeToString(b)
	}
	frame, _ := AppendFrame(nil, FrameData, []byte{0xaa, 0xbb, 0xcc})
	return map[string]string{
		"preamble":  hex.EncodeToString(Preamble()),
		"text":      enc(&Message{Kind: KindText, ID: id, At: 1700000000, Timer: 3600, Text: "hi"}),
		"timer":     enc(&Message{Kind: KindTimer, ID: id, At: 1700000000, Timer: 30}),
		"ack":       enc(&Message{Kind: KindAck, Acks: [][IDLen]byte{id}}),
		"request":   enc(&Message{Kind: KindRequest, AuthKey: [32]byte{0xff}, HasFirst: true, ID: id, At: 1700000000, Text: "hi"}),
		"close":     enc(&Message{Kind: KindClose, Status: ClosePending}),
		"keepalive": enc(&Message{Kind: KindKeepalive}),
		"hello":     enc(&Message{Kind: KindHello, Status: HelloContact}),
		"frame":     hex.EncodeToString(frame[:16]),
	}
}

func TestProtocolDocVectors(t *testing.T) {
	doc, err := os.ReadFile("../../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	part2 := string(doc)
	if i := strings.Index(part2, "# Part 2"); i >= 0 {
		part2 = part2[i:]
	}
	re := regexp.MustCompile("(?m)^    vector ([a-z]+): (\\S+)$")
	found := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(part2, -1) {
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
