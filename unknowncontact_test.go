package sotto

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestUnknownContactSaysWhichAndSuggests: a call naming a contact the
// identity lacks fails with an error that is still ErrUnknownContact, names
// what was asked for (quoted, cut short) and asks about the obvious match,
// and the suggested contact gets nothing: no message is stored for it.
func TestUnknownContactSaysWhichAndSuggests(t *testing.T) {
	n := newMemNet()
	a, b, c := startPeer(t, n, nil), startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "work", IdentityOptions{})
	mustID(t, b, "b", IdentityOptions{})
	mustID(t, c, "c", IdentityOptions{})
	befriend(t, a, "work", "me", b, "b", "bob")
	befriend(t, a, "work", "me", c, "c", "editor-night")
	ctx := context.Background()

	cases := []struct {
		name, typed string
		want        string
		suggestion  string
	}{
		{"case", "Bob", `sotto: no contact named "Bob" (did you mean "bob"?)`, "bob"},
		{"prefix", "edit", `sotto: no contact named "edit" (did you mean "editor-night"?)`, "editor-night"},
		{"typo", "editro-night", `sotto: no contact named "editro-night" (did you mean "editor-night"?)`, "editor-night"},
		{"nothing near", "zed", `sotto: no contact named "zed"`, ""},
		{"bidi and escape quoted", "b\u202eob\x1b[2J", `sotto: no contact named "b\u202eob\x1b[2J"`, ""},
		{"long cut", strings.Repeat("z", 300), `sotto: no contact named "` + strings.Repeat("z", 64) + `"...`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.e.Send(ctx, "work", tc.typed, "for bob only")
			if !errors.Is(err, ErrUnknownContact) {
				t.Fatalf("Send to %q: %v, want ErrUnknownContact", tc.typed, err)
			}
			var uc *UnknownContactError
			if !errors.As(err, &uc) || uc.Name != tc.typed || uc.Suggestion != tc.suggestion {
				t.Fatalf("error %#v, want Name %q Suggestion %q", err, tc.typed, tc.suggestion)
			}
			if err.Error() != tc.want {
				t.Fatalf("error %q\nwant  %q", err, tc.want)
			}
			// Every other lookup by name says the same.
			if _, err := a.e.Messages("work", tc.typed); err == nil || err.Error() != tc.want {
				t.Fatalf("Messages: %v", err)
			}
		})
	}
	for _, name := range []string{"bob", "editor-night"} {
		ms, err := a.e.Messages("work", name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Text == "for bob only" {
				t.Fatalf("a send to a mistyped name reached %q: %+v", name, m)
			}
		}
	}
}
