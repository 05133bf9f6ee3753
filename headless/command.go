package headless

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Limits on what a script may send. A line longer than MaxLineBytes is
// discarded whole and answered with an error event.
const (
	MaxLineBytes = 64 << 10 // one command line, newline excluded
	MaxTagBytes  = 128      // the optional correlation tag echoed in the reply
	MaxNameBytes = 256      // identity names, petnames, request IDs
	MaxCodeBytes = 1024     // a contact code
	// MaxSeconds bounds the "seconds" of a timer command so that it always
	// fits a time.Duration; the engine applies its own, narrower range.
	MaxSeconds = 1 << 32
)

// Command is one decoded line of input. Which fields a command takes is
// listed in docs/headless.md and enforced by [ParseCommand]: a field that
// does not belong to the command is an error, so a typo cannot pass silently.
type Command struct {
	Cmd       string `json:"cmd"`
	Tag       string `json:"tag,omitempty"`
	Identity  string `json:"identity,omitempty"`
	Contact   string `json:"contact,omitempty"`
	Text      string `json:"text,omitempty"`
	Code      string `json:"code,omitempty"`
	Request   string `json:"request,omitempty"`
	Seconds   *int64 `json:"seconds,omitempty"`
	Keep      *bool  `json:"keep,omitempty"`
	Ephemeral bool   `json:"ephemeral,omitempty"`
	Open      bool   `json:"open,omitempty"`
	Force     bool   `json:"force,omitempty"` // mailbox_unpair (mailbox.go)

	// Files (file.go).
	File         string `json:"file,omitempty"`
	Path         string `json:"path,omitempty"`
	Name         string `json:"name,omitempty"`
	KeepMetadata bool   `json:"keep_metadata,omitempty"`
	Overwrite    bool   `json:"overwrite,omitempty"`
	MaxSize      *int64 `json:"max_size,omitempty"`
	AutoAccept   *int64 `json:"auto_accept,omitempty"`
}

// field names, as they appear in JSON.
const (
	fIdentity  = "identity"
	fContact   = "contact"
	fText      = "text"
	fCode      = "code"
	fRequest   = "request"
	fSeconds   = "seconds"
	fKeep      = "keep"
	fEphemeral = "ephemeral"
	fOpen      = "open"
	fForce     = "force"
)

// spec says which fields a command requires and which it also accepts.
type spec struct {
	required []string
	optional []string
}

// commands is the table of every command the headless mode understands.
var commands = map[string]spec{
	"ping":           {},
	"quit":           {},
	"status":         {},
	"identities":     {},
	"new_identity":   {required: []string{fIdentity}, optional: []string{fEphemeral, fOpen}},
	"burn":           {required: []string{fIdentity}},
	"card":           {required: []string{fIdentity}},
	"contacts":       {required: []string{fIdentity}},
	"add_contact":    {required: []string{fIdentity, fContact, fCode}},
	"remove_contact": {required: []string{fIdentity, fContact}},
	"safety_code":    {required: []string{fIdentity, fContact}},
	"verify":         {required: []string{fIdentity, fContact}},
	"messages":       {required: []string{fIdentity, fContact}},
	"read":           {required: []string{fIdentity, fContact}},
	"send":           {required: []string{fIdentity, fContact, fText}},
	"timer":          {required: []string{fIdentity, fContact, fSeconds}},
	"history":        {required: []string{fIdentity, fContact, fKeep}},
	"requests":       {required: []string{fIdentity}},
	"accept":         {required: []string{fIdentity, fRequest, fContact}},
	"reject":         {required: []string{fIdentity, fRequest}},
	"wait":           {required: []string{fIdentity}, optional: []string{fContact, fSeconds}},
	// Files (file.go).
	"send_file":   {required: []string{fIdentity, fContact, fPath}, optional: []string{fName, fKeepMetadata}},
	"accept_file": {required: []string{fFile}},
	"reject_file": {required: []string{fFile}},
	"cancel_file": {required: []string{fFile}},
	"save_file":   {required: []string{fFile, fPath}, optional: []string{fOverwrite}},
	"files":       {required: []string{fIdentity, fContact}},
	"file_limits": {optional: []string{fMaxSize, fAutoAccept}},
}

// CommandError is the error of a line that is not a valid command. Tag is
// the line's tag when it could be read (see [ParseCommand]), so that the
// error event still reaches the script's pending request.
type CommandError struct {
	Cmd string
	Tag string
	Msg string
}

func (e *CommandError) Error() string {
	if e.Cmd != "" {
		return "headless: " + e.Cmd + ": " + e.Msg
	}
	return "headless: " + e.Msg
}

// ParseCommand decodes and validates one line (without its newline). The
// line must be exactly one JSON object with a known "cmd", the fields that
// command requires, and no others. Every error is a *CommandError, whose Tag
// is the line's "tag" whenever that could be read: a string of at most
// MaxTagBytes, a member of a line that is a JSON object up to there at
// least, even if it is cut short, has a field too many or one of the wrong
// type after it.
func ParseCommand(line []byte) (Command, error) {
	c, err := parseCommand(line)
	var ce *CommandError
	if errors.As(err, &ce) && ce.Tag == "" && len(line) <= MaxLineBytes {
		ce.Tag = tagOf(line)
	}
	return c, err
}

