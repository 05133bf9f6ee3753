package socks

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
)

// fakeTor answers one SOCKS5 exchange with reply code rep and checks what
// the client sent.
func fakeTor(t *testing.T, c net.Conn, rep byte, atyp byte) (user, pass, host string) {
	t.Helper()
	defer func() {
		if rep != Succeeded {
			c.Close()
		}
	}()
	var g [3]byte
	io.ReadFull(c, g[:])
	if g != [3]byte{5, 1, 2} {
		t.Errorf("greeting %x", g)
	}
	c.Write([]byte{5, 2})
	var h [2]byte
	io.ReadFull(c, h[:])
	u := make([]byte, h[1])
	io.ReadFull(c, u)
	var pl [1]byte
	io.ReadFull(c, pl[:])
	p := make([]byte, pl[0])
	io.ReadFull(c, p)
	c.Write([]byte{1, 0})
	var r [5]byte
	io.ReadFull(c, r[:])
	if r[0] != 5 || r[1] != 1 || r[3] != 3 {
		t.Errorf("request %x: not CONNECT with a host name", r)
	}
	hn := make([]byte, int(r[4])+2)
	io.ReadFull(c, hn)
	switch atyp {
	case atypIPv4:
		c.Write([]byte{5, rep, 0, 1, 0, 0, 0, 0, 0, 0})
	case atypIPv6:
		c.Write(append([]byte{5, rep, 0, 4}, make([]byte, 18)...))
	default:
		c.Write([]byte{5, rep, 0, 3, 2, 'a', 'b', 0, 1})
	}
	return string(u), string(p), string(hn[:len(hn)-2])
}

func TestConnect(t *testing.T) {
	for _, atyp := range []byte{atypIPv4, atypIPv6, atypDomain} {
		a, b := net.Pipe()
		done := make(chan [3]string, 1)
		go func() {
			u, p, h := fakeTor(t, b, Succeeded, atyp)
			b.Write([]byte("payload"))
			done <- [3]string{u, p, h}
		}()
		if err := Connect(a, []byte("user"), []byte("pw"), "x.onion", 443); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 7)
		io.ReadFull(a, got)
		if !bytes.Equal(got, []byte("payload")) {
			t.Fatalf("stream after reply: %q", got)
		}
		if d := <-done; d != [3]string{"user", "pw", "x.onion"} {
			t.Fatalf("sent %q", d)
		}
		a.Close()
	}
}

func TestConnectErrors(t *testing.T) {
	a, b := net.Pipe()
	go fakeTor(t, b, OnionMissingAuth, atypIPv4)
	err := Connect(a, []byte("u"), []byte("p"), "x.onion", 443)
	var re *ReplyError
	if !errors.As(err, &re) || re.Code != OnionMissingAuth {
		t.Fatalf("err = %v", err)
	}
	if err := Connect(a, nil, []byte("p"), "x", 1); !errors.Is(err, ErrProtocol) {
		t.Fatalf("empty user: %v", err)
	}
	if _, err := ReplyRest([5]byte{4, 0, 0, 1, 0}); !errors.Is(err, ErrProtocol) {
		t.Fatal("SOCKS4 reply accepted")
	}
	if _, err := ReplyRest([5]byte{5, 0, 0, 9, 0}); !errors.Is(err, ErrProtocol) {
		t.Fatal("bad atyp accepted")
	}
	if err := ParseMethodSelection([]byte{5, 0xff}); !errors.Is(err, ErrProtocol) {
		t.Fatal("no acceptable method accepted")
	}
}
