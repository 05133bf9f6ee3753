package main

import (
	"strings"
	"testing"
)

func TestFileUsage(t *testing.T) {
	for _, args := range [][]string{{"file", "--help"}, {"file", "send", "--help"}, {"help", "file"}} {
		code, out, errs := call(args...)
		if code != 0 || errs != "" || !strings.HasPrefix(out, "Usage: sotto file") || !strings.Contains(out, "Examples:") || !strings.Contains(out, "hint:") {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"file"}, "needs a sub-command"},
		{[]string{"file", "frob"}, "unknown sub-command"},
		{[]string{"file", "send", "a", "b"}, "IDENTITY CONTACT PATH"},
		{[]string{"file", "accept", "not-an-id"}, "32 hex digits"},
		{[]string{"file", "save", "00112233445566778899aabbccddeeff"}, "FILE PATH"},
		{[]string{"file", "limits", "--max", "lots"}, "a size is"},
	} {
		code, _, errs := call(c.args...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, errs, exitUsage, c.want)
		}
	}
}
