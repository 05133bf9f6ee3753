package torctl

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
)

// Auth says how to authenticate ([control-spec] section 3.5, 3.24, 3.25).
// Open picks, in this order: NULL when tor offers it; HASHEDPASSWORD when a
// Password is given and tor offers it (so a password works even when tor
// also offers a cookie this process cannot read); SAFECOOKIE with
// CookieFile or the file tor names; otherwise an error saying what is
// missing.
type Auth struct {
	// Password is the secret of HashedControlPassword, as raw bytes (it
	// is sent hex-encoded). Open does not keep or change it.
	Password []byte
	// CookieFile, if set, is read instead of the cookie file tor names
	// in PROTOCOLINFO (a tor whose file system differs from ours).
	CookieFile string
}

// Authentication errors, for callers to say what to do.
var (
	// ErrNeedPassword: tor accepts only a password and none was given.
	ErrNeedPassword = errors.New("torctl: tor's control port wants a password")
	// ErrCookieUnreadable: the cookie file cannot be read or is not 32
	// bytes (its path is not in the message).
	ErrCookieUnreadable = errors.New("torctl: tor's authentication cookie cannot be read")
	// ErrAuthRejected: tor refused the password or cookie.
	ErrAuthRejected = errors.New("torctl: tor refused the authentication")
	// ErrNoAuthMethod: tor offers no method this package speaks.
	ErrNoAuthMethod = errors.New("torctl: tor's control port offers no authentication method Sotto supports")
)

// Sizes of control-spec section 3.24 (SAFECOOKIE).
const (
	CookieLen = 32 // bytes of the authentication cookie
	nonceLen  = 32 // bytes of each nonce
	hashLen   = sha256.Size
	// Labels of the two SAFECOOKIE HMACs.
	serverHashLabel = "Tor safe cookie authentication server-to-controller hash"
	clientHashLabel = "Tor safe cookie authentication controller-to-server hash"
	maxPathLen      = 4096
)

// ProtocolInfo is the answer to PROTOCOLINFO (control-spec section 3.21).
type ProtocolInfo struct {
	Methods    []string // authentication methods, upper case: NULL, HASHEDPASSWORD, COOKIE, SAFECOOKIE
	CookieFile string   // the cookie file tor names, or ""
	Version    string   // tor's version, or ""
}

// Has reports whether tor offers method m.
func (p *ProtocolInfo) Has(m string) bool { return slices.Contains(p.Methods, m) }

// ParseProtocolInfo reads a PROTOCOLINFO reply. Lines it does not know are
// ignored, as the specification asks.
func ParseProtocolInfo(r *Reply) (*ProtocolInfo, error) {
	if !r.OK() || len(r.Lines) < 2 {
		return nil, fmt.Errorf("%w: not a PROTOCOLINFO reply", ErrProtocol)
	}
	if f := strings.Fields(r.Lines[0].Text); len(f) != 2 || f[0] != "PROTOCOLINFO" || f[1] != "1" {
		return nil, fmt.Errorf("%w: unknown PROTOCOLINFO version", ErrProtocol)
	}
	p := &ProtocolInfo{}
	auth := false
	for _, l := range r.Lines[1 : len(r.Lines)-1] {
		kw, rest, _ := strings.Cut(l.Text, " ")
		switch kw {
		case "AUTH":
			if auth {
				return nil, fmt.Errorf("%w: two AUTH lines", ErrProtocol)
			}
			auth = true
			pos, kv, err := Args(rest)
			if err != nil || len(pos) != 0 {
				return nil, fmt.Errorf("%w: bad AUTH line", ErrProtocol)
			}
			m, ok := kv["METHODS"]
			if !ok {
				return nil, fmt.Errorf("%w: AUTH line without METHODS", ErrProtocol)
			}
			for _, x := range strings.Split(m, ",") {
				if x == "" || len(p.Methods) >= 16 {
					return nil, fmt.Errorf("%w: bad METHODS", ErrProtocol)
				}
				p.Methods = append(p.Methods, strings.ToUpper(x))
			}
			if cf, ok := kv["COOKIEFILE"]; ok {
				if cf == "" || len(cf) > maxPathLen || strings.ContainsRune(cf, 0) {
					return nil, fmt.Errorf("%w: bad COOKIEFILE", ErrProtocol)
				}
				p.CookieFile = cf
			}
		case "VERSION":
			_, kv, err := Args(rest)
			if err != nil {
				return nil, fmt.Errorf("%w: bad VERSION line", ErrProtocol)
			}
			p.Version = kv["Tor"]
		}
	}
	if !auth {
		return nil, fmt.Errorf("%w: PROTOCOLINFO without AUTH", ErrProtocol)
	}
	return p, nil
}