// tagOf reads the top-level "tag" of a line that is not a valid command,
// member by member until the line stops being JSON: "" when there is none
// before that point, or it is not a string of at most MaxTagBytes of valid
// UTF-8. Of two tags, the last counts, as in a valid line.
func tagOf(line []byte) string {
	if !utf8.Valid(line) {
		return "" // json would turn bad bytes into U+FFFD: not the tag sent
	}
	d := json.NewDecoder(bytes.NewReader(line))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	tag := ""
	for {
		k, err := d.Token()
		key, ok := k.(string)
		if err != nil || !ok {
			return tag // the end of the object, or of what is JSON
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return tag
		}
		if key != "tag" {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil && len(s) <= MaxTagBytes {
			tag = s
		} else {
			tag = ""
		}
	}
}

func parseCommand(line []byte) (Command, error) {
	var c Command
	if len(line) > MaxLineBytes {
		return c, &CommandError{Msg: fmt.Sprintf("line longer than %d bytes", MaxLineBytes)}
	}
	if !utf8.Valid(line) {
		return c, &CommandError{Msg: "line is not valid UTF-8"}
	}
	// First pass: which keys are present (and that it is an object at all).
	var present map[string]json.RawMessage
	d0 := json.NewDecoder(bytes.NewReader(line))
	if err := d0.Decode(&present); err != nil || present == nil {
		// A line that starts as an object is meant as a command: "not a
		// JSON object" would send its writer looking in the wrong place.
		// The Decoder says a line ends early with io.ErrUnexpectedEOF and
		// only so (a write split in two, a newline inside a string); a
		// SyntaxError, even at the last byte, is a bad character there
		// ({"cmd":x, a missing colon or comma), and its Offset and text
		// (the character in Go's quoted form, escaped again by the reply's
		// JSON) let the writer find it.
		if t := bytes.TrimLeft(line, " \t\r\n"); len(t) > 0 && t[0] == '{' {
			var se *json.SyntaxError
			switch {
			case errors.Is(err, io.ErrUnexpectedEOF):
				return c, &CommandError{Msg: "the line ends before its JSON object does (cut off?): each command must be one whole JSON object on one line"}
			case errors.As(err, &se):
				return c, &CommandError{Msg: fmt.Sprintf("the line is not valid JSON after byte %d (%v): each command is one JSON object such as {\"cmd\":\"ping\"}", se.Offset, err)}
			}
		}
		return c, &CommandError{Msg: "not a JSON object; every line is one object such as {\"cmd\":\"ping\"}"}
	}
	if _, err := d0.Token(); err != io.EOF {
		return c, &CommandError{Msg: "trailing data after the JSON object; one object per line"}
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute):
			return Command{}, &CommandError{Cmd: safeName(present), Msg: fmt.Sprintf("field %q has the wrong type", ute.Field)}
		default:
			return Command{}, &CommandError{Cmd: safeName(present), Msg: "unknown field or bad JSON: " + trimJSONErr(err)}
		}
	}
	if len(c.Tag) > MaxTagBytes {
		return Command{}, &CommandError{Cmd: safeName(present), Msg: fmt.Sprintf("tag longer than %d bytes", MaxTagBytes)}
	}
	fail := func(format string, args ...any) (Command, error) {
		return Command{}, &CommandError{Cmd: c.Cmd, Tag: c.Tag, Msg: fmt.Sprintf(format, args...)}
	}
	if c.Cmd == "" {
		return fail("missing \"cmd\"")
	}
	sp, ok := lookupCommand(c.Cmd)
	if !ok {
		return Command{Tag: c.Tag}, &CommandError{Cmd: "", Tag: c.Tag, Msg: fmt.Sprintf("unknown command %q (see docs/headless.md)", clip(c.Cmd))}
	}
	allowed := map[string]bool{"cmd": true, "tag": true}
	for _, f := range sp.required {
		allowed[f] = true
		if _, ok := present[f]; !ok {
			return fail("missing %q", f)
		}
		if string(present[f]) == "null" {
			return fail("%q must not be null", f)
		}
	}
	for _, f := range sp.optional {
		allowed[f] = true
	}
	for k := range present {
		if !allowed[k] {
			return fail("field %q does not apply to this command", clip(k))
		}
	}
	for _, s := range []struct {
		name string
		v    string
		max  int
	}{{fIdentity, c.Identity, MaxNameBytes}, {fContact, c.Contact, MaxNameBytes}, {fRequest, c.Request, MaxNameBytes}, {fCode, c.Code, MaxCodeBytes}, {fText, c.Text, MaxLineBytes}} {
		if _, ok := present[s.name]; ok && s.v == "" {
			return fail("%q must not be empty", s.name)
		}
		if len(s.v) > s.max {
			return fail("%q longer than %d bytes", s.name, s.max)
		}
	}
	if c.Seconds != nil && c.Cmd == "wait" && (*c.Seconds < 1 || *c.Seconds > MaxWaitSeconds) {
		return fail("\"seconds\" out of range: a wait lasts 1 to %d seconds", MaxWaitSeconds)
	}
	if c.Seconds != nil && (*c.Seconds < 0 || *c.Seconds > MaxSeconds) {
		return fail("\"seconds\" out of range (0 turns the timer off)")
	}
	return c, nil
}

// MarshalLine encodes c as one line, without the newline. ParseCommand of
// the result gives c back.
func (c Command) MarshalLine() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func safeName(present map[string]json.RawMessage) string {
	var s string
	if raw, ok := present["cmd"]; ok && json.Unmarshal(raw, &s) == nil {
		if _, known := lookupCommand(s); known {
			return s
		}
	}
	return ""
}

// clip shortens script-chosen text echoed back in an error.
func clip(s string) string { return clipN(s, 40) }

func clipN(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "..."
		}
	}
	return ""
}

func trimJSONErr(err error) string {
	s := err.Error()
	s = trimPrefix(s, "json: ")
	return clipN(s, 120)
}

func trimPrefix(s, p string) string {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
