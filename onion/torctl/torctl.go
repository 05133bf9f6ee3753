// Package torctl implements the reply side of tor's control protocol
// ([control-spec] sections 2.3 and 4.1): reading bounded replies and
// asynchronous events from a control connection and parsing the few values
// Sotto reads (GETINFO key=value pairs, the version, bootstrap status, HS_DESC
// and listener lists). Every function treats its input as hostile: an
// external control port may be anything. Commands are written by package
// onion; authentication is done by bine.
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

// unquote reads a quoted string at the start of s and returns it and the rest.
func unquote(s string) (string, string, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 >= len(s) {
				return "", "", fmt.Errorf("%w: bad escape", ErrProtocol)
			}
			i++
			switch e := s[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("%w: unterminated quote", ErrProtocol)
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
