package torctl

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTor is the tor side of a control connection: it answers
// PROTOCOLINFO with methods and cookieFile, runs SAFECOOKIE with cookie and
// checks passwords against password, then answers every command from
// script (in order) and records all lines.
type fakeTor struct {
	methods, cookieFile string
	cookie              []byte
	password            string
	script              []string

	mu    sync.Mutex
	lines []string
}

func (f *fakeTor) serve(t *testing.T, c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	var clientNonce, serverNonce []byte
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		l = strings.TrimRight(l, "\r\n")
		f.mu.Lock()
		f.lines = append(f.lines, l)
		f.mu.Unlock()
		cmd, arg, _ := strings.Cut(l, " ")
		switch cmd {
		case "PROTOCOLINFO":
			cf := ""
			if f.cookieFile != "" {
				cf = ` COOKIEFILE="` + f.cookieFile + `"`
			}
			io.WriteString(c, "250-PROTOCOLINFO 1\r\n250-AUTH METHODS="+f.methods+cf+"\r\n250-VERSION Tor=\"0.4.9.11\"\r\n250 OK\r\n")
		case "AUTHCHALLENGE":
			clientNonce, _ = hex.DecodeString(strings.TrimPrefix(arg, "SAFECOOKIE "))
			serverNonce = make([]byte, 32)
			serverNonce[0] = 7
			io.WriteString(c, "250 AUTHCHALLENGE SERVERHASH="+hex.EncodeToString(f.mac(serverHashLabel, clientNonce, serverNonce))+" SERVERNONCE="+hex.EncodeToString(serverNonce)+"\r\n")
		case "AUTHENTICATE":
			got, _ := hex.DecodeString(arg)
			switch {
			case strings.Contains(f.methods, "NULL") && arg == "",
				f.password != "" && string(got) == f.password,
				serverNonce != nil && hmac.Equal(got, f.mac(clientHashLabel, clientNonce, serverNonce)):
				io.WriteString(c, "250 OK\r\n")
			default:
				io.WriteString(c, "515 Authentication failed\r\n")
				return
			}
		default:
			if len(f.script) == 0 {
				io.WriteString(c, "510 Unrecognized command\r\n")
				continue
			}
			io.WriteString(c, f.script[0])
			f.script = f.script[1:]
		}
	}
}

func (f *fakeTor) mac(label string, cn, sn []byte) []byte {
	m := hmac.New(sha256.New, []byte(label))
	m.Write(f.cookie)
	m.Write(cn)
	m.Write(sn)
	return m.Sum(nil)
}

func (f *fakeTor) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lines...)
}

func open(t *testing.T, f *fakeTor, a Auth) (*Conn, error) {
	t.Helper()
	x, y := net.Pipe()
	go f.serve(t, y)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Open(ctx, x, a)
	if err == nil {
		t.Cleanup(c.Close)
	}
	return c, err
}

func writeCookie(t *testing.T) (string, []byte) {
	cookie := []byte(strings.Repeat("\x5a", CookieLen))
	path := filepath.Join(t.TempDir(), "control_auth_cookie")
	if err := os.WriteFile(path, cookie, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, cookie
}

func TestOpenNull(t *testing.T) {
	f := &fakeTor{methods: "NULL", script: []string{"250-version=0.4.9.11\r\n250 OK\r\n"}}
	c, err := open(t, f, Auth{Password: []byte("unused")})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.GetInfo(context.Background(), "version")
	if err != nil || v != "0.4.9.11" {
		t.Fatalf("GETINFO version: %q %v", v, err)
	}
	if got := f.sent(); len(got) != 3 || got[0] != "PROTOCOLINFO 1" || got[1] != "AUTHENTICATE" {
		t.Fatalf("sent %q", got)
	}
}

func TestOpenSafeCookie(t *testing.T) {
	path, cookie := writeCookie(t)
	f := &fakeTor{methods: "COOKIE,SAFECOOKIE", cookieFile: path, cookie: cookie}
	if _, err := open(t, f, Auth{}); err != nil {
		t.Fatalf("cookie tor names: %v", err)
	}
	// The user's cookie file wins over the path tor names.
	f = &fakeTor{methods: "COOKIE,SAFECOOKIE", cookieFile: "/nonexistent/cookie", cookie: cookie}
	if _, err := open(t, f, Auth{CookieFile: path}); err != nil {
		t.Fatalf("TOR_CONTROL_COOKIE_AUTH_FILE: %v", err)
	}
	for _, l := range f.sent() {
		if strings.Contains(l, hex.EncodeToString(cookie)) {
			t.Fatalf("the cookie itself was sent: %q", l)
		}
	}
	// A tor that does not know the cookie gets no answer from us.
	f = &fakeTor{methods: "SAFECOOKIE", cookieFile: path, cookie: []byte(strings.Repeat("x", CookieLen))}
	if _, err := open(t, f, Auth{}); !errors.Is(err, ErrAuthRejected) {
		t.Fatalf("server hash of another cookie: %v", err)
	}
	if got := f.sent(); len(got) != 2 {
		t.Fatalf("answered a tor that does not hold the cookie: %q", got)
	}
	// Unreadable or short cookies.
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("abc"), 0o600)
	for _, p := range []string{"/nonexistent/cookie", short} {
		f = &fakeTor{methods: "COOKIE,SAFECOOKIE", cookieFile: p}
		if _, err := open(t, f, Auth{}); !errors.Is(err, ErrCookieUnreadable) || strings.Contains(err.Error(), p) {
			t.Fatalf("cookie %s: %v", p, err)
		}
	}
}

