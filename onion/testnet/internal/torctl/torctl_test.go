package torctl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto/fuzz/fuzzcheck"
)

// fakeTor serves one control connection on a unix socket with script:
// for each command line received, it writes the next answer.
func fakeTor(t *testing.T, answers ...string) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan string, len(answers))
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for _, a := range answers {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			got <- strings.TrimRight(line, "\r\n")
			c.Write([]byte(a))
		}
		br.ReadString('\n') // wait for the client to close
	}()
	return path, got
}

func TestControlConversation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cookie := filepath.Join(t.TempDir(), "cookie")
	os.WriteFile(cookie, []byte(strings.Repeat("\x01", 32)), 0o600)
	path, got := fakeTor(t,
		"250 OK\r\n",
		"650 HS_DESC UPLOADED abc x\r\n250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=100 TAG=done\r\n250 OK\r\n",
		"250+circuit-status=\r\n1 BUILT $AA~a,$BB~b\r\n..dot\r\n.\r\n250 OK\r\n",
		"552 Unrecognized key\r\n",
	)
	c, err := Dial(ctx, "unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.AuthenticateCookie(ctx, cookie); err != nil {
		t.Fatal(err)
	}
	if l := <-got; l != "AUTHENTICATE "+strings.Repeat("01", 32) {
		t.Fatalf("sent %q", l)
	}
	v, err := c.GetInfo(ctx, "status/bootstrap-phase")
	if err != nil || v != "NOTICE BOOTSTRAP PROGRESS=100 TAG=done" {
		t.Fatalf("GetInfo = %q, %v", v, err)
	}
	ev := <-c.Events()
	if ev.Code != 650 || ev.Lines[0] != "HS_DESC UPLOADED abc x" {
		t.Fatalf("event %+v", ev)
	}
	v, err = c.GetInfo(ctx, "circuit-status")
	if err != nil || v != "1 BUILT $AA~a,$BB~b\n.dot" {
		t.Fatalf("GetInfo data = %q, %v", v, err)
	}
	if _, err := c.GetInfo(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "552") {
		t.Fatalf("GetInfo of an unknown key: %v", err)
	}
	if _, err := c.Do(ctx, "SIGNAL NEWNYM\r\nSIGNAL HALT"); err == nil {
		t.Fatal("Do sent a command with a line break")
	}
}

func TestReadReplyRefuses(t *testing.T) {
	for name, s := range map[string]string{
		"short":        "25\r\n",
		"bad code":     "2x0 OK\r\n",
		"bad sep":      "250*OK\r\n",
		"code changes": "250-a\r\n251 OK\r\n",
		"long line":    "250 " + strings.Repeat("x", maxLineLen) + "\r\n",
		"huge reply":   strings.Repeat("250-"+strings.Repeat("x", 1000)+"\r\n", 1100),
		"eof in data":  "250+x=\r\nabc\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			if r, err := readReply(bufio.NewReader(strings.NewReader(s))); err == nil {
				t.Fatalf("readReply accepted it: %+v", r)
			}
		})
	}
}

// socksServer answers one SOCKS5 request with code.
func socksServer(t *testing.T, code byte) string {
	path := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 512)
		c.Read(buf) // greeting
		c.Write([]byte{5, 0})
		n, _ := c.Read(buf)
		if n < 5 || buf[3] != socksAtypName || string(buf[5:5+int(buf[4])]) != "x.onion" {
			return
		}
		c.Write([]byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0})
		if code == 0 {
			n, _ := c.Read(buf)
			c.Write(buf[:n])
		}
	}()
	return path
}

func TestDialSocks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := DialSocks(ctx, "unix", socksServer(t, 0), "x.onion", 80)
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("hi"))
	b := make([]byte, 2)
	if _, err := conn.Read(b); err != nil || string(b) != "hi" {
		t.Fatalf("read %q, %v", b, err)
	}
	conn.Close()
	_, err = DialSocks(ctx, "unix", socksServer(t, SocksHSDescNotFound), "x.onion", 80)
	var se *SocksError
	if !errors.As(err, &se) || se.Code != SocksHSDescNotFound || !strings.Contains(err.Error(), "descriptor not found") {
		t.Fatalf("DialSocks: %v, want SocksError 0xF0", err)
	}
	if _, err := DialSocks(ctx, "unix", "/nonexistent", strings.Repeat("x", 256), 80); err == nil {
		t.Fatal("DialSocks accepted a 256-byte host name")
	}
}

func FuzzReadReply(f *testing.F) {
	seeds := []string{"250 OK\r\n", "250-a=b\r\n250 OK\r\n", "250+x=\r\nline\r\n.\r\n250 OK\r\n", "650 HS_DESC UPLOADED x\r\n", "5"}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := readReply(bufio.NewReader(strings.NewReader(string(b))))
		if err != nil {
			return
		}
		if r.Code < 100 || r.Code > 999 || len(r.Lines) == 0 {
			t.Fatalf("inconsistent reply %+v", r)
		}
		if len(r.Data) > 0 || strings.ContainsAny(strings.Join(r.Lines, ""), "\r\n") {
			return
		}
		// Without data blocks, marshal and parse again gives the same reply.
		var sb strings.Builder
		for i, l := range r.Lines {
			sep := "-"
			if i == len(r.Lines)-1 {
				sep = " "
			}
			fmt.Fprintf(&sb, "%03d%s%s\r\n", r.Code, sep, l)
		}
		r2, err := readReply(bufio.NewReader(strings.NewReader(sb.String())))
		if err != nil || fmt.Sprint(r2) != fmt.Sprint(r) {
			t.Fatalf("round trip: %+v -> %q -> %+v, %v", r, sb.String(), r2, err)
		}
	})
}
