package torctl

import (
	"bufio"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func read(t *testing.T, s string) *Reply {
	t.Helper()
	r, err := ReadReply(bufio.NewReader(strings.NewReader(s)))
	if err != nil {
		t.Fatalf("ReadReply(%q): %v", s, err)
	}
	return r
}

func TestReadReply(t *testing.T) {
	r := read(t, "250-version=0.4.9.11 (git-abc)\r\n250+stream-status=\r\n1 SUCCEEDED 5 a.onion:443\r\n..dot\r\n.\r\n250 OK\r\n")
	kv, err := r.KeyValues()
	if err != nil {
		t.Fatal(err)
	}
	if kv["version"] != "0.4.9.11 (git-abc)" || kv["stream-status"] != "1 SUCCEEDED 5 a.onion:443\n.dot" {
		t.Fatalf("%q", kv)
	}
	if got := string(r.Marshal()); got != "250-version=0.4.9.11 (git-abc)\r\n250+stream-status=\r\n1 SUCCEEDED 5 a.onion:443\r\n..dot\r\n.\r\n250 OK\r\n" {
		t.Fatalf("Marshal: %q", got)
	}
	e := read(t, "650 HS_DESC UPLOADED abc UNKNOWN $AAAA\r\n")
	ev, err := ParseEvent(e)
	if err != nil || ev.Type != "HS_DESC" || ev.Rest != "UPLOADED abc UNKNOWN $AAAA" {
		t.Fatalf("%+v %v", ev, err)
	}
	if r := read(t, "552 Unrecognized key\r\n"); r.OK() || r.Last() != "Unrecognized key" {
		t.Fatalf("%+v", r)
	}
	for name, bad := range map[string]string{
		"short":     "25\r\n",
		"code":      "2x0 OK\r\n",
		"sep":       "250*OK\r\n",
		"changed":   "250-a\r\n251 OK\r\n",
		"eof":       "250-a\r\n",
		"eof data":  "250+a\r\nb\r\n",
		"long line": "250 " + strings.Repeat("a", MaxLine) + "\r\n",
		"zero code": "050 OK\r\n",
	} {
		if _, err := ReadReply(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	many := strings.Repeat("250-a=b\r\n", MaxReplyLines+1) + "250 OK\r\n"
	if _, err := ReadReply(bufio.NewReader(strings.NewReader(many))); !errors.Is(err, ErrProtocol) {
		t.Errorf("too many lines: %v", err)
	}
}

func TestParseBootstrap(t *testing.T) {
	b, err := ParseBootstrap(`NOTICE BOOTSTRAP PROGRESS=85 TAG=ap_conn_done SUMMARY="Connected to a relay to build \"circuits\""`)
	if err != nil || b.Progress != 85 || b.Tag != "ap_conn_done" || b.Summary != `Connected to a relay to build "circuits"` || b.Severe {
		t.Fatalf("%+v %v", b, err)
	}
	b, err = ParseBootstrap(`WARN BOOTSTRAP PROGRESS=10 TAG=conn_done SUMMARY="x" WARNING="Connection refused" REASON=CONNECTREFUSED COUNT=1`)
	if err != nil || !b.Severe || b.Warning != "Connection refused" {
		t.Fatalf("%+v %v", b, err)
	}
	for _, bad := range []string{"", "NOTICE CIRCUIT_ESTABLISHED", "NOTICE BOOTSTRAP PROGRESS=101", `NOTICE BOOTSTRAP PROGRESS=5 SUMMARY="x`, "NOTICE BOOTSTRAP"} {
		if _, err := ParseBootstrap(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCircuitEstablished(t *testing.T) {
	if !CircuitEstablished("NOTICE CIRCUIT_ESTABLISHED") {
		t.Error("NOTICE CIRCUIT_ESTABLISHED not recognised")
	}
	for _, other := range []string{"", "NOTICE", "NOTICE CIRCUIT_NOT_ESTABLISHED REASON=CLOCK_JUMPED", "NOTICE ENOUGH_DIR_INFO", `NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"`, `NOTICE CIRCUIT_ESTABLISHED X="`} {
		if CircuitEstablished(other) {
			t.Errorf("%q taken for CIRCUIT_ESTABLISHED", other)
		}
	}
}

func TestParseHSDescListenersStreams(t *testing.T) {
	d, err := ParseHSDesc("FAILED abc NO_AUTH $FP~n REASON=NOT_FOUND")
	if err != nil || d.Action != "FAILED" || d.Address != "abc" || d.Reason != "NOT_FOUND" {
		t.Fatalf("%+v %v", d, err)
	}
	ls, err := ParseListeners(`"127.0.0.1:9050" "unix:/run/a b/s"`)
	if err != nil || !reflect.DeepEqual(ls, []string{"127.0.0.1:9050", "unix:/run/a b/s"}) {
		t.Fatalf("%q %v", ls, err)
	}
	ss, err := ParseStreamStatus("1 SUCCEEDED 5 x.onion:443\n2 SENTCONNECT 7 y.onion:443")
	if err != nil || len(ss) != 2 || ss[1].Circuit != "7" || ss[0].Target != "x.onion:443" {
		t.Fatalf("%+v %v", ss, err)
	}
	if _, err := ParseStreamStatus("1 2 3"); err == nil {
		t.Fatal("short line accepted")
	}
}

func TestVersion(t *testing.T) {
	v, err := ParseVersion("Tor version 0.4.9.11.")
	if err != nil || v.N != [4]int{0, 4, 9, 11} || v.Tagged {
		t.Fatalf("%+v %v", v, err)
	}
	w, _ := ParseVersion("0.4.9.11-rc")
	if !w.Less(v) || v.Less(w) || v.Less(v) {
		t.Fatal("ordering")
	}
}
