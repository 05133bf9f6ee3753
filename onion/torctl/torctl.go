// Package torctl implements the client side of tor's control protocol
// ([control-spec]): an authenticated connection ([Open]: NULL,
// HASHEDPASSWORD or SAFECOOKIE authentication) that sends commands and reads
// bounded replies and asynchronous events, and parsers for the few values
// Sotto reads (GETINFO key=value pairs, the version, bootstrap status,
// HS_DESC, listener lists, PROTOCOLINFO, the onions a connection owns).
// Every function treats its input as hostile: an external control port may
// be anything, a filter such as onion-grater included. It is the one
// control-port client of the module: package onion builds Sotto's commands
// on it, and onion/testnet's tests drive their client tors with it.
//
// [control-spec]: https://spec.torproject.org/control-spec/
package torctl

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits on what a control connection can make Sotto hold.
const (
	MaxLine       = 16 << 10 // bytes of one reply line
	MaxReplyLines = 4096     // lines of one reply, data lines included
	MaxReplyBytes = 1 << 20  // bytes of one reply
)

// StatusAsync is the status code of an asynchronous event.
const StatusAsync = 650

// ErrProtocol is returned for anything that is not a well-formed reply.
var ErrProtocol = errors.New("torctl: malformed control reply")

// Line is one line of a reply: "250-text", "250 text" (the last), or
// "250+text" followed by a data block (Data).
type Line struct {
	Text    string
	HasData bool
	Data    []string // the data block's lines, dot-unescaped
}

// Reply is one complete reply (or event).
type Reply struct {
	Code  int
	Lines []Line // the last one is the end line ("250 OK")
}

// OK reports whether the reply is a 2xx success.
func (r *Reply) OK() bool { return r.Code >= 200 && r.Code < 300 }

// Async reports whether the reply is an event.
func (r *Reply) Async() bool { return r.Code == StatusAsync }

// Last is the text of the end line (for errors: tor's message).
func (r *Reply) Last() string {
	if len(r.Lines) == 0 {
		return ""
	}
	return r.Lines[len(r.Lines)-1].Text
}

func readLine(r *bufio.Reader, budget *int) (string, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxLine {
			return "", fmt.Errorf("%w: line too long", ErrProtocol)
		}
		buf = append(buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		break
	}
	*budget -= len(buf)
	if *budget < 0 {
		return "", fmt.Errorf("%w: reply too large", ErrProtocol)
	}
	s := string(buf)
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, nil
}

// ReadReply reads one reply or event from r.
func ReadReply(r *bufio.Reader) (*Reply, error) {
	budget := MaxReplyBytes
	rep := &Reply{}
	n := 0
	for {
		l, err := readLine(r, &budget)
		if err != nil {
			return nil, err
		}
		if n++; n > MaxReplyLines {
			return nil, fmt.Errorf("%w: too many lines", ErrProtocol)
		}
		if len(l) < 4 {
			return nil, fmt.Errorf("%w: short line", ErrProtocol)
		}
		code, err := parseCode(l[:3])
		if err != nil {
			return nil, err
		}
		if len(rep.Lines) == 0 {
			rep.Code = code
		} else if code != rep.Code {
			return nil, fmt.Errorf("%w: status code changed within a reply", ErrProtocol)
		}
		line := Line{Text: l[4:]}
		switch l[3] {
		case ' ':
			rep.Lines = append(rep.Lines, line)
			return rep, nil
		case '-':
		case '+':
			line.HasData = true
			line.Data = []string{}
			for {
				d, err := readLine(r, &budget)
				if err != nil {
					return nil, err
				}
				if n++; n > MaxReplyLines {
					return nil, fmt.Errorf("%w: too many lines", ErrProtocol)
				}
				if d == "." {
					break
				}
				if strings.HasPrefix(d, ".") {
					d = d[1:]
				}
				line.Data = append(line.Data, d)
			}
		default:
			return nil, fmt.Errorf("%w: bad separator", ErrProtocol)
		}
		rep.Lines = append(rep.Lines, line)
	}
}

func parseCode(s string) (int, error) {
	if len(s) != 3 || s[0] < '1' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' {
		return 0, fmt.Errorf("%w: bad status code", ErrProtocol)
	}
	return int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0'), nil
}

// Marshal encodes the reply back into protocol lines (CRLF), the inverse of
// ReadReply for well-formed replies.
func (r *Reply) Marshal() []byte {
	var b strings.Builder
	for i, l := range r.Lines {
		sep := byte('-')
		if l.HasData {
			sep = '+'
		}
		if i == len(r.Lines)-1 {
			sep = ' '
		}
		fmt.Fprintf(&b, "%03d%c%s\r\n", r.Code, sep, l.Text)
		if l.HasData && i != len(r.Lines)-1 {
			for _, d := range l.Data {
				if strings.HasPrefix(d, ".") {
					b.WriteByte('.')
				}
				b.WriteString(d)
				b.WriteString("\r\n")
			}
			b.WriteString(".\r\n")
		}
	}
	return []byte(b.String())
}

