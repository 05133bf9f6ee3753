package tui

import (
	"os"
	"path/filepath"
	"testing"
)

// docScreens are the golden views copied to docs/screens as text captures
// of the main screens.
var docScreens = []string{
	"create_mismatch", "unlock_typing", "conversations", "identities", "contacts", "chat",
	"chat_long", "add_bad_code", "add_qr", "verify_match", "settings", "requests",
	"help", "help_60", "locked", "panic_armed", "tor_bootstrapping", "tor_down",
}

// TestDocsScreens keeps docs/screens equal to the goldens (-update copies them).
func TestDocsScreens(t *testing.T) {
	dir := filepath.Join("..", "docs", "screens")
	for _, name := range docScreens {
		want, err := os.ReadFile(filepath.Join("testdata", name+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+".txt")
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./tui -update)", err)
		}
		if string(got) != string(want) {
			t.Errorf("%s is out of date: run go test ./tui -update", path)
		}
	}
}
