package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sottochat/sotto"
)

// An unknown contact's error gets the hint to list the contacts only when
// its message suggests none: "did you mean" already says what to type, and
// the list would only compete with it. Either way the exit code is 7, and a
// wrapped error is told apart the same way.
func TestUnknownContactHintOnlyWithoutSuggestion(t *testing.T) {
	const listHint = "hint: 'sotto contact list' shows your contacts"
	cases := []struct {
		name     string
		err      error
		wantHint bool
	}{
		{"no suggestion", &sotto.UnknownContactError{Name: "zed"}, true},
		{"suggestion", &sotto.UnknownContactError{Name: "Bob", Suggestion: "bob"}, false},
		{"wrapped suggestion", fmt.Errorf("send: %w", &sotto.UnknownContactError{Name: "bbo", Suggestion: "bob"}), false},
		{"bare sentinel", sotto.ErrUnknownContact, true},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		a := &app{ctx: context.Background(), stderr: &stderr}
		if code := a.report(c.err); code != exitNotFound {
			t.Errorf("%s: exit %d, want %d", c.name, code, exitNotFound)
		}
		out := stderr.String()
		if !strings.HasPrefix(out, c.err.Error()+"\n") && !strings.HasPrefix(out, "sotto: "+c.err.Error()+"\n") {
			t.Errorf("%s: stderr %q does not start with the error", c.name, out)
		}
		if got := strings.Contains(out, listHint); got != c.wantHint {
			t.Errorf("%s: hint to list the contacts printed: %v, want %v\n%s", c.name, got, c.wantHint, out)
		}
	}
}
