package onion

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/sottochat/sotto/onion/torctl"
)

// answerAuth answers the authentication a fake control port sees first
// (PROTOCOLINFO offering NULL, then AUTHENTICATE) and reports whether line
// was one of those.
func answerAuth(w io.Writer, line string) bool {
	switch line {
	case "PROTOCOLINFO 1":
		io.WriteString(w, "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor=\"0.4.9.11\"\r\n250 OK\r\n")
		return true
	case "AUTHENTICATE":
		io.WriteString(w, "250 OK\r\n")
		return true
	}
	return false
}

// openTestCtrl authenticates on nc, whose other end is a fake control port
// that answers with answerAuth.
func openTestCtrl(t *testing.T, nc net.Conn) *ctrl {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := torctl.Open(ctx, nc, torctl.Auth{})
	if err != nil {
		t.Fatalf("authenticating on the fake control port: %v", err)
	}
	return newCtrl(c)
}