// ParseAuthChallenge reads the reply to AUTHCHALLENGE SAFECOOKIE:
// "AUTHCHALLENGE SERVERHASH=<64 hex> SERVERNONCE=<64 hex>".
func ParseAuthChallenge(r *Reply) (serverHash, serverNonce []byte, err error) {
	if !r.OK() || len(r.Lines) != 1 {
		return nil, nil, fmt.Errorf("%w: not an AUTHCHALLENGE reply", ErrProtocol)
	}
	pos, kv, err := Args(r.Lines[0].Text)
	if err != nil || len(pos) != 1 || pos[0] != "AUTHCHALLENGE" || len(kv) != 2 {
		return nil, nil, fmt.Errorf("%w: bad AUTHCHALLENGE reply", ErrProtocol)
	}
	serverHash, err1 := hex.DecodeString(kv["SERVERHASH"])
	serverNonce, err2 := hex.DecodeString(kv["SERVERNONCE"])
	if err1 != nil || err2 != nil || len(serverHash) != hashLen || len(serverNonce) != nonceLen {
		return nil, nil, fmt.Errorf("%w: bad AUTHCHALLENGE reply", ErrProtocol)
	}
	return serverHash, serverNonce, nil
}

// authenticate runs PROTOCOLINFO and the method Auth picks.
func (c *Conn) authenticate(a Auth) error {
	rep, err := c.roundTrip([]byte("PROTOCOLINFO 1"))
	if err != nil {
		return fmt.Errorf("%w: PROTOCOLINFO: %v (is this a tor control port?)", ErrProtocol, gist(err))
	}
	pi, err := ParseProtocolInfo(rep)
	if err != nil {
		return fmt.Errorf("%w (is this a tor control port?)", err)
	}
	switch {
	case pi.Has("NULL"):
		return c.sendAuth(nil)
	case len(a.Password) > 0 && pi.Has("HASHEDPASSWORD"):
		return c.sendAuth(a.Password)
	case pi.Has("SAFECOOKIE") && (a.CookieFile != "" || pi.CookieFile != ""):
		path := a.CookieFile
		if path == "" {
			path = pi.CookieFile
		}
		err := c.safeCookie(path)
		if errors.Is(err, ErrCookieUnreadable) && pi.Has("HASHEDPASSWORD") {
			return fmt.Errorf("%w (tor also accepts a password)", err)
		}
		return err
	case pi.Has("HASHEDPASSWORD"):
		return ErrNeedPassword
	}
	return ErrNoAuthMethod
}

// sendAuth sends AUTHENTICATE with secret hex-encoded (none for NULL) and
// wipes the command.
func (c *Conn) sendAuth(secret []byte) error {
	cmd := make([]byte, 0, len("AUTHENTICATE ")+hex.EncodedLen(len(secret)))
	cmd = append(cmd, "AUTHENTICATE"...)
	if len(secret) > 0 {
		cmd = append(cmd, ' ')
		n := len(cmd)
		cmd = cmd[:n+hex.EncodedLen(len(secret))]
		hex.Encode(cmd[n:], secret)
	}
	rep, err := c.roundTrip(cmd)
	clear(cmd)
	if err != nil {
		return fmt.Errorf("%w: AUTHENTICATE: %v", ErrProtocol, gist(err))
	}
	if !rep.OK() {
		return ErrAuthRejected
	}
	return nil
}

// safeCookie runs SAFECOOKIE authentication (control-spec section 3.24).
func (c *Conn) safeCookie(path string) error {
	cookie, err := readCookie(path)
	if err != nil {
		return err
	}
	defer clear(cookie)
	var nonce [nonceLen]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	rep, err := c.roundTrip([]byte("AUTHCHALLENGE SAFECOOKIE " + hex.EncodeToString(nonce[:])))
	if err != nil {
		return fmt.Errorf("%w: AUTHCHALLENGE: %v", ErrProtocol, gist(err))
	}
	if !rep.OK() {
		return ErrAuthRejected
	}
	serverHash, serverNonce, err := ParseAuthChallenge(rep)
	if err != nil {
		return err
	}
	mac := func(label string) []byte {
		m := hmac.New(sha256.New, []byte(label))
		m.Write(cookie)
		m.Write(nonce[:])
		m.Write(serverNonce)
		return m.Sum(nil)
	}
	want := mac(serverHashLabel)
	ok := hmac.Equal(serverHash, want)
	clear(want)
	if !ok {
		// Not the tor that wrote the cookie: do not answer it.
		return fmt.Errorf("%w: tor's SAFECOOKIE answer does not match the cookie", ErrAuthRejected)
	}
	resp := mac(clientHashLabel)
	defer clear(resp)
	return c.sendAuth(resp)
}

// readCookie reads exactly CookieLen bytes from path.
func readCookie(path string) ([]byte, error) {
	if len(path) > maxPathLen {
		return nil, ErrCookieUnreadable
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, ErrCookieUnreadable
	}
	defer f.Close()
	b := make([]byte, CookieLen+1)
	n, err := io.ReadFull(f, b)
	if n != CookieLen || err != io.ErrUnexpectedEOF {
		clear(b)
		return nil, ErrCookieUnreadable
	}
	return b[:CookieLen], nil
}

// gist keeps an I/O error's kind without addresses or paths.
func gist(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Op + ": " + op.Err.Error()
	}
	if errors.Is(err, ErrProtocol) {
		return err.Error()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "connection closed"
	}
	s, _, _ := strings.Cut(err.Error(), ":")
	return s
}