// A password works when tor also offers a cookie this process cannot read
// (issue 17: the cookie always won).
func TestOpenPasswordBeforeCookie(t *testing.T) {
	f := &fakeTor{methods: "COOKIE,SAFECOOKIE,HASHEDPASSWORD", cookieFile: "/nonexistent/cookie", password: "s3cret"}
	if _, err := open(t, f, Auth{Password: []byte("s3cret")}); err != nil {
		t.Fatalf("password with an unreadable cookie offered: %v", err)
	}
	if got := f.sent(); len(got) != 2 || got[1] != "AUTHENTICATE "+hex.EncodeToString([]byte("s3cret")) {
		t.Fatalf("sent %q", got)
	}
	f = &fakeTor{methods: "COOKIE,SAFECOOKIE,HASHEDPASSWORD", cookieFile: "/nonexistent/cookie", password: "s3cret"}
	_, err := open(t, f, Auth{})
	if !errors.Is(err, ErrCookieUnreadable) || !strings.Contains(err.Error(), "password") {
		t.Fatalf("no password, unreadable cookie: %v", err)
	}
	f = &fakeTor{methods: "HASHEDPASSWORD", password: "s3cret"}
	if _, err := open(t, f, Auth{}); !errors.Is(err, ErrNeedPassword) {
		t.Fatalf("no password: %v", err)
	}
	f = &fakeTor{methods: "HASHEDPASSWORD", password: "s3cret"}
	if _, err := open(t, f, Auth{Password: []byte("wrong")}); !errors.Is(err, ErrAuthRejected) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong password: %v", err)
	}
	f = &fakeTor{methods: "FOO"}
	if _, err := open(t, f, Auth{}); !errors.Is(err, ErrNoAuthMethod) {
		t.Fatalf("unknown method: %v", err)
	}
}

func TestConnEventsAndReplies(t *testing.T) {
	f := &fakeTor{methods: "NULL", script: []string{
		"650 HS_DESC UPLOADED abc UNKNOWN x\r\n250 OK\r\n",
		"552 Unrecognized key \"nope\"\r\n",
	}}
	c, err := open(t, f, Auth{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if r, err := c.Do(ctx, []byte("SETEVENTS HS_DESC")); err != nil || !r.OK() {
		t.Fatalf("%+v %v", r, err)
	}
	if ev := <-c.Events(); ev.Type != "HS_DESC" || ev.Rest != "UPLOADED abc UNKNOWN x" {
		t.Fatalf("event %+v", ev)
	}
	_, err = c.GetInfo(ctx, "nope")
	var re *ReplyError
	if !errors.As(err, &re) || re.Code != 552 {
		t.Fatalf("refused GETINFO: %v", err)
	}
	if _, err := c.Do(ctx, []byte("A\r\nB")); err == nil {
		t.Fatal("a command with a line break was sent")
	}
	c.Close()
	<-c.Done()
	if _, err := c.Do(ctx, []byte("GETINFO version")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do after Close: %v", err)
	}
}

func TestParseProtocolInfo(t *testing.T) {
	r := mustRead(t, "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE,HASHEDPASSWORD COOKIEFILE=\"/run/tor/control.authcookie\"\r\n250-VERSION Tor=\"0.4.9.11\"\r\n250-FUTURE thing\r\n250 OK\r\n")
	p, err := ParseProtocolInfo(r)
	if err != nil || !p.Has("SAFECOOKIE") || !p.Has("HASHEDPASSWORD") || p.Has("NULL") || p.CookieFile != "/run/tor/control.authcookie" || p.Version != "0.4.9.11" {
		t.Fatalf("%+v %v", p, err)
	}
	for _, bad := range []string{
		"250 OK\r\n",
		"250-PROTOCOLINFO 2\r\n250-AUTH METHODS=NULL\r\n250 OK\r\n",
		"250-PROTOCOLINFO 1\r\n250 OK\r\n",
		"250-PROTOCOLINFO 1\r\n250-AUTH COOKIEFILE=\"/x\"\r\n250 OK\r\n",
		"250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL,,X\r\n250 OK\r\n",
		"250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-AUTH METHODS=NULL\r\n250 OK\r\n",
		"515 no\r\n",
	} {
		if _, err := ParseProtocolInfo(mustRead(t, bad)); !errors.Is(err, ErrProtocol) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func mustRead(t *testing.T, s string) *Reply {
	t.Helper()
	r, err := ReadReply(bufio.NewReader(strings.NewReader(s)))
	if err != nil {
		t.Fatalf("ReadReply(%q): %v", s, err)
	}
	return r
}
