package keymap

import (
	"reflect"
	"testing"
)

// Every binding in the struct is listed in All (so the help overlay shows
// every key) and has a key and a help text.
func TestAllListsEveryBinding(t *testing.T) {
	k := Default()
	seen := map[string]bool{}
	for _, g := range k.All() {
		for _, b := range g {
			if len(b.Keys()) == 0 || b.Help().Key == "" || b.Help().Desc == "" {
				t.Errorf("binding %+v lacks keys or help", b.Help())
			}
			seen[b.Help().Desc] = true
		}
	}
	fields := reflect.TypeFor[KeyMap]().NumField()
	if len(seen) != fields {
		t.Errorf("All lists %d distinct bindings, KeyMap has %d", len(seen), fields)
	}
}