// KeyValues returns the GETINFO pairs of a reply: "key=value" lines and
// "key=" data lines (whose value is the data joined by "\n"). The end line
// ("OK") is not included.
func (r *Reply) KeyValues() (map[string]string, error) {
	if !r.OK() {
		return nil, fmt.Errorf("%w: not a success reply", ErrProtocol)
	}
	kv := make(map[string]string)
	for _, l := range r.Lines[:max(len(r.Lines)-1, 0)] {
		k, v, ok := strings.Cut(l.Text, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: GETINFO line without '='", ErrProtocol)
		}
		if l.HasData {
			v = strings.Join(l.Data, "\n")
		}
		kv[k] = v
	}
	return kv, nil
}

// Event is an asynchronous event: its type ("STATUS_CLIENT", "HS_DESC")
// and the rest of its first line.
type Event struct {
	Type string
	Rest string
}

// ParseEvent splits an async reply into its type and arguments.
func ParseEvent(r *Reply) (Event, error) {
	if !r.Async() || len(r.Lines) == 0 {
		return Event{}, fmt.Errorf("%w: not an event", ErrProtocol)
	}
	typ, rest, _ := strings.Cut(r.Lines[0].Text, " ")
	if typ == "" {
		return Event{}, fmt.Errorf("%w: event without a type", ErrProtocol)
	}
	return Event{Type: typ, Rest: rest}, nil
}

// Args parses space-separated arguments: positional words, then KEY=VALUE
// pairs where VALUE may be a quoted string with C escapes. It returns the
// positional words and the pairs.
func Args(s string) (pos []string, kv map[string]string, err error) {
	kv = make(map[string]string)
	for len(s) > 0 {
		if s[0] == ' ' {
			s = s[1:]
			continue
		}
		end := strings.IndexAny(s, " =\"")
		if end < 0 || s[end] == ' ' {
			if end < 0 {
				end = len(s)
			}
			pos = append(pos, s[:end])
			s = s[end:]
			continue
		}
		if s[end] == '"' {
			return nil, nil, fmt.Errorf("%w: stray quote", ErrProtocol)
		}
		key := s[:end]
		s = s[end+1:]
		var val string
		if strings.HasPrefix(s, "\"") {
			val, s, err = unquote(s)
			if err != nil {
				return nil, nil, err
			}
		} else {
			e := strings.IndexByte(s, ' ')
			if e < 0 {
				e = len(s)
			}
			val, s = s[:e], s[e:]
		}
		if key == "" {
			return nil, nil, fmt.Errorf("%w: empty key", ErrProtocol)
		}
		kv[key] = val
		if len(kv) > 256 || len(pos) > 256 {
			return nil, nil, fmt.Errorf("%w: too many arguments", ErrProtocol)
		}
	}
	return pos, kv, nil
}

// Unquote decodes s, which must be exactly one quoted string as tor reads
// it (see unquote); TOR_CONTROL_PASSWD in double quotes is one.
func Unquote(s string) (string, error) {
	v, rest, err := unquote(s)
	if err != nil {
		return "", err
	}
	if rest != "" {
		return "", fmt.Errorf("%w: text after the closing quote", ErrProtocol)
	}
	return v, nil
}

// unquote reads a quoted string at the start of s and returns it and the
// rest. The escapes are tor's (decode_escaped_string in tor's source, the
// QuotedString of [control-spec] section 2.1.1): \n \r \t \" \\ \',
// \x and two hex digits, or one to three octal digits (at most 255);
// anything else after a backslash, a NUL or a line feed is an error.
func unquote(s string) (string, string, error) {
	if s == "" || s[0] != '"' {
		return "", "", fmt.Errorf("%w: not a quoted string", ErrProtocol)
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			return b.String(), s[i+1:], nil
		case 0, '\n':
			return "", "", fmt.Errorf("%w: control character in a quoted string", ErrProtocol)
		case '\\':
			if i+1 >= len(s) {
				return "", "", fmt.Errorf("%w: bad escape", ErrProtocol)
			}
			i++
			switch e := s[i]; {
			case e == 'x' || e == 'X':
				if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
					return "", "", fmt.Errorf("%w: bad \\x escape", ErrProtocol)
				}
				b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
				i += 2
			case e >= '0' && e <= '7':
				n := int(e - '0')
				for k := 0; k < 2 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7'; k++ {
					i++
					n = n*8 + int(s[i]-'0')
				}
				if n > 255 {
					return "", "", fmt.Errorf("%w: octal escape over 255", ErrProtocol)
				}
				b.WriteByte(byte(n))
			case e == 'n':
				b.WriteByte('\n')
			case e == 'r':
				b.WriteByte('\r')
			case e == 't':
				b.WriteByte('\t')
			case e == '"' || e == '\\' || e == '\'':
				b.WriteByte(e)
			default:
				return "", "", fmt.Errorf("%w: bad escape", ErrProtocol)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("%w: unterminated quote", ErrProtocol)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// Bootstrap is tor's bootstrap status (STATUS_CLIENT BOOTSTRAP events and
// GETINFO status/bootstrap-phase).
type Bootstrap struct {
	Progress int    // 0-100
	Tag      string // e.g. "done"
	Summary  string // human readable
	Warning  string // set when Severity is WARN/ERR
	Severe   bool   // WARN or ERR
}

// ParseBootstrap parses "NOTICE BOOTSTRAP PROGRESS=50 TAG=... SUMMARY=\"...\"".
func ParseBootstrap(s string) (Bootstrap, error) {
	pos, kv, err := Args(s)
	if err != nil {
		return Bootstrap{}, err
	}
	if len(pos) < 2 || pos[1] != "BOOTSTRAP" {
		return Bootstrap{}, fmt.Errorf("%w: not a bootstrap status", ErrProtocol)
	}
	p, err := strconv.Atoi(kv["PROGRESS"])
	if err != nil || p < 0 || p > 100 {
		return Bootstrap{}, fmt.Errorf("%w: bad bootstrap progress", ErrProtocol)
	}
	b := Bootstrap{Progress: p, Tag: kv["TAG"], Summary: kv["SUMMARY"], Warning: kv["WARNING"]}
	b.Severe = pos[0] == "WARN" || pos[0] == "ERR"
	return b, nil
}

// CircuitEstablished reports whether a STATUS_CLIENT event's arguments are
// "NOTICE CIRCUIT_ESTABLISHED": tor built a circuit after a time it could
// not (at its bootstrap, and after its network was disabled or lost).
func CircuitEstablished(s string) bool {
	pos, _, err := Args(s)
	return err == nil && len(pos) >= 2 && pos[1] == "CIRCUIT_ESTABLISHED"
}

// HSDesc is an HS_DESC event: "ACTION ADDRESS AUTHTYPE HSDIR ...".
type HSDesc struct {
	Action  string // REQUESTED, UPLOAD, RECEIVED, UPLOADED, IGNORE, FAILED, CREATED
	Address string // onion address without ".onion" (or "UNKNOWN")
	Reason  string // for FAILED
}

// ParseHSDesc parses the arguments of an HS_DESC event.
func ParseHSDesc(s string) (HSDesc, error) {
	pos, kv, err := Args(s)
	if err != nil {
		return HSDesc{}, err
	}
	if len(pos) < 2 {
		return HSDesc{}, fmt.Errorf("%w: short HS_DESC event", ErrProtocol)
	}
	return HSDesc{Action: pos[0], Address: pos[1], Reason: kv["REASON"]}, nil
}

// ParseListeners parses GETINFO net/listeners/* values: space-separated
// quoted addresses such as "127.0.0.1:9050" "unix:/path".
func ParseListeners(s string) ([]string, error) {
	var out []string
	for len(s) > 0 {
		if s[0] == ' ' {
			s = s[1:]
			continue
		}
		if s[0] != '"' {
			e := strings.IndexByte(s, ' ')
			if e < 0 {
				e = len(s)
			}
			out = append(out, s[:e])
			s = s[e:]
		} else {
			v, rest, err := unquote(s)
			if err != nil {
				return nil, err
			}
			out, s = append(out, v), rest
		}
		if len(out) > 64 {
			return nil, fmt.Errorf("%w: too many listeners", ErrProtocol)
		}
	}
	return out, nil
}

// Stream is one line of GETINFO stream-status:
// "StreamID SP StreamStatus SP CircuitID SP Target".
type Stream struct {
	ID, Status, Circuit, Target string
}

// ParseStreamStatus parses the value of GETINFO stream-status.
func ParseStreamStatus(s string) ([]Stream, error) {
	var out []Stream
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 4 {
			return nil, fmt.Errorf("%w: bad stream-status line", ErrProtocol)
		}
		out = append(out, Stream{ID: f[0], Status: f[1], Circuit: f[2], Target: f[3]})
		if len(out) > 100000 {
			return nil, fmt.Errorf("%w: too many streams", ErrProtocol)
		}
	}
	return out, nil
}

// maxOnions bounds the onion services one GETINFO onions/* value may list.
const maxOnions = 4096

// ParseOnions parses the value of GETINFO onions/current (or
// onions/detached): onion addresses without ".onion", one a line (a single
// one inline). Anything that is not a v3 address is an error.
func ParseOnions(s string) (map[string]bool, error) {
	out := make(map[string]bool)
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSuffix(l, "\r")
		if l == "" {
			continue
		}
		if len(l) != 56 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz234567") != "" {
			return nil, fmt.Errorf("%w: not an onion address in an onions list", ErrProtocol)
		}
		out[l] = true
		if len(out) > maxOnions {
			return nil, fmt.Errorf("%w: too many onions", ErrProtocol)
		}
	}
	return out, nil
}
